"""Journeys: configuration, lifecycle events, and each player's progress."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import app_state
from api.lookups import require_player
from api.responses import Accepted, answer
from api.responses.engines import Journey, Progress
from api.routes.engines import accept, create_engine, each, engine_handlers, journey_source_id, listing_handler, scope
from api.schemas import JourneyCreate, JourneyEventRequest
from models import journeys
from models.pipeline import JOURNEY
from models.players import get_player
from models.tenancy import Principal

STATUSES = frozenset({"active", "paused", "archived"})


@post(
    "/",
    opt={"scope": "engines:write"},
    tags=["journey"],
    summary="Create a journey",
    responses=answer(Journey, "created", 201),
)
async def create(
    request: Request[Any, Any, Any], principal: Principal, data: JourneyCreate
) -> Response[dict[str, Any]]:
    async def make(session: AsyncSession, config: dict[str, Any]) -> dict[str, Any]:
        steps = [{"trigger": step.trigger, "count": step.count, "reward_winz": step.reward_winz} for step in data.steps]
        return journeys.journey_view(
            await journeys.create_journey(session, principal, config={**config, "steps": steps})
        )

    return await create_engine(request, principal, data, "journey.create", make)


@post(
    "/event",
    opt={"scope": "engines:play"},
    tags=["journey"],
    status_code=202,
    summary="Fire a trigger",
    responses=answer(Accepted, "queued; deduped when the event was already counted", 202),
)
async def event(
    request: Request[Any, Any, Any], principal: Principal, data: JourneyEventRequest
) -> Response[dict[str, Any]]:
    """Advance every active journey of the brand waiting on the trigger (``202``); once per ``source_event_id``,
    or without one once per ``idempotency_key``."""
    state = app_state(request)
    await require_player(state, principal, data.user_id)
    source_id = journey_source_id(data.source_event_id, data.idempotency_key)
    event = {"type": JOURNEY, "user_id": data.user_id, "source_id": source_id, "trigger": data.trigger}
    return await accept(state, principal, event)


@get(
    "/{engine_id:str}/progress/{username:str}",
    opt={"scope": "engines:read"},
    tags=["journey"],
    responses=answer(Progress, "the player's progress, step by step"),
)
async def progress(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, username: str
) -> dict[str, Any]:
    async with app_state(request).db.reader() as session:
        journey = await journeys.get_journey(session, journey_id=engine_id, **scope(principal))
        player = await get_player(session, principal, username)
        return journeys.progress_view(journey, username, await journeys.get_progress(session, journey, player))


progress_list = listing_handler(
    "/{engine_id:str}/progress",
    journeys.Journey,
    "journey",
    journeys.JourneyProgress,
    lambda journey, row: journeys.progress_view(journey, row.username, row),
    shape=Progress,
    summary="List every player's progress, most recently advanced first",
    engine_column="journey_id",
    order=("updated_at", "player_id"),
)


router = Router(
    path="/v1/journeys",
    route_handlers=[
        create,
        event,
        progress,
        progress_list,
        *engine_handlers(journeys.Journey, "journey", each(journeys.journey_view), STATUSES, shape=Journey),
    ],
)
