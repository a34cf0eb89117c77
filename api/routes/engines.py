"""Handlers every engine shares: list, show, change; and the ``202`` acceptance of pipeline events."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict

import msgspec
from litestar import Request, Response, get, patch
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from actors.events import apply_events_actor
from api import pagination
from api.auth import app_state
from api.enqueue import Job, claim_and_enqueue
from api.pagination import cut, listing, window
from api.responses import Page, answer
from api.schemas import EnginePatch
from api.state import AppState
from api.writes import Outcome, keyed, write_once
from models.base import new_id
from models.engines import E, change_engine, engine_cache_key, get_engine_row
from models.redis_client import digest_key
from models.tenancy import Principal

Views = Callable[[AsyncSession, Sequence[Any]], Awaitable[list[dict[str, Any]]]]  # of rows, in their order
PatchBody = EnginePatch  # an engine's own PATCH body, given to Litestar by each handler's signature_namespace


def each(view: Callable[[Any], dict[str, Any]]) -> Views:
    """``Views`` of an engine whose view of a row reads nothing more."""

    async def views(_session: AsyncSession, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [view(row) for row in rows]

    return views


class Scope(TypedDict):
    """The key's tenant, mode and brand, as the models' lookups take them."""

    tenant_id: str
    mode: str
    brand_id: str


def scope(principal: Principal) -> Scope:
    return {"tenant_id": principal.tenant_id, "mode": principal.mode, "brand_id": principal.brand_id}


def engine_handlers(
    model: type[E],
    noun: str,
    views: Views,
    statuses: frozenset[str],
    *,
    shape: Any,
    patch_body: type[EnginePatch] = EnginePatch,
    amend: Callable[[Any, Any], None] | None = None,
) -> list[HTTPRouteHandler]:
    """``GET /``, ``GET /{engine_id}`` and ``PATCH /{engine_id}`` for one engine's router; *views* answer *shape*.
    A ``PATCH`` takes *patch_body*, whose fields besides ``name`` and ``status`` *amend* applies to the row."""

    @get(
        "/",
        opt={"scope": "engines:read"},
        tags=[noun],
        summary=f"List {noun}s",
        responses=answer(Page[shape], f"the brand's {noun}s, newest first"),
    )
    async def index(
        request: Request[Any, Any, Any],
        principal: Principal,
        paging: pagination.Page,
    ) -> dict[str, Any]:
        query = select(model).where(
            model.tenant_id == principal.tenant_id, model.mode == principal.mode, model.brand_id == principal.brand_id
        )
        async with app_state(request).db.reader() as session:
            found = (await session.execute(window(query, col(model.created_at), col(model.id), paging))).scalars()
            shown, next_cursor = cut(list(found), paging, lambda row: (row.created_at, row.id))
            return {"data": await views(session, shown), "next_cursor": next_cursor}

    @get(
        "/{engine_id:str}",
        opt={"scope": "engines:read"},
        tags=[noun],
        summary=f"Show a {noun}",
        responses=answer(shape, f"the {noun}"),
    )
    async def show(request: Request[Any, Any, Any], principal: Principal, engine_id: str) -> dict[str, Any]:
        async with app_state(request).db.reader() as session:
            row = await get_engine_row(session, model, noun, engine_id=engine_id, **scope(principal))
            [body] = await views(session, [row])
            return body

    @patch(
        "/{engine_id:str}",
        opt={"scope": "engines:write"},
        tags=[noun],
        summary=f"Change a {noun}",
        responses=answer(shape, f"the changed {noun}"),
        signature_namespace={"PatchBody": patch_body},
    )
    async def change(
        request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: PatchBody
    ) -> Response[dict[str, Any]]:
        state = app_state(request)

        async def work(session: AsyncSession) -> Outcome:
            # locked: a draw or a close committing meanwhile is seen here, and its final status kept
            row = await get_engine_row(session, model, noun, engine_id=engine_id, locked=True, **scope(principal))
            if amend is not None:
                amend(row, data)
            change_engine(row, name=data.name, status=data.status, allowed=statuses)
            await session.flush()
            [body] = await views(session, [row])
            return 200, body, []

        key, changes = keyed(data)
        answered = await write_once(
            state, principal, operation=f"{noun}.patch", key=key, request={"id": engine_id, **changes}, work=work
        )
        await state.redis.delete(engine_cache_key(engine_id))
        return answered

    return [index, show, change]


async def create_engine(
    request: Request[Any, Any, Any],
    principal: Principal,
    data: msgspec.Struct,
    operation: str,
    make: Callable[[AsyncSession, dict[str, Any]], Awaitable[dict[str, Any]]],
) -> Response[dict[str, Any]]:
    """Create an engine from a validated body, idempotently when the body carries an idempotency key."""
    key, config = keyed(data)
    typed = {  # JSON values, but datetimes stay datetimes
        name: value if isinstance(value := getattr(data, name), datetime) else config[name] for name in config
    }

    async def work(session: AsyncSession) -> Outcome:
        return 201, await make(session, typed), []

    return await write_once(app_state(request), principal, operation=operation, key=key, request=config, work=work)


def event_job(principal: Principal, events: list[dict[str, Any]]) -> Job:
    """The pipeline actor's call for *events* (normalized dicts), received now."""
    where = (principal.tenant_id, principal.mode, principal.brand_id)
    return Job(apply_events_actor, (*where, events, datetime.now(UTC).isoformat()))


