"""Jackpots: configuration, contributions from the wager pipeline, drops."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from litestar import Request, Response, Router, post
from sqlalchemy.ext.asyncio import AsyncSession

from actors.draws import drop_jackpot_actor
from api.auth import app_state
from api.dispatch import Submission, submit
from api.enqueue import Job
from api.lookups import engine_facts, require_player
from api.responses import Accepted, Submitted, answer
from api.responses.engines import Contribution, Jackpot, JackpotDrop
from api.routes.engines import accept, create_engine, engine_handlers, listing_handler
from api.schemas import ContributeRequest, DropRequest, JackpotCreate
from models import jackpots
from models.assets import from_units, to_units
from models.base import iso
from models.errors import Conflict, InvalidInput
from models.pipeline import CONTRIBUTE
from models.tenancy import Principal

STATUSES = frozenset({"active", "paused", "archived"})


async def _views(session: AsyncSession, rows: Sequence[jackpots.Jackpot]) -> list[dict[str, Any]]:
    pools = await jackpots.pools_of(session, rows)
    return [jackpots.jackpot_view(jackpot, pools[jackpot.id]) for jackpot in rows]


def _positive_units(currency: str, amount: Decimal, field: str) -> int:
    units = to_units(currency, amount, field=field)
    if units <= 0:
        raise InvalidInput("must be above zero", field=field)
    return units


@post(
    "/",
    opt={"scope": "engines:write"},
    tags=["jackpot"],
    summary="Create a jackpot",
    responses=answer(Jackpot, "created", 201),
)
async def create(
    request: Request[Any, Any, Any], principal: Principal, data: JackpotCreate
) -> Response[dict[str, Any]]:
    seed = to_units(data.currency, data.seed_amount, field="seed_amount")
    if seed < 0:
        raise InvalidInput("must not be negative", field="seed_amount")
    must_drop = (
        _positive_units(data.currency, data.must_drop_at, "must_drop_at") if data.must_drop_at is not None else None
    )

    async def make(session: AsyncSession, config: dict[str, Any]) -> dict[str, Any]:
        jackpot = await jackpots.create_jackpot(
            session, principal, name=data.name, currency=data.currency, seed_amount=seed, must_drop_at=must_drop
        )
        return jackpots.jackpot_view(jackpot, await jackpots.pool_of(session, jackpot))

    return await create_engine(request, principal, data, "jackpot.create", make)


@post(
    "/{engine_id:str}/contribute",
    opt={"scope": "engines:play"},
    tags=["jackpot"],
    status_code=202,
    responses=answer(Accepted, "queued; deduped when the wager was already counted", 202),
)
async def contribute(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: ContributeRequest
) -> Response[dict[str, Any]]:
    """Accept a wager's contribution (``202``); counted once per ``source_wager_id``."""
    state = app_state(request)
    facts = await engine_facts(request, principal, jackpots.Jackpot, "jackpot", engine_id)
    if facts["status"] != "active":
        raise Conflict(f"jackpot is {facts['status']}")
    units = _positive_units(facts["currency"], data.amount, "amount")
    await require_player(state, principal, data.user_id)
    event = {
        "type": CONTRIBUTE,
        "engine_id": engine_id,
        "user_id": data.user_id,
        "source_id": data.source_wager_id,
        "amount": str(from_units(facts["currency"], units)),
        "currency": facts["currency"],
    }
    return await accept(state, principal, event)


@post(
    "/{engine_id:str}/drop",
    opt={"scope": "engines:write"},
    tags=["jackpot"],
    summary="Drop the jackpot",
    responses=answer(JackpotDrop, "the drop", 201)
    | answer(Submitted, "it outlasted the wait; poll its operation", 202),
)
async def drop(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: DropRequest | None = None
) -> Response[dict[str, Any]]:
    """Pay the whole pool to the winner (default: the last contributor) and reseed it."""
    data = data or DropRequest()
    state = app_state(request)
    await engine_facts(request, principal, jackpots.Jackpot, "jackpot", engine_id)
    if data.winner_user_id is not None:
        await require_player(state, principal, data.winner_user_id, field="winner_user_id")

    def job(operation_id: str, key: str, digest: str) -> Job:
        where = (principal.tenant_id, principal.mode, principal.brand_id, engine_id)
        return Job(drop_jackpot_actor, (operation_id, *where, data.winner_user_id, key, digest))

    body = {"jackpot_id": engine_id, "winner_user_id": data.winner_user_id}
    return await submit(state, principal, Submission(jackpots.DROP, data.idempotency_key, body, job))


def _contribution_view(jackpot: jackpots.Jackpot, row: jackpots.JackpotContribution) -> dict[str, Any]:
    return {
        "contribution_id": row.id,
        "user_id": row.username,
        "source_wager_id": row.source_wager_id,
        "amount": from_units(jackpot.currency, row.amount),
        "created_at": iso(row.created_at),
    }


contributions = listing_handler(
    "/{engine_id:str}/contributions",
    jackpots.Jackpot,
    "jackpot",
    jackpots.JackpotContribution,
    _contribution_view,
    shape=Contribution,
    summary="List contributions",
    engine_column="jackpot_id",
)
drops = listing_handler(
    "/{engine_id:str}/drops",
    jackpots.Jackpot,
    "jackpot",
    jackpots.JackpotDrop,
    jackpots.drop_view,
    shape=JackpotDrop,
    summary="List drops",
    engine_column="jackpot_id",
    user_column="winner_username",
)


router = Router(
    path="/v1/jackpots",
    route_handlers=[
        create,
        contribute,
        drop,
        drops,
        contributions,
        *engine_handlers(jackpots.Jackpot, "jackpot", _views, STATUSES, shape=Jackpot),
    ],
)
