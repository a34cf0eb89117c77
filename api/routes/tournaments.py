"""Tournaments: configuration, scores from the wager pipeline, the live leaderboard, the close."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from actors.draws import close_tournament_actor
from api.auth import app_state
from api.dispatch import Submission, submit
from api.enqueue import Job
from api.lookups import engine_facts, require_player
from api.responses import Accepted, Submitted, answer
from api.responses.engines import Leaderboard, Score, Tournament, TournamentClosed
from api.routes.engines import accept, create_engine, each, engine_handlers, listing_handler, scope
from api.schemas import KeyOnly, ScoreRequest, TournamentCreate, TournamentPatch
from api.state import AppState
from models import leaderboard, tournaments
from models.errors import Conflict
from models.pipeline import SCORE
from models.tenancy import Principal

STATUSES = frozenset({"active", "paused", "archived"})


@post(
    "/",
    opt={"scope": "engines:write"},
    tags=["tournament"],
    summary="Create a tournament",
    responses=answer(Tournament, "created", 201),
)
async def create(
    request: Request[Any, Any, Any], principal: Principal, data: TournamentCreate
) -> Response[dict[str, Any]]:
    async def make(session: AsyncSession, config: dict[str, Any]) -> dict[str, Any]:
        return tournaments.tournament_view(await tournaments.create_tournament(session, principal, config=config))

    return await create_engine(request, principal, data, "tournament.create", make)


@post(
    "/{engine_id:str}/score",
    opt={"scope": "engines:play"},
    tags=["tournament"],
    status_code=202,
    responses=answer(Accepted, "queued; deduped when the wager was already counted", 202),
)
async def score(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: ScoreRequest
) -> Response[dict[str, Any]]:
    """Accept a wager's points (``202``), counted once per ``source_wager_id``; ``409`` outside the window."""
    state = app_state(request)
    now = datetime.now(UTC)
    facts = await engine_facts(request, principal, tournaments.Tournament, "tournament", engine_id)
    if facts["status"] != "active":
        raise Conflict(f"tournament is {facts['status']}")
    if not datetime.fromisoformat(facts["starts_at"]) <= now < datetime.fromisoformat(facts["ends_at"]):
        raise Conflict("points are accepted only between starts_at and ends_at")
    await require_player(state, principal, data.user_id)
    event = {
        "type": SCORE,
        "engine_id": engine_id,
        "user_id": data.user_id,
        "source_id": data.source_wager_id,
        "points": data.points,
    }
    return await accept(state, principal, event)


async def _rebuild(state: AppState, tournament_id: str) -> None:
    """Copy every standing from the database into Redis, then mark the copy complete."""
    async with state.db.reader() as session:
        rows = await tournaments.standings(session, tournament_id)
    await leaderboard.record(state.redis, tournament_id, [(row.username, row.points, row.reached_seq) for row in rows])
    await leaderboard.mark_ready(state.redis, tournament_id)


@get(
    "/{engine_id:str}/leaderboard",
    opt={"scope": "engines:read"},
    tags=["tournament"],
    responses=answer(Leaderboard, "ranked players"),
)
async def ranking(
    request: Request[Any, Any, Any],
    principal: Principal,
    engine_id: str,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    around: str | None = None,
) -> dict[str, Any]:
    """Ranked rows ``{rank, username, points}``; ties go to who reached the score first."""
    state = app_state(request)
    async with state.db.reader() as session:
        tournament = await tournaments.get_tournament(session, tournament_id=engine_id, **scope(principal))
    if not await leaderboard.is_ready(state.redis, tournament.id):
        await _rebuild(state, tournament.id)
    rows = await leaderboard.page(state.redis, tournament.id, limit=limit, around=around)
    return {"tournament_id": tournament.id, "data": rows or []}


@post(
    "/{engine_id:str}/close",
    opt={"scope": "engines:write"},
    tags=["tournament"],
    summary="Close and pay",
    responses=answer(TournamentClosed, "the payouts", 201)
    | answer(Submitted, "it outlasted the wait; poll its operation", 202),
)
async def close(
    request: Request[Any, Any, Any], principal: Principal, engine_id: str, data: KeyOnly | None = None
) -> Response[dict[str, Any]]:
    """Pay the prize table by final rank; closing again answers with the same payouts and pays nothing."""
    state = app_state(request)
    async with state.db.reader() as session:
        await tournaments.get_tournament(session, tournament_id=engine_id, **scope(principal))

    def job(operation_id: str, key: str, digest: str) -> Job:
        return Job(
            close_tournament_actor, (operation_id, principal.tenant_id, principal.mode, principal.brand_id, engine_id)
        )

    key = data.idempotency_key if data is not None else None
    return await submit(state, principal, Submission("tournament.close", key, {"tournament_id": engine_id}, job))


scores = listing_handler(
    "/{engine_id:str}/scores",
    tournaments.Tournament,
    "tournament",
    tournaments.TournamentScore,
    lambda tournament, score: tournaments.score_view(score),
    shape=Score,
    summary="List counted scores",
    engine_column="tournament_id",
)


def _move(tournament: tournaments.Tournament, data: TournamentPatch) -> None:
    if data.starts_at is not None or data.ends_at is not None:
        tournaments.move_window(tournament, starts_at=data.starts_at, ends_at=data.ends_at)


router = Router(
    path="/v1/tournaments",
    route_handlers=[
        create,
        score,
        ranking,
        scores,
        close,
        *engine_handlers(
            tournaments.Tournament,
            "tournament",
            each(tournaments.tournament_view),
            STATUSES,
            shape=Tournament,
            patch_body=TournamentPatch,
            amend=_move,
        ),
    ],
)
