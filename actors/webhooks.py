"""Webhook delivery: sign, POST, log the attempt, and schedule the next one with backoff.

A message names a delivery and the attempt it expects to make; a stale or duplicate message (the
sweep re-sent it, the broker redelivered it) finds a different attempt count, or the delivery lock
taken, and does nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy

import dramatiq
import httpcore
import httpx
from dramatiq.common import dq_name
from redis.asyncio import Redis
from sqlalchemy import bindparam, insert, update
from sqlmodel import col, select

from actors.broker import NAMESPACE, QUEUE_WEBHOOKS, bell_key, encoded, queue_lua
from actors.locks import LockTimeout, hold
from actors.runtime import runtime
from models.base import iso, table, utcnow
from models.errors import InvalidInput
from models.gathering import Gatherer, per_loop
from models.redis_client import Lua
from models.signing import sign
from models.tenancy import KEY_MODES
from models.urlguard import Unresolved, allowed_addresses, check_url
from models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    retry_delay,
    signing_secrets,
)

RETRYABLE = {408, 429}
REFUSED = "refused: "
USER_AGENT = "WOWsino-Webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer read: its status is all a delivery needs


class _Allowed(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the URL guard allows in *mode*, those its host name resolves to for this very
    connection: a name re-pointed at a private address between the check before an attempt and its connection
    (DNS rebinding) is refused there too. TLS still names the host (SNI, certificate)."""

    def __init__(self, mode: str) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._mode = mode

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        *others, last = await allowed_addresses(host, self._mode)
        for address in others:
            try:
                return await self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await self._backend.connect_tcp(str(last), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks go to hosts")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _new_client(mode: str, timeout_s: float) -> httpx.AsyncClient:
    """The client every delivery of a worker process in *mode* goes through: making one costs about 20 ms
    of CPU (its TLS context), and it keeps connections to receivers open between deliveries (one per
    delivery in flight, up to 100: httpx keeps 20 by default, and closed the others after each POST). It
    connects only to the addresses the URL guard allows in *mode* (``_Allowed``). Redirects are not followed,
    and no cookie is kept: a receiver's cookie never goes to another operator's receiver."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    transport = httpx.AsyncHTTPTransport(limits=limits)
    transport._pool = httpcore.AsyncConnectionPool(  # httpx takes no network backend: its pool is made again
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Allowed(mode),
    )
    return httpx.AsyncClient(
        timeout=timeout_s,
        follow_redirects=False,
        transport=transport,
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
    )


def _client_per_loop(mode: str) -> Callable[[], httpx.AsyncClient]:
    return per_loop(lambda: _new_client(mode, runtime().settings.webhook_timeout_s))


_clients = {mode: _client_per_loop(mode) for mode in KEY_MODES}


# KEYS: the webhooks queue's hash, list and bell; ARGV: each message's id and data, in turn.
_QUEUE_EACH = Lua("for i = 1, #ARGV, 2 do\n" + queue_lua(1, "ARGV[i]", "ARGV[i + 1]") + "end\n")


async def send_deliveries(redis: Redis, delivery_ids: list[str]) -> None:
    """Queue the first attempt of each delivery; called only after their transaction committed. Should
    Redis not take them, the outbox sweep sends them."""
    await queue_attempts(redis, first_attempts(delivery_ids))


def first_attempts(delivery_ids: Sequence[str]) -> list[tuple[str, int]]:
    return [(delivery_id, 0) for delivery_id in delivery_ids]


async def queue_attempts(redis: Redis, attempts: Sequence[tuple[str, int]], *, delay_ms: int = 0) -> None:
    """Queue ``(delivery id, attempt number)`` messages, all in one script call that rings the queue's bell;
    with *delay_ms*, on the delay queue, due that much later (as ``send_with_options(delay=...)`` queues them,
    without blocking the caller's event loop)."""
    if not attempts:
        return
    eta_ms = int(time.time() * 1000) + delay_ms if delay_ms else None
    args: list[str | bytes] = []
    for delivery_id, attempt in attempts:
        message_id = str(uuid.uuid4())
        args += [message_id, encoded(deliver_webhook, message_id, (delivery_id, attempt), {}, eta_ms=eta_ms)]
    queue = f"{NAMESPACE}:{QUEUE_WEBHOOKS if eta_ms is None else dq_name(QUEUE_WEBHOOKS)}"
    await _QUEUE_EACH(redis, [f"{queue}.msgs", queue, bell_key(queue)], args)


@dramatiq.actor(queue_name=QUEUE_WEBHOOKS, max_retries=10, min_backoff=500, max_backoff=30000)
async def deliver_webhook(delivery_id: str, attempt: int) -> None:
    """Make attempt number *attempt* (0-based) of a delivery, if it is still due."""
    rt = runtime()
    try:
        async with hold(rt.redis, f"delivery:{delivery_id}", ttl_s=rt.settings.webhook_timeout_s + 5, wait_s=0.1):
            await _attempt(delivery_id, attempt)
    except LockTimeout:
        return  # another run is making this attempt


@dataclass
class _Lookup:
    """The delivery an attempt is for, and what the group's read found of it."""

    delivery_id: str
    found: tuple[WebhookDelivery, WebhookEndpoint, WebhookEvent] | None = None


@dataclass(frozen=True)
class _Made:
    """An attempt made, as the group record writes it."""

    delivery_id: str
    endpoint_id: str
    attempt: int
    status_code: int | None
    error: str | None
    latency_ms: int
    status: str
    attempted_at: datetime
    next_attempt_at: datetime
    gave_up_since: datetime | None = None  # when a delivery out of retries began: its endpoint may have failed


_DUE = (
    select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
    .join(WebhookEndpoint, col(WebhookEndpoint.id) == WebhookDelivery.endpoint_id)
    .join(WebhookEvent, col(WebhookEvent.id) == WebhookDelivery.event_id)
    .where(col(WebhookDelivery.id).in_(bindparam("ids", expanding=True)))
)
_deliveries = table(WebhookDelivery).c
_RECORD = (  # a rerun that already recorded this attempt matches nothing
    update(table(WebhookDelivery))
    .where(_deliveries.id == bindparam("delivery"), _deliveries.attempt_count == bindparam("attempt"))
    .values(status=bindparam("status"), attempt_count=bindparam("attempt") + 1, next_attempt_at=bindparam("next"))
)
_endpoints, _attempts = table(WebhookEndpoint).c, table(WebhookAttempt).c
_FAILED = (  # an active endpoint that has answered no attempt with a 2xx since then
    update(table(WebhookEndpoint))
    .where(
        _endpoints.id == bindparam("endpoint"),
        _endpoints.status == "active",
        ~select(_attempts.id)
        .join(table(WebhookDelivery), _deliveries.id == _attempts.delivery_id)
        .where(
            _deliveries.endpoint_id == _endpoints.id,
            _attempts.attempted_at >= bindparam("since"),
            _attempts.status_code.between(200, 299),
        )
        .exists(),
    )
    .values(status="failed")
)


async def _look_up(lookups: list[_Lookup]) -> None:
    """The delivery, endpoint and event of every attempt waiting, in one read."""
    async with runtime().db.reader() as session:
        rows = await session.execute(_DUE, {"ids": sorted({lookup.delivery_id for lookup in lookups})})
        found = {delivery.id: (delivery, endpoint, event) for delivery, endpoint, event in rows}
    for lookup in lookups:
        lookup.found = found.get(lookup.delivery_id)


async def _record(made: list[_Made]) -> None:
    """Every attempt made meanwhile, in one write transaction: its log row, and its delivery moved on."""
    async with runtime().db.transaction() as session:
        await session.execute(
            insert(table(WebhookAttempt)),
            [
                {
                    "delivery_id": m.delivery_id,
                    "attempted_at": m.attempted_at,
                    "status_code": m.status_code,
                    "error": m.error,
                    "latency_ms": m.latency_ms,
                }
                for m in made
            ],
        )
        await session.execute(
            _RECORD,
            [
                {"delivery": m.delivery_id, "attempt": m.attempt, "status": m.status, "next": m.next_attempt_at}
                for m in made
            ],
        )
        if gone := sorted({m.endpoint_id for m in made if m.status_code == 410}):
            await session.execute(
                update(WebhookEndpoint).where(col(WebhookEndpoint.id).in_(gone)).values(status="paused")
            )
        if gave_up := [{"endpoint": m.endpoint_id, "since": m.gave_up_since} for m in made if m.gave_up_since]:
            await session.execute(_FAILED, gave_up)


_lookups = per_loop(lambda: Gatherer(_look_up))
_records = per_loop(lambda: Gatherer(_record))


async def _attempt(delivery_id: str, attempt: int) -> None:
    """Make the attempt if it is still due. The lookups and records of the attempts a process makes at the
    same time share one read and one write transaction."""
    rt = runtime()
    lookup = _Lookup(delivery_id)
    await _lookups().add([lookup])
    if lookup.found is None:
        return
    delivery, endpoint, event = lookup.found
    if (
        delivery.status != "pending"
        or delivery.attempt_count != attempt
        or endpoint.status != "active"
        or endpoint.deleted_at is not None
    ):
        return
    status_code, error, latency_ms = await _post(endpoint, event)
    now = utcnow()
    ok = status_code is not None and 200 <= status_code < 300
    refused = error is not None and error.startswith(REFUSED)  # the URL guard: retrying cannot help
    retry = not ok and not refused and (status_code is None or status_code in RETRYABLE or status_code >= 500)
    delay = retry_delay(attempt + 1, rt.settings.webhook_retry_schedule_s, rt.settings.webhook_retry_repeat_s)
    next_at = now + timedelta(seconds=delay)
    gave_up = retry and next_at > delivery.created_at + timedelta(seconds=rt.settings.webhook_retry_horizon_s)
    retry = retry and not gave_up
    made = _Made(
        delivery_id=delivery.id,
        endpoint_id=endpoint.id,
        attempt=attempt,
        status_code=status_code,
        error=error,
        latency_ms=latency_ms,
        status="succeeded" if ok else "pending" if retry else "failed",
        attempted_at=now,
        next_attempt_at=next_at if retry else now,
        gave_up_since=delivery.created_at if gave_up else None,
    )
    await _records().add([made])
    if retry:
        await queue_attempts(rt.redis, [(delivery.id, attempt + 1)], delay_ms=int(delay * 1000))


async def _post(endpoint: WebhookEndpoint, event: WebhookEvent) -> tuple[int | None, str | None, int]:
    """POST the signed event; ``(status code, error, latency ms)``. Redirects are not followed. The whole attempt
    (resolving, connecting, sending, the answer) has the client's timeout: httpx times each read on its own, and
    a receiver trickling its answer a byte at a time would hold the attempt, and its connection, for ever."""
    started = time.monotonic()
    client = _clients[endpoint.mode]()
    try:
        async with asyncio.timeout(client.timeout.read):
            await check_url(endpoint.url, endpoint.mode)
            return await _signed_post(client, endpoint, event), None, _ms(started)
    except Unresolved as unresolved:  # perhaps for a moment: retried, as a connection error is
        return None, f"ConnectError: {unresolved.detail}", _ms(started)
    except InvalidInput as refused:
        return None, f"{REFUSED}{refused.detail}", _ms(started)
    except (httpx.TimeoutException, TimeoutError):
        return None, "timeout", _ms(started)
    except httpx.HTTPError as failure:
        return None, f"{type(failure).__name__}: {failure}"[:500], _ms(started)


async def _signed_post(client: httpx.AsyncClient, endpoint: WebhookEndpoint, event: WebhookEvent) -> int:
    """The receiver's status code for the signed event. Of its answer's body at most ``MAX_ANSWER_BYTES`` are
    read, as they come (no decompression): past them the connection is dropped rather than kept."""
    timestamp = int(time.time())
    body = json.dumps(
        {"id": event.id, "type": event.type, "delivered_at": iso(utcnow().replace(microsecond=0)), "data": event.data},
        separators=(",", ":"),
    )
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret, event.id, timestamp, body) for secret in signing_secrets(endpoint, utcnow())
        ),
    }
    async with client.stream("POST", endpoint.url, content=body, headers=headers) as response:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > MAX_ANSWER_BYTES:
                break
        return response.status_code


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
