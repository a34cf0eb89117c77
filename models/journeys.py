"""Journeys: ordered steps that a player completes by firing triggers, with rewards on the way.

A step is done when the player has fired its ``trigger`` ``count`` times while on that step. An
event advances every active journey of the brand whose current step waits on that trigger. Events
are counted once per ``source_event_id`` (unique key); rewards are ledger transactions whose
reference names the journey, player and step, so each is granted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, UniqueConstraint, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.base import UTCDateTime, created_field, id_field, iso, new_id, table, utcnow
from models.db import transaction_memo
from models.engines import EngineColumns, get_engine_row
from models.ledger import Transfer, transfer_many
from models.players import Player
from models.statements import among, insert_ignore, insert_new
from models.tenancy import Principal
from models.webhooks import Announcement, emit_events


class Journey(EngineColumns, table=True):
    __tablename__ = "journeys"
    steps: list[dict[str, Any]] = Field(sa_type=JSON, nullable=False)
    reward_winz: int = Field(default=0, sa_type=BigInteger)


class JourneyProgress(SQLModel, table=True):
    __tablename__ = "journey_progress"
    journey_id: str = Field(foreign_key="journeys.id", max_length=36, primary_key=True)
    player_id: str = Field(foreign_key="players.id", max_length=36, primary_key=True)
    username: str = Field(max_length=64)
    step_index: int = Field(default=0)
    step_count: int = Field(default=0)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class JourneyEvent(SQLModel, table=True):
    __tablename__ = "journey_events"
    __table_args__ = (UniqueConstraint("brand_id", "mode", "source_event_id"),)
    id: str = id_field()
    brand_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    player_id: str = Field(foreign_key="players.id", max_length=36, index=True)
    trigger: str = Field(max_length=64)
    source_event_id: str = Field(max_length=255)
    created_at: datetime = created_field()


def journey_view(journey: Journey) -> dict[str, Any]:
    return {
        "id": journey.id,
        "name": journey.name,
        "steps": journey.steps,
        "reward_winz": journey.reward_winz,
        "status": journey.status,
        "created_at": iso(journey.created_at),
        "updated_at": iso(journey.updated_at),
    }


def progress_view(journey: Journey, username: str, progress: JourneyProgress | None) -> dict[str, Any]:
    step_index = progress.step_index if progress else 0
    done = progress is not None and progress.completed_at is not None
    return {
        "journey_id": journey.id,
        "user_id": username,
        "completed": done,
        "completed_at": iso(progress.completed_at) if progress and progress.completed_at else None,
        "current_step": None if done else step_index,
        "steps": [
            {
                **step,
                "progress": _step_progress(step, position, step_index, progress, done),
                "done": done or position < step_index,
            }
            for position, step in enumerate(journey.steps)
        ],
    }


def _step_progress(
    step: dict[str, Any], position: int, current: int, progress: JourneyProgress | None, done: bool
) -> int:
    if done or position < current:
        return int(step["count"])
    return progress.step_count if progress is not None and position == current else 0


async def create_journey(session: AsyncSession, principal: Principal, *, config: dict[str, Any]) -> Journey:
    journey = Journey(tenant_id=principal.tenant_id, brand_id=principal.brand_id, mode=principal.mode, **config)
    session.add(journey)
    await session.flush()
    return journey


async def get_journey(session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, journey_id: str) -> Journey:
    return await get_engine_row(
        session, Journey, "journey", tenant_id=tenant_id, mode=mode, brand_id=brand_id, engine_id=journey_id
    )


async def get_progress(
    session: AsyncSession, journey: Journey, player: Player, *, lock: bool = False
) -> JourneyProgress | None:
    """The player's progress; *lock* holds its row until commit, so concurrent events apply one after another."""
    return await session.get(JourneyProgress, (journey.id, player.id), populate_existing=True, with_for_update=lock)


@dataclass(frozen=True)
class Fired:
    """A trigger a player fired, as the pipeline applies it."""

    player_id: str
    username: str
    trigger: str
    source_event_id: str


async def advance_many(
    session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, fresh: Sequence[Fired]
) -> list[str]:
    """Advance each player on every active journey waiting on each recorded event's trigger
    (``record_events``), in order, in bulk statements; returns the webhook deliveries."""
    journeys = await _active_journeys(session, brand_id, mode) if fresh else []
    if not journeys:
        return []
    progress = await _locked_progress(session, journeys, {event.player_id: event.username for event in fresh})
    now = utcnow()
    moved: dict[tuple[str, str], dict[str, Any]] = {}
    rewards: list[Transfer] = []
    completed: list[Announcement] = []
    for event in fresh:
        for journey in journeys:
            key = (journey.id, event.player_id)
            if _advances(journey, progress[key], event.trigger):
                moved[key] = progress[key]
                rewards += _advance(journey, progress[key], event.player_id, now)
                if progress[key]["completed_at"] is not None:
                    completed.append(_completion(journey, event.username))
    await transfer_many(session, tenant_id=tenant_id, mode=mode, transfers=rewards)
    await _save_progress(session, moved)
    return await emit_events(session, completed)


