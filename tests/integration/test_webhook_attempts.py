"""Webhook attempts a worker process makes at the same time share their reads and their writes, on a real
database, a real Redis and a real receiver."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from dramatiq.common import dq_name
from sqlalchemy import event
from sqlmodel import col, select

from actors import webhooks
from actors.broker import NAMESPACE, QUEUE_WEBHOOKS
from actors.runtime import Runtime
from config.settings import load_settings
from models.db import Database
from models.redis_client import connect
from models.signing import new_secret
from models.webhooks import JITTER, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.support.receiver import receiver

ATTEMPTS = 8


def test_attempts_made_together_share_one_lookup_and_few_records(
    url: str, redis_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    begun: list[str] = []  # the transactions begun (reads and writes share one engine on PostgreSQL)
    for engine in {db.read_engine, db.write_engine}:
        event.listen(engine.sync_engine, "begin", lambda connection: begun.append("begin"))
    settings = load_settings({"DATABASE_URL": url, "REDIS_URL": redis_url})

    async def scenario(hook_url: str) -> tuple[list[str], list[WebhookDelivery], list[WebhookAttempt]]:
        redis = connect(redis_url)
        monkeypatch.setattr(webhooks, "runtime", lambda: Runtime(settings, db, redis))
        ids = await _deliveries(db, hook_url, ATTEMPTS)
        begun.clear()
        await asyncio.gather(*(webhooks._attempt(delivery_id, 0) for delivery_id in ids))
        made = list(begun)
        async with db.reader() as session:
            deliveries = (
                await session.execute(select(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids)))
            ).scalars()
            attempts = (await session.execute(select(WebhookAttempt))).scalars()
            found = list(deliveries), list(attempts)
        await redis.aclose()
        return made, *found

    with receiver(together=ATTEMPTS) as hooks:  # the POSTs come back together
        made, deliveries, attempts = asyncio.run(scenario(hooks.url))
        received = hooks.wait_for(ATTEMPTS)
    assert sorted(r.headers["webhook-id"] for r in received) == [f"evt_{n}" for n in range(ATTEMPTS)]
    # one read for the eight lookups, and for the records the writes of the POSTs that came back while the
    # previous write ran (one to three): each attempt on its own took a read and a write of its own (16)
    assert len(made) <= 1 + ATTEMPTS // 2, made
    assert {(d.status, d.attempt_count) for d in deliveries} == {("succeeded", 1)}
    assert sorted(a.delivery_id for a in attempts) == sorted(d.id for d in deliveries)
    assert {a.status_code for a in attempts} == {200}


def test_a_retry_is_queued_without_holding_up_the_event_loop(
    url: str, redis_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While Redis is slow to take a failed attempt's retry, the worker's event loop goes on with the other
    deliveries: here, the test itself, which sees the attempt recorded while its retry still waits for Redis.
    A blocking send held the loop until Redis answered."""
    settings = load_settings({"DATABASE_URL": url, "REDIS_URL": redis_url})

    async def scenario(hook_url: str) -> tuple[bool, int, list[bytes], list[bytes]]:
        redis, admin = connect(redis_url), connect(redis_url)
        monkeypatch.setattr(webhooks, "runtime", lambda: Runtime(settings, db, redis))
        [delivery_id] = await _deliveries(db, hook_url, 1)
        queue, delayed = f"{NAMESPACE}:{QUEUE_WEBHOOKS}", f"{NAMESPACE}:{dq_name(QUEUE_WEBHOOKS)}"
        await admin.execute_command("CLIENT", "PAUSE", 4000, "WRITE")  # scripts wait until UNPAUSE
        attempt = asyncio.create_task(webhooks._attempt(delivery_id, 0))
        while not await _attempt_logged(db) and not attempt.done():
            await asyncio.sleep(0.01)
        waiting = not attempt.done()
        queued_meanwhile = await admin.llen(delayed)
        await admin.execute_command("CLIENT", "UNPAUSE")
        await attempt
        found = await admin.lrange(delayed, 0, -1), await admin.lrange(queue, 0, -1)
        retries = [await admin.hget(f"{delayed}.msgs", message_id) or b"" for message_id in found[0]]
        await redis.aclose()
        await admin.aclose()
        return waiting, queued_meanwhile, retries, found[1]

    started_ms = time.time() * 1000
    with receiver([503]) as hooks:
        waiting, queued_meanwhile, retries, undelayed = asyncio.run(scenario(hooks.url))
    assert waiting and queued_meanwhile == 0  # the loop ran on while Redis held the retry
    assert undelayed == []
    [retry] = [json.loads(data) for data in retries]
    assert retry["queue_name"] == dq_name(QUEUE_WEBHOOKS) and retry["args"][1] == 1
    first_delay_ms = settings.webhook_retry_schedule_s[0] * 1000 * (1 - JITTER)
    assert retry["options"]["eta"] >= started_ms + first_delay_ms  # due after the schedule's first delay


async def _deliveries(db: Database, hook_url: str, count: int) -> list[str]:
    """*count* deliveries, each of its own event, to one live subscription at *hook_url*."""
    async with db.transaction() as session:
        endpoint = WebhookEndpoint(tenant_id="t", mode="test", url=hook_url, events=["*"], secret=new_secret())
        session.add(endpoint)
        events = [
            WebhookEvent(id=f"evt_{n}", tenant_id="t", mode="test", type="player.created", data={"n": n})
            for n in range(count)
        ]
        session.add_all(events)
        await session.flush()
        created = [WebhookDelivery(endpoint_id=endpoint.id, event_id=e.id) for e in events]
        session.add_all(created)
    return [delivery.id for delivery in created]


async def _attempt_logged(db: Database) -> bool:
    async with db.reader() as session:
        return (await session.execute(select(WebhookAttempt))).first() is not None
