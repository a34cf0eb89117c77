"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api import pagination
from api.auth import app_state
from api.pagination import listing, window
from api.responses import Page, answer
from api.responses.accounts import Delivery, Redelivered, RedeliveryQueued, Subscription
from api.schemas import KeyOnly, RedeliverRequest, WebhookCreate, WebhookPatch
from api.writes import Outcome, Work, keyed, write_once
from models.base import table, utcnow
from models.errors import NotFound
from models.tenancy import Principal
from models.urlguard import check_url
from models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    create_endpoint,
    delivery_view,
    endpoint_view,
    get_endpoint,
    rotate_secret,
    update_endpoint,
)

SCOPE = {"scope": "webhooks:write"}
QUEUED_AT_ONCE = 1000  # deliveries a resume or redelivery queues itself (``_first``)
_DELIVERIES = table(WebhookDelivery).c


@post(
    "/v1/webhooks",
    opt=SCOPE,
    tags=["webhooks"],
    responses=answer(Subscription, "created, with its signing secret", 201),
)
async def create(
    request: Request[Any, Any, Any], principal: Principal, data: WebhookCreate
) -> Response[dict[str, Any]]:
    await check_url(data.url, principal.mode)  # resolves the host: before any transaction holds a lock

    async def work(session: AsyncSession) -> Outcome:
        endpoint = await create_endpoint(
            session, tenant_id=principal.tenant_id, mode=principal.mode, url=data.url, events=list(data.events)
        )
        return 201, endpoint_view(endpoint, with_secret=True), []

    return await _once(request, principal, "webhooks.create", data, {}, work)


@get("/v1/webhooks", opt=SCOPE, tags=["webhooks"], responses=answer(Page[Subscription], "subscriptions, newest first"))
async def index(
    request: Request[Any, Any, Any],
    principal: Principal,
    paging: pagination.Page,
) -> dict[str, Any]:
    live = select(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == principal.tenant_id,
        WebhookEndpoint.mode == principal.mode,
        col(WebhookEndpoint.deleted_at).is_(None),
    )
    query = window(live, col(WebhookEndpoint.created_at), col(WebhookEndpoint.id), paging)
    async with app_state(request).db.reader() as session:
        found = list((await session.execute(query)).scalars())
    return listing(found, paging, endpoint_view, lambda endpoint: (endpoint.created_at, endpoint.id))


@get("/v1/webhooks/{webhook_id:str}", opt=SCOPE, tags=["webhooks"], responses=answer(Subscription, "the subscription"))
async def show(request: Request[Any, Any, Any], principal: Principal, webhook_id: str) -> dict[str, Any]:
    async with app_state(request).db.reader() as session:
        endpoint = await _endpoint(session, principal, webhook_id)
    return endpoint_view(endpoint)


@patch("/v1/webhooks/{webhook_id:str}", opt=SCOPE, tags=["webhooks"], responses=answer(Subscription, "the changed one"))
async def change(
    request: Request[Any, Any, Any], principal: Principal, webhook_id: str, data: WebhookPatch
) -> Response[dict[str, Any]]:
    if data.url is not None:
        await check_url(data.url, principal.mode)  # resolves the host: before the transaction holds a lock

    async def work(session: AsyncSession) -> Outcome:
        endpoint = await _endpoint(session, principal, webhook_id)
        resumed = data.status == "active" and endpoint.status != "active"
        await update_endpoint(
            session, endpoint, url=data.url, events=list(data.events) if data.events else None, status=data.status
        )
        held: list[tuple[str, int]] = []
        if resumed:  # deliveries held while paused go out now: the first ones at once, the rest by the sweep
            held = await _first(session, _DELIVERIES.endpoint_id == endpoint.id, _DELIVERIES.status == "pending")
        return 200, endpoint_view(endpoint), held

    return await _once(request, principal, "webhooks.patch", data, {"id": webhook_id}, work)


@delete("/v1/webhooks/{webhook_id:str}", opt=SCOPE, tags=["webhooks"], status_code=204)
async def remove(request: Request[Any, Any, Any], principal: Principal, webhook_id: str) -> None:
    async with app_state(request).db.transaction() as session:
        endpoint = await _endpoint(session, principal, webhook_id)
        endpoint.deleted_at = utcnow()


@get(
    "/v1/webhooks/{webhook_id:str}/deliveries",
    opt=SCOPE,
    tags=["webhooks"],
    responses=answer(Page[Delivery], "deliveries newest first, with their attempts"),
)
async def deliveries(
    request: Request[Any, Any, Any],
    principal: Principal,
    webhook_id: str,
    paging: pagination.Page,
    status: str | None = None,
) -> dict[str, Any]:
    """Deliveries newest first, each with every attempt (time, status code or error, latency)."""
    async with app_state(request).db.reader() as session:
        endpoint = await _endpoint(session, principal, webhook_id)
        query = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, col(WebhookEvent.id) == WebhookDelivery.event_id)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        rows = (
            await session.execute(window(query, col(WebhookDelivery.created_at), col(WebhookDelivery.id), paging))
        ).all()
        attempts = await _attempts(session, [delivery.id for delivery, _ in rows])
    return listing(
        rows,
        paging,
        lambda row: delivery_view(row[0], row[1], attempts.get(row[0].id, [])),
        lambda row: (row[0].created_at, row[0].id),
    )