async def _save_progress(session: AsyncSession, moved: dict[tuple[str, str], dict[str, Any]]) -> None:
    if not moved:
        return
    rows = table(JourneyProgress)
    await session.execute(
        update(rows)
        .where(rows.c.journey_id == bindparam("journey"), rows.c.player_id == bindparam("player"))
        .values(
            step_index=bindparam("index"),
            step_count=bindparam("count"),
            completed_at=bindparam("completed"),
            updated_at=bindparam("updated"),
        ),
        [
            {
                "journey": journey_id,
                "player": player_id,
                "index": row["step_index"],
                "count": row["step_count"],
                "completed": row["completed_at"],
                "updated": row["updated_at"],
            }
            for (journey_id, player_id), row in sorted(moved.items())
        ],
    )


async def record_events(session: AsyncSession, brand_id: str, mode: str, events: Sequence[Fired]) -> list[Fired]:
    """Insert each event once per ``source_event_id``; the new ones, in order."""
    first: dict[str, Fired] = {}
    for event in events:  # an event posted twice in one batch: the first counts, like a later replay
        first.setdefault(event.source_event_id, event)
    rows = table(JourneyEvent)
    now = utcnow()
    inserted = await insert_new(
        session,
        rows,
        [
            {
                "id": new_id(),
                "brand_id": brand_id,
                "mode": mode,
                "player_id": event.player_id,
                "trigger": event.trigger,
                "source_event_id": event.source_event_id,
                "created_at": now,
            }
            for event in first.values()
        ],
        ("source_event_id",),
    )
    new = {source for (source,) in inserted}
    return [event for source, event in first.items() if source in new]


async def _active_journeys(session: AsyncSession, brand_id: str, mode: str) -> list[Journey]:
    """The brand's active journeys, read once per transaction."""
    memo = transaction_memo(session, "active_journeys")
    if (brand_id, mode) not in memo:
        rows = await session.execute(
            select(Journey)
            .where(Journey.brand_id == brand_id, Journey.mode == mode, Journey.status == "active")
            .order_by(col(Journey.id))
        )
        memo[brand_id, mode] = list(rows.scalars())
    active: list[Journey] = memo[brand_id, mode]
    return active


async def _locked_progress(
    session: AsyncSession, journeys: list[Journey], players: dict[str, str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Each player's progress on each journey, created on first use; the rows are held until commit, so that
    concurrent batches advance a player one after another."""
    found = await _read_progress(session, journeys, players)
    missing = [
        (journey, player) for journey in journeys for player in sorted(players) if (journey.id, player) not in found
    ]
    if missing:
        now = utcnow()
        await session.execute(
            insert_ignore(session, table(JourneyProgress)),
            [
                {
                    "journey_id": journey.id,
                    "player_id": player_id,
                    "username": players[player_id],
                    "step_index": 0,
                    "step_count": 0,
                    "completed_at": None,
                    "updated_at": now,
                }
                for journey, player_id in missing
            ],
        )
        found = await _read_progress(session, journeys, players)
    return found


async def _read_progress(
    session: AsyncSession, journeys: list[Journey], players: dict[str, str]
) -> dict[tuple[str, str], dict[str, Any]]:
    rows = table(JourneyProgress)
    found = await session.execute(
        rows.select()
        .where(
            among(session, rows.c.journey_id, [journey.id for journey in journeys]),
            among(session, rows.c.player_id, sorted(players)),
        )
        .order_by(rows.c.journey_id, rows.c.player_id)
        .with_for_update()
    )
    return {(row.journey_id, row.player_id): dict(row._mapping) for row in found}


def _advances(journey: Journey, progress: dict[str, Any], trigger: str) -> bool:
    """Whether *trigger* is what the player's current step on *journey* waits for."""
    return progress["completed_at"] is None and journey.steps[progress["step_index"]]["trigger"] == trigger


def _advance(journey: Journey, progress: dict[str, Any], player_id: str, now: datetime) -> list[Transfer]:
    """Count one trigger on the current step, moving on (and completing the journey) when the step is done;
    the rewards that earns."""
    step = journey.steps[progress["step_index"]]
    progress["step_count"] += 1
    progress["updated_at"] = now
    if progress["step_count"] < step["count"]:
        return []
    rewards = [_reward(journey, player_id, step.get("reward_winz") or 0, f"step{progress['step_index']}")]
    progress["step_index"] += 1
    progress["step_count"] = 0
    if progress["step_index"] < len(journey.steps):
        return rewards
    progress.update(step_index=len(journey.steps) - 1, step_count=journey.steps[-1]["count"], completed_at=now)
    return [*rewards, _reward(journey, player_id, journey.reward_winz, "completed")]


def _reward(journey: Journey, player_id: str, amount: int, what: str) -> Transfer:
    """A reward granted once: its reference names the journey, the player and what was done."""
    return Transfer(
        "journey.reward",
        f"{journey.id}:{player_id}:{what}",
        "WINZ",
        ("journey", journey.id),
        ("player", player_id),
        amount,
    )


def _completion(journey: Journey, username: str) -> Announcement:
    return Announcement(
        journey.tenant_id,
        journey.mode,
        "journey.completed",
        {
            "journey_id": journey.id,
            "journey_name": journey.name,
            "user": username,
            "reward_winz_granted": journey.reward_winz,
        },
    )
