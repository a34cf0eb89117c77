"""Tournaments: players score points from wagers within a window; the ranking pays a prize table.

Each score is recorded once per ``source_wager_id``; a player's standing keeps the running total and
``reached_seq``, when the API accepted the score that brought it there (``acceptance_order``), so equal
totals rank by who reached them first, whichever worker applied their scores first. The database is the
truth for standings and payouts; the Redis leaderboard (``models/leaderboard.py``) is a fast copy that
can be rebuilt from it. Closing flips the status with a compare-and-set and pays in the same
transaction, so a tournament pays once however often it is closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, UniqueConstraint, case, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.base import UTCDateTime, created_field, iso, table, utcnow
from models.engines import EngineColumns, get_engine_row
from models.errors import Conflict, InvalidInput
from models.ledger import transfer
from models.statements import dialect_insert, insert_from_json, insert_new
from models.tenancy import Principal
from models.webhooks import emit_event

STATUSES = frozenset({"active", "paused", "archived"})


class Tournament(EngineColumns, table=True):
    __tablename__ = "tournaments"
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime, index=True)
    prizes: list[dict[str, int]] = Field(sa_type=JSON, nullable=False)
    # status: active, paused, archived, closed


class TournamentScore(SQLModel, table=True):
    __tablename__ = "tournament_scores"
    __table_args__ = (UniqueConstraint("tournament_id", "source_wager_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tournament_id: str = Field(foreign_key="tournaments.id", max_length=36, index=True)
    player_id: str = Field(foreign_key="players.id", max_length=36)
    username: str = Field(max_length=64)
    source_wager_id: str = Field(max_length=255)
    points: int = Field(sa_type=BigInteger)
    reached: int | None = Field(default=None, sa_type=BigInteger)  # see ``acceptance_order``; none before 0007
    created_at: datetime = created_field()


class TournamentStanding(SQLModel, table=True):
    __tablename__ = "tournament_standings"
    tournament_id: str = Field(foreign_key="tournaments.id", max_length=36, primary_key=True)
    player_id: str = Field(foreign_key="players.id", max_length=36, primary_key=True)
    username: str = Field(max_length=64)
    points: int = Field(sa_type=BigInteger)
    reached_seq: int = Field(sa_type=BigInteger)


class TournamentClose(SQLModel, table=True):
    __tablename__ = "tournament_closes"
    tournament_id: str = Field(foreign_key="tournaments.id", max_length=36, primary_key=True)
    payouts: list[dict[str, Any]] = Field(sa_type=JSON, nullable=False)
    total_paid: int = Field(sa_type=BigInteger)
    created_at: datetime = created_field()


def check_prizes(prizes: list[dict[str, int]]) -> list[dict[str, int]]:
    """Rank bands must be in order and must not overlap."""
    last = 0
    for position, band in enumerate(sorted(prizes, key=lambda band: band["rank_from"])):
        if band["rank_from"] > band["rank_to"]:
            raise InvalidInput("rank_from must not exceed rank_to", field=f"prizes[{position}].rank_from")
        if band["rank_from"] <= last:
            raise InvalidInput("rank bands overlap", field=f"prizes[{position}].rank_from")
        last = band["rank_to"]
    return sorted(prizes, key=lambda band: band["rank_from"])


def tournament_view(tournament: Tournament) -> dict[str, Any]:
    return {
        "id": tournament.id,
        "name": tournament.name,
        "starts_at": iso(tournament.starts_at),
        "ends_at": iso(tournament.ends_at),
        "prizes": tournament.prizes,
        "status": tournament.status,
        "created_at": iso(tournament.created_at),
        "updated_at": iso(tournament.updated_at),
    }


def score_view(score: TournamentScore) -> dict[str, Any]:
    return {
        "user_id": score.username,
        "source_wager_id": score.source_wager_id,
        "points": score.points,
        "created_at": iso(score.created_at),
    }


async def create_tournament(session: AsyncSession, principal: Principal, *, config: dict[str, Any]) -> Tournament:
    if config["ends_at"] <= config["starts_at"]:
        raise InvalidInput("must be after starts_at", field="ends_at")
    tournament = Tournament(
        tenant_id=principal.tenant_id,
        brand_id=principal.brand_id,
        mode=principal.mode,
        **{**config, "prizes": check_prizes(config["prizes"])},
    )
    session.add(tournament)
    await session.flush()
    return tournament


async def get_tournament(
    session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, tournament_id: str
) -> Tournament:
    return await get_engine_row(
        session, Tournament, "tournament", tenant_id=tenant_id, mode=mode, brand_id=brand_id, engine_id=tournament_id
    )


def move_window(tournament: Tournament, *, starts_at: datetime | None, ends_at: datetime | None) -> None:
    """Move the boundaries of the window that are still ahead (a start not yet come, an end not yet passed),
    each to a moment ahead; a closed tournament keeps its window."""
    now = utcnow()
    boundaries = (("starts_at", starts_at, tournament.starts_at), ("ends_at", ends_at, tournament.ends_at))
    for field, moved, current in boundaries:
        if moved is None:
            continue
        if tournament.status == "closed":
            raise Conflict("a closed tournament keeps its window", field=field)
        if current <= now:
            raise Conflict(f"{field} has passed: only a window still ahead moves", field=field)
        if moved <= now:
            raise InvalidInput("must be in the future", field=field)
    start, end = starts_at or tournament.starts_at, ends_at or tournament.ends_at
    if end <= start:
        raise InvalidInput("must be after starts_at", field="ends_at")
    tournament.starts_at, tournament.ends_at = start, end


def check_window(tournament: Tournament, at: datetime) -> None:
    if tournament.status != "active":
        raise Conflict(f"tournament is {tournament.status}")
    if not tournament.starts_at <= at < tournament.ends_at:
        raise Conflict("points are accepted only between starts_at and ends_at")


@dataclass(frozen=True)
class Scored:
    """A wager's points for a player, as the pipeline applies them."""

    tournament_id: str
    player_id: str
    username: str
    source_wager_id: str
    points: int
    reached: int  # ``acceptance_order``


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def acceptance_order(accepted_at: datetime, place: int) -> int:
    """A score's place in the order the API accepted scores: the moment in microseconds since the epoch, times
    1,000, plus its place among the events accepted in that microsecond (a request's up to 1,000 share one)."""
    return (accepted_at - _EPOCH) // timedelta(microseconds=1) * 1000 + min(place, 999)


