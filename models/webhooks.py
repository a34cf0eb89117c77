"""Webhook subscriptions, the event outbox and the delivery log.

``emit_event`` runs inside the business transaction: it stores the event and one pending delivery
per matching subscription (the outbox), so an outcome and its announcement commit together; an event
no subscription matches is not stored. Actors send deliveries after the commit; the scheduler's sweep
re-sends any whose message was lost.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.base import UTCDateTime, created_field, id_field, iso, new_id, table, utcnow
from models.db import transaction_memo
from models.errors import InvalidInput, NotFound
from models.signing import new_secret
from models.statements import Batch, Check, insert_rows

EVENT_TYPES = frozenset(
    {
        "lootbox.opened",
        "raffle.drawn",
        "jackpot.dropped",
        "mini_game.played",
        "tournament.closed",
        "journey.completed",
        "player.created",
    }
)
JITTER = 0.1


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    id: str = id_field()
    tenant_id: str = Field(max_length=36, index=True)
    mode: str = Field(max_length=8)
    url: str = Field(max_length=2048)
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=80)
    previous_secret: str | None = Field(default=None, max_length=80)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="active", max_length=8)  # active, paused, or failed (set by the delivery workers)
    created_at: datetime = created_field()
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEvent(SQLModel, table=True):
    __tablename__ = "webhook_events"
    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    type: str = Field(max_length=40)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_field()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)
    id: str = id_field()
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=36, index=True)
    event_id: str = Field(foreign_key="webhook_events.id", max_length=40)
    status: str = Field(default="pending", max_length=10, index=True)
    attempt_count: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    created_at: datetime = created_field()


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", max_length=36, index=True)
    attempted_at: datetime = created_field()
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    latency_ms: int


def check_events(events: Sequence[str]) -> list[str]:
    if not events:
        raise InvalidInput("subscribe to at least one event", field="events")
    for pattern in events:
        if (
            pattern != "*"
            and pattern not in EVENT_TYPES
            and not (pattern.endswith(".*") and any(kind.startswith(pattern[:-1]) for kind in EVENT_TYPES))
        ):
            raise InvalidInput(f"unknown event {pattern!r}", field="events")
    return sorted(set(events))


def matches(patterns: Sequence[str], event_type: str) -> bool:
    return any(p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns)


def retry_delay(attempts_made: int, schedule: Sequence[float], repeat_s: float) -> float:
    """Seconds to wait before the next attempt after *attempts_made* failures, with ±10% jitter."""
    base = schedule[attempts_made - 1] if attempts_made <= len(schedule) else repeat_s
    return base * random.uniform(1 - JITTER, 1 + JITTER)


ROTATION_OVERLAP = timedelta(hours=24)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets to sign with: the current one, and the previous one for 24 hours after a rotation."""
    secrets_ = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets_.append(endpoint.previous_secret)
    return secrets_


def rotate_secret(endpoint: WebhookEndpoint, now: datetime) -> None:
    """A new signing secret; the old one keeps verifying (both signatures are sent) for 24 hours."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = new_secret()


def endpoint_view(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "status": endpoint.status,
        "mode": endpoint.mode,
        "created_at": iso(endpoint.created_at),
    }
    if with_secret:
        view["signing_secret"] = endpoint.secret
    if endpoint.previous_secret_expires_at is not None:
        view["previous_secret_expires_at"] = iso(endpoint.previous_secret_expires_at)
    return view


async def create_endpoint(
    session: AsyncSession, *, tenant_id: str, mode: str, url: str, events: list[str]
) -> WebhookEndpoint:
    """A new subscription; *url* has passed ``models.urlguard.check_url``, before the transaction began."""
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id, mode=mode, url=url, events=check_events(events), secret=new_secret()
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def get_endpoint(session: AsyncSession, *, tenant_id: str, mode: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = (
        await session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.tenant_id == tenant_id,
                WebhookEndpoint.mode == mode,
                col(WebhookEndpoint.deleted_at).is_(None),
            )
        )
    ).scalar_one_or_none()
    if endpoint is None:
        raise NotFound(f"no webhook {endpoint_id!r}")
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    url: str | None,
    events: list[str] | None,
    status: str | None,
) -> None:
    if url is not None:  # checked by the caller (``models.urlguard.check_url``), before the transaction began
        endpoint.url = url
    if events is not None:
        endpoint.events = check_events(events)
    if status is not None:
        if status not in {"active", "paused"}:
            raise InvalidInput("must be active or paused", field="status")
        endpoint.status = status
    await session.flush()


async def emit_event(session: AsyncSession, *, tenant_id: str, mode: str, type: str, data: dict[str, Any]) -> list[str]:
    """Store an event and a pending delivery per endpoint it reaches (nothing when none does); returns the
    delivery ids."""
    return await emit_events(session, [Announcement(tenant_id, mode, type, data)])


@dataclass(frozen=True)
class Announcement:
    """An event to announce to a tenant's endpoints in one mode."""

    tenant_id: str
    mode: str
    type: str
    data: dict[str, Any]