async def _attempts(session: AsyncSession, delivery_ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    found: dict[str, list[WebhookAttempt]] = {}
    if delivery_ids:
        rows = await session.execute(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(delivery_ids))  # type: ignore[attr-defined]
            .order_by(col(WebhookAttempt.id))
        )
        for attempt in rows.scalars():
            found.setdefault(attempt.delivery_id, []).append(attempt)
    return found


@post(
    "/v1/webhooks/{webhook_id:str}/rotate-secret",
    opt=SCOPE,
    tags=["webhooks"],
    status_code=201,
    responses=answer(Subscription, "the subscription with its new signing secret", 201),
)
async def rotate(
    request: Request[Any, Any, Any], principal: Principal, webhook_id: str, data: KeyOnly | None = None
) -> Response[dict[str, Any]]:
    """A new signing secret, shown once; the previous one keeps verifying for 24 hours. With an idempotency key
    a retry answers the same secret: rotating twice would retire the previous one at once."""

    async def work(session: AsyncSession) -> Outcome:
        endpoint = await _endpoint(session, principal, webhook_id)
        rotate_secret(endpoint, utcnow())
        await session.flush()
        return 201, endpoint_view(endpoint, with_secret=True), []

    return await _once(request, principal, "webhooks.rotate_secret", data, {"id": webhook_id}, work)


@post(
    "/v1/webhooks/{webhook_id:str}/redeliver",
    opt=SCOPE,
    tags=["webhooks"],
    status_code=202,
    responses=answer(Redelivered, "how many failed deliveries are queued again", 202),
)
async def redeliver_failed(
    request: Request[Any, Any, Any], principal: Principal, webhook_id: str, data: RedeliverRequest
) -> Response[dict[str, Any]]:
    """Send again every failed delivery of this subscription created since a time."""

    async def work(session: AsyncSession) -> Outcome:
        endpoint = await _endpoint(session, principal, webhook_id)
        failed = (
            _DELIVERIES.endpoint_id == endpoint.id,
            _DELIVERIES.status == "failed",
            _DELIVERIES.created_at >= data.since,
        )
        first = await _first(session, *failed)
        moved = await session.execute(
            update(table(WebhookDelivery)).where(*failed).values(status="pending", next_attempt_at=utcnow())
        )
        return 202, {"redelivered": moved.rowcount}, first  # type: ignore[attr-defined]

    return await _once(request, principal, "webhooks.redeliver", data, {"id": webhook_id}, work)


@post(
    "/v1/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
    opt=SCOPE,
    tags=["webhooks"],
    status_code=202,
    responses=answer(RedeliveryQueued, "queued again", 202),
)
async def redeliver(
    request: Request[Any, Any, Any],
    principal: Principal,
    webhook_id: str,
    delivery_id: str,
    data: KeyOnly | None = None,
) -> Response[dict[str, Any]]:
    """Send a delivery again (same ``webhook-id``), whatever its status."""

    async def work(session: AsyncSession) -> Outcome:
        endpoint = await _endpoint(session, principal, webhook_id)
        delivery = (
            await session.execute(
                select(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
                )
            )
        ).scalar_one_or_none()
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id!r}")
        await session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery.id)
            .values(status="pending", next_attempt_at=utcnow())
        )
        return 202, {"id": delivery_id, "status": "pending"}, [(delivery_id, delivery.attempt_count)]

    where = {"id": webhook_id, "delivery_id": delivery_id}
    return await _once(request, principal, "webhooks.redeliver_delivery", data, where, work)


async def _first(session: AsyncSession, *where: ColumnElement[bool]) -> list[tuple[str, int]]:
    """The oldest ``QUEUED_AT_ONCE`` deliveries *where* holds, as attempts to queue: a resume or redelivery of more
    leaves the rest, due, to the outbox sweep (``actors.scheduler``), a page per pass, rather than hold Redis and
    the request for a million of them."""
    rows = await session.execute(
        select(_DELIVERIES.id, _DELIVERIES.attempt_count)
        .where(*where)
        .order_by(_DELIVERIES.created_at)
        .limit(QUEUED_AT_ONCE)
    )
    return [(delivery_id, attempt) for delivery_id, attempt in rows.all()]


async def _endpoint(session: AsyncSession, principal: Principal, webhook_id: str) -> WebhookEndpoint:
    return await get_endpoint(session, tenant_id=principal.tenant_id, mode=principal.mode, endpoint_id=webhook_id)


async def _once(
    request: Request[Any, Any, Any],
    principal: Principal,
    operation: str,
    data: msgspec.Struct | None,
    where: dict[str, str],
    work: Work,
) -> Response[dict[str, Any]]:
    """*work* once per idempotency key in the body (``write_once``), the request being the body and *where*."""
    key, body = keyed(data)
    return await write_once(
        app_state(request), principal, operation=operation, key=key, request={**where, **body}, work=work
    )
