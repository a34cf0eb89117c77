"""Raffles: configuration, ticket entries, the draw, and the entry list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response, Router, post
from sqlalchemy.ext.asyncio import AsyncSession

from actors.draws import draw_raffle_actor, enter_raffle_actor
from api.auth import app_state
from api.dispatch import Submission, submit
from api.enqueue import Job
from api.responses import Submitted, answer
from api.responses.engines import Raffle, RaffleDrawn, RaffleEntered, RaffleEntry
from api.routes.engines import create_engine, each, engine_handlers, listing_handler, scope
from api.schemas import DrawRequest, EnterRequest, RaffleCreate, RafflePatch
from models import raffles
from models.errors import InvalidInput
from models.players import get_player
from models.tenancy import Principal

STATUSES = frozenset({"active", "paused", "archived"})


@post(
    "/",
    opt={"scope": "engines:write"},
    tags=["raffle"],
    summary="Create a raffle",
    responses=answer(Raffle, "created", 201),
)
async def create(request: Request[Any, Any, Any], principal: Principal, data: RaffleCreate) -> Response[dict[str, Any]]:
    if data.draw_at is not None and data.draw_at <= datetime.now(data.draw_at.tzinfo):
        raise InvalidInput("must be in the future", field="draw_at")

    async def make(session: AsyncSession, config: dict[str, Any]) -> dict[str, Any]:
        return raffles.raffle_view(await raffles.create_raffle(session, principal, config=config))

    return await create_engine(request, principal, data, "raffle.create", make)


@post(
    "/{engine_id:str}/enter",
    opt={"scope": "engines:play"},
    tags=["raffle"],
    summary="Buy raffle tickets",
    responses=answer(RaffleEntered, "the entry with its ticket range", 201)
    | answer(Submitted, "it outlasted the wait; poll its operation", 202),
)
async def enter(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: EnterRequest
) -> Response[dict[str, Any]]:
    """Debit ``ticket_cost_winz * tickets`` and number the tickets in entry order (``402`` when short)."""
    state = app_state(request)
    async with state.db.reader() as session:
        await raffles.get_raffle(session, raffle_id=engine_id, **scope(principal))
        await get_player(session, principal, data.user_id, field="user_id")

    def job(operation_id: str, key: str, digest: str) -> Job:
        where = (principal.tenant_id, principal.mode, principal.brand_id, engine_id)
        return Job(enter_raffle_actor, (operation_id, *where, data.user_id, data.tickets, key, digest))

    body = {"raffle_id": engine_id, "user_id": data.user_id, "tickets": data.tickets}
    return await submit(state, principal, Submission(raffles.ENTER, data.idempotency_key, body, job))


@post(
    "/{engine_id:str}/draw",
    opt={"scope": "engines:write"},
    tags=["raffle"],
    summary="Draw the raffle",
    responses=answer(RaffleDrawn, "the winner, with the proof of the draw", 201)
    | answer(Submitted, "it outlasted the wait; poll its operation", 202),
)
async def draw(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: DrawRequest | None = None
) -> Response[dict[str, Any]]:
    """Pick the winning ticket over the whole pool; ``409`` when already drawn or without tickets."""
    data = data or DrawRequest()
    state = app_state(request)
    async with state.db.reader() as session:
        await raffles.get_raffle(session, raffle_id=engine_id, **scope(principal))

    def job(operation_id: str, key: str, digest: str) -> Job:
        where = (principal.tenant_id, principal.mode, principal.brand_id, engine_id)
        return Job(draw_raffle_actor, (operation_id, *where, data.client_seed, key, digest))

    body = {"raffle_id": engine_id, "client_seed": data.client_seed}
    return await submit(state, principal, Submission(raffles.DRAW, data.idempotency_key, body, job))


entries = listing_handler(
    "/{engine_id:str}/entries",
    raffles.Raffle,
    "raffle",
    raffles.RaffleEntry,
    lambda raffle, entry: raffles.entry_view(entry),
    shape=RaffleEntry,
    summary="List entries with their ticket ranges",
    engine_column="raffle_id",
)


def _move(raffle: raffles.Raffle, data: RafflePatch) -> None:
    if data.draw_at is not None:
        raffles.move_draw(raffle, data.draw_at)


router = Router(
    path="/v1/raffles",
    route_handlers=[
        create,
        enter,
        draw,
        entries,
        *engine_handlers(
            raffles.Raffle,
            "raffle",
            each(raffles.raffle_view),
            STATUSES,
            shape=Raffle,
            patch_body=RafflePatch,
            amend=_move,
        ),
    ],
)
