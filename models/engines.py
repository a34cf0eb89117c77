"""What every engine shares: its scope columns, lookup by id within a key's scope, and status changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models.base import UTCDateTime, created_field, id_field, table, utcnow
from models.errors import Conflict, InvalidInput, NotFound
from models.idempotency import IdempotencyRecord
from models.players import Player
from models.statements import among

STATUSES = frozenset({"active", "paused", "archived"})
FINAL_STATUSES = frozenset({"completed", "closed"})  # a drawn raffle, a paid tournament


class EngineColumns(SQLModel):
    id: str = id_field()
    tenant_id: str = Field(max_length=36, index=True)
    brand_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    name: str = Field(max_length=200)
    status: str = Field(default="active", max_length=10)
    created_at: datetime = created_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


E = TypeVar("E", bound=EngineColumns)


async def get_engine_row(
    session: AsyncSession,
    model: type[E],
    noun: str,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    engine_id: str,
    locked: bool = False,
) -> E:
    """The engine with this id in the key's tenant, brand and mode, or ``NotFound``; *locked*, its row is held
    until the transaction ends (``FOR UPDATE``, where the database has row locks)."""
    where = {"engine_id": engine_id, "tenant_id": tenant_id, "mode": mode, "brand_id": brand_id}
    row: E | None = (await session.execute(_engine_by_id(model, locked), where)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no {noun} {engine_id!r}")
    return row


async def engine_rows(
    session: AsyncSession, model: type[E], *, tenant_id: str, mode: str, brand_id: str, engine_ids: Sequence[str]
) -> list[E]:
    """The engines of these ids that are in the key's tenant, brand and mode, in one statement."""
    rows = await session.execute(
        select(model).where(
            among(session, table(model).c.id, engine_ids),
            col(model.tenant_id) == tenant_id,
            col(model.mode) == mode,
            col(model.brand_id) == brand_id,
        )
    )
    return list(rows.scalars())


@cache
def _engine_by_id(model: type[E], locked: bool) -> SelectOfScalar[E]:
    """Built once per engine kind: building and keying a statement costs more than running it."""
    statement = select(model).where(
        col(model.id) == bindparam("engine_id"),
        col(model.tenant_id) == bindparam("tenant_id"),
        col(model.mode) == bindparam("mode"),
        col(model.brand_id) == bindparam("brand_id"),
    )
    return statement.with_for_update() if locked else statement


def change_engine(
    engine: EngineColumns, *, name: str | None, status: str | None, allowed: frozenset[str] = STATUSES
) -> None:
    if status is not None and status not in allowed:
        raise InvalidInput(f"must be one of {', '.join(sorted(allowed))}", field="status")
    if status is not None and engine.status in FINAL_STATUSES:
        raise Conflict(f"a {engine.status} engine keeps its status")
    engine.name = name if name is not None else engine.name
    engine.status = status if status is not None else engine.status
    engine.updated_at = utcnow()


async def player_by_name(
    session: AsyncSession, *, brand_id: str, mode: str, username: str, field: str = "user_id"
) -> Player:
    player = (
        await session.execute(
            select(Player).where(Player.brand_id == brand_id, Player.mode == mode, Player.username == username)
        )
    ).scalar_one_or_none()
    if player is None:
        raise NotFound(f"no player {username!r}", field=field)
    return player


def remember(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    operation: str,
    key: str,
    fingerprint: str,
    operation_id: str,
    status: int,
    body: dict[str, Any],
) -> None:
    """Store an operation's answer under its idempotency key, in the caller's transaction."""
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id,
            mode=mode,
            operation=operation,
            key=key,
            fingerprint=fingerprint,
            operation_id=operation_id,
            status_code=status,
            response=body,
        )
    )


def engine_cache_key(engine_id: str) -> str:
    """Where the API caches an engine's facts; whoever changes the engine deletes it."""
    return f"wowsino:engine:{engine_id}"