async def emit_events(session: AsyncSession, announcements: Sequence[Announcement]) -> list[str]:
    """``emit_event`` for many events, in bulk statements; returns the delivery ids.

    An event no endpoint receives is not stored: events are only ever read through their deliveries, and
    most outcomes of a tenant without subscriptions would otherwise cost a row each.
    """
    rows, deliveries = await event_rows(session, announcements)
    await insert_rows(session, *rows)
    return deliveries


async def event_rows(
    session: AsyncSession, announcements: Sequence[Announcement]
) -> tuple[tuple[Batch, ...], list[str]]:
    """The rows ``emit_events`` inserts and the ids of their deliveries, for a caller inserting them with its own."""
    now = utcnow()
    events: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for announced in announcements:
        subscribers = await _subscribers(session, announced.tenant_id, announced.mode)
        receivers = [endpoint_id for endpoint_id, patterns in subscribers if matches(patterns, announced.type)]
        if not receivers:
            continue
        event_id = "msg_" + new_id().replace("-", "")
        events.append(
            {
                "id": event_id,
                "tenant_id": announced.tenant_id,
                "mode": announced.mode,
                "type": announced.type,
                "data": announced.data,
                "created_at": now,
            }
        )
        deliveries += [
            {
                "id": new_id(),
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "status": "pending",
                "attempt_count": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in receivers
        ]
    return ((table(WebhookEvent), events), (table(WebhookDelivery), deliveries)), [d["id"] for d in deliveries]


Subscribers = list[tuple[str, list[str]]]  # ``(endpoint id, event patterns)`` of a tenant's receiving endpoints

# The endpoints that receive a tenant's events in a mode: every one not deleted (paused and failed ones keep them
# for later). Built once: building and keying a statement for SQLAlchemy's cache costs more than running it.
_SUBSCRIBERS = select(col(WebhookEndpoint.id), col(WebhookEndpoint.events)).where(
    col(WebhookEndpoint.tenant_id) == bindparam("tenant_id"),
    col(WebhookEndpoint.mode) == bindparam("mode"),
    col(WebhookEndpoint.deleted_at).is_(None),
)

# ``Check`` that each row's endpoints (sorted by id, as ``C`` sorts them) are still the tenant's receiving ones,
# those ``_SUBSCRIBERS`` would read.
_SUBSCRIBERS_UNCHANGED = """SELECT 1 FROM json_to_recordset({rows}) AS r(tenant_id text, mode text, endpoints jsonb)
WHERE r.endpoints = (
    SELECT coalesce(jsonb_agg(jsonb_build_array(w.id, CAST(w.events AS jsonb)) ORDER BY w.id COLLATE "C"), '[]')
    FROM webhook_endpoints AS w
    WHERE w.tenant_id = r.tenant_id AND w.mode = r.mode AND w.deleted_at IS NULL
)"""


async def _subscribers(session: AsyncSession, tenant_id: str, mode: str) -> Subscribers:
    """The receiving endpoints, read once per transaction."""
    memo = transaction_memo(session, "webhook_endpoints")
    if (tenant_id, mode) not in memo:
        rows = await session.execute(_SUBSCRIBERS, {"tenant_id": tenant_id, "mode": mode})
        memo[tenant_id, mode] = [(endpoint_id, patterns) for endpoint_id, patterns in rows.all()]
    found: Subscribers = memo[tenant_id, mode]
    return found


def subscribers_read(session: AsyncSession) -> dict[tuple[str, str], Subscribers]:
    """The receiving endpoints the transaction has read so far, by tenant and mode."""
    return dict(transaction_memo(session, "webhook_endpoints"))


def lend_subscribers(session: AsyncSession, tenant_id: str, mode: str, subscribers: Subscribers) -> Check:
    """Have the transaction take *subscribers* as the receiving endpoints of the tenant's mode, read by an
    earlier one; the ``Check`` its write must make of them (PostgreSQL)."""
    transaction_memo(session, "webhook_endpoints")[tenant_id, mode] = subscribers
    return Check(_SUBSCRIBERS_UNCHANGED, [{"tenant_id": tenant_id, "mode": mode, "endpoints": sorted(subscribers)}])


def delivery_view(delivery: WebhookDelivery, event: WebhookEvent, attempts: Sequence[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": event.id,
        "event_type": event.type,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": iso(delivery.created_at),
        "attempts": [
            {
                "attempted_at": iso(attempt.attempted_at),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "latency_ms": attempt.latency_ms,
            }
            for attempt in attempts
        ],
    }


def due_before(now: datetime, grace_s: float) -> datetime:
    return now - timedelta(seconds=grace_s)