async def accept(state: AppState, principal: Principal, event: dict[str, Any]) -> Response[dict[str, Any]]:
    """Queue one pipeline event once per business id, answering ``202`` at once."""
    claim = source_claim(principal, event) if event["source_id"] else ""
    if not event["source_id"]:
        event = {**event, "source_id": "auto_" + new_id()}
    queued = await claim_and_enqueue(state, event_job(principal, [event]), claim=claim, value="1")
    if queued:
        return Response({"status": "accepted", "deduped": False}, status_code=202)
    return Response({"status": "accepted", "deduped": True}, status_code=202, headers={"Idempotent-Replayed": "true"})


def journey_source_id(source_event_id: str | None, idempotency_key: str | None) -> str | None:
    """A journey event's business id: its ``source_event_id``; without one, its idempotency key's, so that a
    retry with the same key counts once (a prefixed digest: the key, up to 255 characters, would not fit the
    column with a prefix, and without one could equal another event's ``source_event_id``); else none, and
    the event is never deduplicated."""
    if source_event_id or not idempotency_key:
        return source_event_id
    return "key_" + hashlib.blake2b(idempotency_key.encode(), digest_size=20).hexdigest()


def source_claim(principal: Principal, event: dict[str, Any]) -> str:
    """The Redis key claiming an event's business id within its engine (journeys: within the brand).

    A digest (128 bits) of the tenant, mode, event type, engine and business id: Redis keeps one such key
    per event for ``IDEMPOTENCY_TTL``, and the ids spelled out (two UUIDs and the business id) made each
    key take about 240 bytes of its memory against about 145, and its claim a third more of its time."""
    engine = event.get("engine_id") or principal.brand_id
    return digest_key("wowsino:source:", principal.tenant_id, principal.mode, event["type"], engine, event["source_id"])


def listing_handler(
    path: str,
    model: type[E],
    noun: str,
    rows: type[Any],
    view: Callable[[Any, Any], dict[str, Any]],
    *,
    shape: Any,
    summary: str,
    engine_column: str = "engine_id",
    user_column: str = "username",
    order: tuple[str, str] = ("created_at", "id"),
) -> HTTPRouteHandler:
    """``GET <path>``: an engine's rows (each a *shape*) newest first, cursor-paginated, filtered by player and time."""

    @get(
        path,
        opt={"scope": "engines:read"},
        tags=[noun],
        summary=summary,
        responses=answer(Page[shape], "newest first"),
    )
    async def handler(
        request: Request[Any, Any, Any],
        principal: Principal,
        engine_id: str,
        paging: pagination.Page,
        user: str | None = None,
    ) -> dict[str, Any]:
        async with app_state(request).db.reader() as session:
            engine = await get_engine_row(session, model, noun, engine_id=engine_id, **scope(principal))
            query = select(rows).where(getattr(rows, engine_column) == engine.id)
            if user is not None:
                query = query.where(getattr(rows, user_column) == user)
            created, key = (col(getattr(rows, name)) for name in order)
            found = list((await session.execute(window(query, created, key, paging))).scalars())
        return listing(
            found, paging, lambda row: view(engine, row), lambda row: (getattr(row, order[0]), getattr(row, order[1]))
        )

    return handler
