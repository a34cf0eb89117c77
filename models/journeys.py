"""Journeys: ordered steps that a player completes by firing triggers, with rewards on the way.

A step is done when the player has fired its ``trigger`` ``count`` times while on that step. An
event advances every active journey of the brand whose current step waits on that trigger. Events
are counted once per ``source_event_id`` (unique key); rewards are ledger transactions whose
reference names the journey, player and step, so each is granted once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, select

from models.base import UTCDateTime, created_field, id_field, iso, new_id, table, utcnow
from models.db import insert_ignore
from models.engines import EngineColumns, get_engine_row, player_by_name
from models.ledger import transfer
from models.players import Player
from models.tenancy import Principal
from models.webhooks import emit_event


class Journey(EngineColumns, table=True):
    __tablename__ = "journeys"
    steps: list[dict[str, Any]] = Field(sa_type=JSON, nullable=False)
    reward_winz: int = Field(default=0)


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


async def fire(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    username: str,
    trigger: str,
    source_event_id: str,
) -> list[str]:
    """Advance the player on every active journey waiting on *trigger*, once per event; returns deliveries."""
    player = await player_by_name(session, brand_id=brand_id, mode=mode, username=username)
    inserted = await session.execute(
        insert_ignore(session, table(JourneyEvent)).values(
            id=new_id(),
            brand_id=brand_id,
            mode=mode,
            player_id=player.id,
            trigger=trigger,
            source_event_id=source_event_id,
            created_at=utcnow(),
        )
    )
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        return []  # this event was already counted
    journeys = await session.execute(
        select(Journey).where(Journey.brand_id == brand_id, Journey.mode == mode, Journey.status == "active")
    )
    deliveries: list[str] = []
    for journey in journeys.scalars():
        deliveries += await _advance(session, journey, player, trigger)
    return deliveries


async def _advance(session: AsyncSession, journey: Journey, player: Player, trigger: str) -> list[str]:
    progress = await get_progress(session, journey, player, lock=True)
    if progress is None:
        progress = JourneyProgress(journey_id=journey.id, player_id=player.id, username=player.username)
        session.add(progress)
    if progress.completed_at is not None or journey.steps[progress.step_index]["trigger"] != trigger:
        return []
    step = journey.steps[progress.step_index]
    progress.step_count += 1
    progress.updated_at = utcnow()
    if progress.step_count < step["count"]:
        await session.flush()
        return []
    await _grant(
        session, journey, player, step.get("reward_winz") or 0, f"{journey.id}:{player.id}:step{progress.step_index}"
    )
    progress.step_index += 1
    progress.step_count = 0
    if progress.step_index < len(journey.steps):
        await session.flush()
        return []
    progress.step_index = len(journey.steps) - 1
    progress.step_count = journey.steps[-1]["count"]
    progress.completed_at = utcnow()
    await _grant(session, journey, player, journey.reward_winz, f"{journey.id}:{player.id}:completed")
    await session.flush()
    return await emit_event(
        session,
        tenant_id=journey.tenant_id,
        mode=journey.mode,
        type="journey.completed",
        data={
            "journey_id": journey.id,
            "journey_name": journey.name,
            "user": player.username,
            "reward_winz_granted": journey.reward_winz,
        },
    )


async def _grant(session: AsyncSession, journey: Journey, player: Player, amount: int, reference: str) -> None:
    await transfer(
        session,
        tenant_id=journey.tenant_id,
        mode=journey.mode,
        kind="journey.reward",
        reference=reference,
        asset="WINZ",
        payer=("journey", journey.id),
        payees=[(("player", player.id), amount)],
    )