Totals = dict[tuple[str, str], dict[str, Any]]  # (tournament, player) -> what a batch adds to the standing


async def record_scores(session: AsyncSession, scores: Sequence[Scored]) -> Totals:
    """Insert each score once per wager, in bulk; what the new ones add to each player's standing."""
    first: dict[tuple[str, str], Scored] = {}
    for score in scores:  # a wager posted twice in one batch: the first counts, like a later replay
        first.setdefault((score.tournament_id, score.source_wager_id), score)
    rows = table(TournamentScore)
    now = utcnow()
    inserted = await insert_new(
        session,
        rows,
        [
            {
                "tournament_id": score.tournament_id,
                "player_id": score.player_id,
                "username": score.username,
                "source_wager_id": score.source_wager_id,
                "points": score.points,
                "reached": score.reached,
                "created_at": now,
            }
            for score in first.values()
        ],
        ("tournament_id", "source_wager_id"),
    )
    new = {(tournament_id, wager) for tournament_id, wager in inserted}
    totals: Totals = {}
    for key, score in first.items():
        if key in new:  # not counted before
            total = totals.setdefault(
                (score.tournament_id, score.player_id),
                {"tournament_id": score.tournament_id, "player_id": score.player_id, "username": score.username},
            )
            total["points"] = total.get("points", 0) + score.points
            total["reached_seq"] = max(total.get("reached_seq", 0), score.reached)
    return totals


_STANDINGS_MOVE = (  # PostgreSQL's form of the upsert below (``insert_from_json``)
    "(tournament_id, player_id) DO UPDATE SET points = tournament_standings.points + excluded.points,"
    " reached_seq = GREATEST(tournament_standings.reached_seq, excluded.reached_seq)"
)
_STANDINGS_RETURNED = ("tournament_id", "username", "points", "reached_seq")


