"""Lootboxes and mini-games: configuration, and draws that answer with the prize."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from actors.draws import draw_prizes_actor
from api.auth import app_state
from api.dispatch import Submission, submit
from api.enqueue import Job
from api.lookups import engine_facts, require_player
from api.responses import Submitted, answer
from api.responses.engines import DrawStats, Lootbox, LootboxOpened, MiniGame, MiniGamePlayed, PrizeDraw
from api.routes.engines import create_engine, each, engine_handlers, listing_handler
from api.schemas import LootboxCreate, MiniGameCreate, OpenRequest
from models import prize_engines
from models.lootbox import LOOTBOX
from models.mini_games import MINI_GAME
from models.prize_engines import Spec
from models.tenancy import Principal

STATUSES = frozenset({"active", "paused", "archived"})


def _routes(spec: Spec, create: HTTPRouteHandler, action: str, *, shape: Any, drawn: Any) -> list[HTTPRouteHandler]:
    """The routes of one prize engine; its view answers *shape* and a draw *drawn*."""
    tags = [spec.noun]

    @post(
        f"/{{engine_id:str}}/{action}",
        opt={"scope": "engines:play"},
        tags=tags,
        summary=f"Draw a {spec.noun} prize",
        responses=answer(drawn, "the prize, with the proof of the draw", 201)
        | answer(Submitted, "the draw outlasted the wait; poll its operation", 202),
    )
    async def draw(
        request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: OpenRequest
    ) -> Response[dict[str, Any]]:
        """``201`` with the prize, or ``202`` with an operation URL if the draw outlasts the wait."""
        state = app_state(request)
        await engine_facts(request, principal, spec.engine, spec.noun, engine_id)  # clear 404s before queueing
        await require_player(state, principal, data.user_id)

        def job(operation_id: str, key: str, digest: str) -> Job:
            where = (spec.owner_type, principal.tenant_id, principal.mode, principal.brand_id, engine_id)
            draw = (operation_id, *where, data.user_id, data.client_seed, key, digest)
            return Job(draw_prizes_actor, draw, batched=True)

        request_body = {"engine_id": engine_id, "user_id": data.user_id, "client_seed": data.client_seed}
        return await submit(state, principal, Submission(spec.operation, data.idempotency_key, request_body, job))

    draws = listing_handler(
        f"/{{engine_id:str}}/{spec.listing}",
        spec.engine,
        spec.noun,
        spec.draw,
        lambda engine, row: prize_engines.draw_view(row),
        summary="List draws with their revealed seeds",
        shape=PrizeDraw,
    )

    @get(
        "/{engine_id:str}/stats",
        opt={"scope": "engines:read"},
        tags=tags,
        summary="Outcome statistics",
        responses=answer(DrawStats, "frequencies per segment, the chi-square test, totals paid"),
    )
    async def stats(request: Request[Any, Any, Any], principal: Principal, engine_id: str) -> dict[str, Any]:
        """Observed frequencies per segment against the weights (chi-square p-value) and totals paid."""
        async with app_state(request).db.reader() as session:
            engine = await prize_engines.get_engine(session, spec, engine_id=engine_id, **_scope(principal))
            return await prize_engines.draw_stats(session, spec, engine)

    return [
        create,
        draw,
        draws,
        stats,
        *engine_handlers(spec.engine, spec.noun, each(prize_engines.engine_view), STATUSES, shape=shape),
    ]


async def _create(
    request: Request[Any, Any, Any], principal: Principal, spec: Spec, data: msgspec.Struct
) -> Response[dict[str, Any]]:
    async def make(session: AsyncSession, config: dict[str, Any]) -> dict[str, Any]:
        return prize_engines.engine_view(await prize_engines.create_engine(session, spec, principal, config=config))

    return await create_engine(request, principal, data, f"{spec.owner_type}.create", make)


@post(
    "/",
    opt={"scope": "engines:write"},
    tags=["lootbox"],
    summary="Create a lootbox",
    responses=answer(Lootbox, "created", 201),
)
async def create_lootbox(
    request: Request[Any, Any, Any], principal: Principal, data: LootboxCreate
) -> Response[dict[str, Any]]:
    return await _create(request, principal, LOOTBOX, data)


@post(
    "/",
    opt={"scope": "engines:write"},
    tags=["mini-game"],
    summary="Create a mini-game",
    responses=answer(MiniGame, "created", 201),
)
async def create_mini_game(
    request: Request[Any, Any, Any], principal: Principal, data: MiniGameCreate
) -> Response[dict[str, Any]]:
    return await _create(request, principal, MINI_GAME, data)


def _scope(principal: Principal) -> dict[str, str]:
    return {"tenant_id": principal.tenant_id, "mode": principal.mode, "brand_id": principal.brand_id}


lootbox_router = Router(
    path="/v1/lootbox", route_handlers=_routes(LOOTBOX, create_lootbox, "open", shape=Lootbox, drawn=LootboxOpened)
)
mini_game_router = Router(
    path="/v1/mini-games",
    route_handlers=_routes(MINI_GAME, create_mini_game, "play", shape=MiniGame, drawn=MiniGamePlayed),
)