async def add_to_standings(session: AsyncSession, totals: Totals) -> list[tuple[str, str, int, int]]:
    """Add recorded scores to their standings; ``(tournament_id, username, total, reached_seq)`` of each."""
    if not totals:
        return []
    # the row lock of each standing serializes concurrent batches, taken in key order; its seq only moves forward
    rows = [totals[key] for key in sorted(totals)]
    standings = table(TournamentStanding)
    if session.get_bind().dialect.name == "postgresql":  # one statement text however many standings move
        upserted = await insert_from_json(session, standings, rows, _STANDINGS_RETURNED, _STANDINGS_MOVE)
        return [(row[0], row[1], row[2], row[3]) for row in upserted]
    upsert = dialect_insert(session, standings)
    moved = await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[standings.c.tournament_id, standings.c.player_id],
            set_={
                "points": standings.c.points + upsert.excluded.points,
                "reached_seq": case(
                    (upsert.excluded.reached_seq > standings.c.reached_seq, upsert.excluded.reached_seq),
                    else_=standings.c.reached_seq,
                ),
            },
        ).returning(*(standings.c[name] for name in _STANDINGS_RETURNED)),
        rows,
    )
    return [(row[0], row[1], row[2], row[3]) for row in moved]


async def standings(session: AsyncSession, tournament_id: str) -> list[TournamentStanding]:
    """Every standing, best first: most points, then who reached that total first."""
    rows = await session.execute(
        select(TournamentStanding)
        .where(TournamentStanding.tournament_id == tournament_id)
        .order_by(col(TournamentStanding.points).desc(), col(TournamentStanding.reached_seq))
    )
    return list(rows.scalars())


async def close_tournament(
    session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, tournament_id: str
) -> tuple[int, dict[str, Any], list[str], bool]:
    """Pay the prize table by final rank, once; a later close answers with the first one's payouts."""
    tournament = await get_tournament(
        session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, tournament_id=tournament_id
    )
    columns = table(Tournament).c
    flipped = await session.execute(
        update(table(Tournament))
        .where(columns.id == tournament.id, columns.status != "closed")
        .values(status="closed", updated_at=utcnow())
    )
    if flipped.rowcount != 1:  # type: ignore[attr-defined]
        closed = await session.get(TournamentClose, tournament.id)
        if closed is None:
            raise Conflict("tournament is closing; retry")
        return 201, _close_body(tournament.id, closed), [], True
    ranked = await standings(session, tournament.id)
    winners = [
        (rank, ranked[rank - 1], band["prize_winz"])
        for band in tournament.prizes
        for rank in range(band["rank_from"], min(band["rank_to"], len(ranked)) + 1)
        if band["prize_winz"]
    ]
    payouts: list[dict[str, Any]] = [
        {"rank": rank, "username": standing.username, "prize_winz": prize} for rank, standing, prize in winners
    ]
    total = sum(prize for _, _, prize in winners)
    await transfer(
        session,
        tenant_id=tenant_id,
        mode=mode,
        kind="tournament.close",
        reference=tournament.id,
        asset="WINZ",
        payer=("tournament", tournament.id),
        payees=[(("player", standing.player_id), prize) for _, standing, prize in winners],
    )
    closed = TournamentClose(tournament_id=tournament.id, payouts=payouts, total_paid=total)
    session.add(closed)
    body = _close_body(tournament.id, closed)
    deliveries = await emit_event(
        session,
        tenant_id=tenant_id,
        mode=mode,
        type="tournament.closed",
        data={"tournament_id": tournament.id, "tournament_name": tournament.name, **body},
    )
    return 201, body, deliveries, False


def _close_body(tournament_id: str, closed: TournamentClose) -> dict[str, Any]:
    return {
        "tournament_id": tournament_id,
        "payouts": closed.payouts,
        "total_paid": closed.total_paid,
        "closed_at": iso(closed.created_at),
    }


async def due_tournaments(session: AsyncSession, now: datetime) -> list[Tournament]:
    rows = await session.execute(
        select(Tournament).where(Tournament.status == "active", col(Tournament.ends_at) <= now)
    )
    return list(rows.scalars())
