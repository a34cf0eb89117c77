"""Jackpots: a pool in a currency, grown by contributions from wagers and dropped to one player.

The pool is a ledger account, so ``pool = seed + contributions - drops`` holds at every instant by
construction: seeding, contributing and dropping are all balanced transactions. A contribution is
recorded once per ``source_wager_id`` (unique key). When a pool reaches ``must_drop_at`` the same
transaction drops it to that contributor; the guarded update of the pool's account row serializes
contributions, so exactly one of them crosses the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from models.assets import from_units
from models.base import created_field, id_field, iso, new_id, table, utcnow
from models.db import insert_ignore
from models.engines import EngineColumns, get_engine_row, player_by_name, remember
from models.errors import Conflict, InvalidInput
from models.idempotency import Outcome, earlier_outcome
from models.ledger import Owner, balances, transfer
from models.players import Player
from models.tenancy import Principal
from models.webhooks import emit_event

DROP = "jackpot.drop"


class Jackpot(EngineColumns, table=True):
    __tablename__ = "jackpots"
    currency: str = Field(max_length=8)
    seed_amount: int = Field(sa_type=BigInteger)
    must_drop_at: int | None = Field(default=None, sa_type=BigInteger)
    last_contributor_id: str | None = Field(default=None, max_length=36)


class JackpotContribution(SQLModel, table=True):
    __tablename__ = "jackpot_contributions"
    __table_args__ = (UniqueConstraint("jackpot_id", "source_wager_id"),)
    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(default_factory=new_id, max_length=36, unique=True)
    jackpot_id: str = Field(foreign_key="jackpots.id", max_length=36, index=True)
    player_id: str = Field(foreign_key="players.id", max_length=36)
    username: str = Field(max_length=64)
    source_wager_id: str = Field(max_length=255)
    amount: int = Field(sa_type=BigInteger)
    created_at: datetime = created_field()


class JackpotDrop(SQLModel, table=True):
    __tablename__ = "jackpot_drops"
    id: str = id_field()
    jackpot_id: str = Field(foreign_key="jackpots.id", max_length=36, index=True)
    winner_username: str = Field(max_length=64)
    amount: int = Field(sa_type=BigInteger)
    pool_before: int = Field(sa_type=BigInteger)
    pool_after: int = Field(sa_type=BigInteger)
    trigger_reason: str = Field(max_length=16)
    created_at: datetime = created_field()


async def pool_of(session: AsyncSession, jackpot: Jackpot) -> int:
    """The pool's balance (a read: safe in read-only transactions)."""
    held = await balances(session, owner_type="jackpot_pool", owner_id=jackpot.id)
    return held.get(jackpot.currency, 0)


def _money(jackpot: Jackpot) -> Callable[[int], int | str]:
    return lambda units: from_units(jackpot.currency, units)


def jackpot_view(jackpot: Jackpot, pool: int) -> dict[str, Any]:
    money = _money(jackpot)
    return {
        "id": jackpot.id,
        "name": jackpot.name,
        "currency": jackpot.currency,
        "seed_amount": money(jackpot.seed_amount),
        "must_drop_at": money(jackpot.must_drop_at) if jackpot.must_drop_at is not None else None,
        "pool": money(pool),
        "status": jackpot.status,
        "created_at": iso(jackpot.created_at),
        "updated_at": iso(jackpot.updated_at),
    }


async def _move(
    session: AsyncSession, jackpot: Jackpot, kind: str, reference: str, payer: Owner, payee: Owner, amount: int
) -> None:
    await transfer(
        session,
        tenant_id=jackpot.tenant_id,
        mode=jackpot.mode,
        kind=kind,
        reference=reference,
        asset=jackpot.currency,
        payer=payer,
        payees=[(payee, amount)],
    )


async def _seed(session: AsyncSession, jackpot: Jackpot, reference: str) -> None:
    pool: Owner = ("jackpot_pool", jackpot.id)
    await _move(session, jackpot, "jackpot.seed", reference, ("jackpot", jackpot.id), pool, jackpot.seed_amount)


async def create_jackpot(
    session: AsyncSession, principal: Principal, *, name: str, currency: str, seed_amount: int, must_drop_at: int | None
) -> Jackpot:
    if must_drop_at is not None and must_drop_at <= seed_amount:
        raise InvalidInput("must be above seed_amount", field="must_drop_at")
    jackpot = Jackpot(
        tenant_id=principal.tenant_id,
        brand_id=principal.brand_id,
        mode=principal.mode,
        name=name,
        currency=currency,
        seed_amount=seed_amount,
        must_drop_at=must_drop_at,
    )
    session.add(jackpot)
    await session.flush()
    await _seed(session, jackpot, f"{jackpot.id}:created")
    return jackpot


async def get_jackpot(session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, jackpot_id: str) -> Jackpot:
    return await get_engine_row(
        session, Jackpot, "jackpot", tenant_id=tenant_id, mode=mode, brand_id=brand_id, engine_id=jackpot_id
    )


async def contribute(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    jackpot_id: str,
    username: str,
    source_wager_id: str,
    amount: int,
) -> list[str]:
    """Grow the pool once per ``source_wager_id``; drop it if it reaches ``must_drop_at``. Returns deliveries."""
    jackpot = await get_jackpot(session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, jackpot_id=jackpot_id)
    if jackpot.status != "active":
        raise Conflict(f"jackpot is {jackpot.status}")
    player = await player_by_name(session, brand_id=brand_id, mode=mode, username=username)
    contribution_id = new_id()
    inserted = await session.execute(
        insert_ignore(session, table(JackpotContribution)).values(
            id=contribution_id,
            jackpot_id=jackpot.id,
            player_id=player.id,
            username=username,
            source_wager_id=source_wager_id,
            amount=amount,
            created_at=utcnow(),
        )
    )
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        return []  # this wager was already counted
    pool: Owner = ("jackpot_pool", jackpot.id)
    await _move(session, jackpot, "jackpot.contribute", contribution_id, ("jackpot", jackpot.id), pool, amount)
    jackpot.last_contributor_id = player.id
    if jackpot.must_drop_at is not None and await pool_of(session, jackpot) >= jackpot.must_drop_at:
        _, deliveries = await _drop(session, jackpot, player.id, username, "must_drop", new_id())
        return deliveries
    return []


async def _drop(
    session: AsyncSession, jackpot: Jackpot, winner_id: str, winner: str, reason: str, drop_id: str
) -> tuple[dict[str, Any], list[str]]:
    """Pay the whole pool to the winner and reseed it, in the caller's transaction."""
    pool = await pool_of(session, jackpot)
    await _move(session, jackpot, DROP, drop_id, ("jackpot_pool", jackpot.id), ("player", winner_id), pool)
    await _seed(session, jackpot, f"{drop_id}:reseed")
    after = await pool_of(session, jackpot)
    dropped = JackpotDrop(
        id=drop_id,
        jackpot_id=jackpot.id,
        winner_username=winner,
        amount=pool,
        pool_before=pool,
        pool_after=after,
        trigger_reason=reason,
    )
    session.add(dropped)
    body = drop_view(jackpot, dropped)
    event = {
        key: body[key]
        for key in ("jackpot_id", "winner_username", "amount", "pool_before", "pool_after", "trigger_reason")
    }
    deliveries = await emit_event(
        session,
        tenant_id=jackpot.tenant_id,
        mode=jackpot.mode,
        type="jackpot.dropped",
        data={**event, "currency": jackpot.currency},
    )
    return body, deliveries


def drop_view(jackpot: Jackpot, dropped: JackpotDrop) -> dict[str, Any]:
    money = _money(jackpot)
    return {
        "drop_id": dropped.id,
        "jackpot_id": jackpot.id,
        "winner_username": dropped.winner_username,
        "currency": jackpot.currency,
        "amount": money(dropped.amount),
        "pool_before": money(dropped.pool_before),
        "pool_after": money(dropped.pool_after),
        "trigger_reason": dropped.trigger_reason,
        "dropped_at": iso(dropped.created_at),
    }


async def drop_jackpot(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    jackpot_id: str,
    winner_username: str | None,
    idempotency_key: str,
    fingerprint: str,
    operation_id: str,
) -> Outcome:
    """Drop on demand, once per idempotency key; the winner defaults to the last contributor."""
    earlier = await earlier_outcome(
        session,
        tenant_id=tenant_id,
        mode=mode,
        operation=DROP,
        key=idempotency_key,
        fingerprint=fingerprint,
        operation_id=operation_id,
    )
    if earlier is not None:
        return earlier
    jackpot = await get_jackpot(session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, jackpot_id=jackpot_id)
    if winner_username is not None:
        winner = await player_by_name(
            session, brand_id=brand_id, mode=mode, username=winner_username, field="winner_user_id"
        )
    elif jackpot.last_contributor_id is not None:
        found = await session.get(Player, jackpot.last_contributor_id)
        assert found is not None
        winner = found
    else:
        raise Conflict("no winner_user_id given and nobody has contributed yet")
    body, deliveries = await _drop(session, jackpot, winner.id, winner.username, "manual", operation_id)
    remember(
        session,
        tenant_id=tenant_id,
        mode=mode,
        operation=DROP,
        key=idempotency_key,
        fingerprint=fingerprint,
        operation_id=operation_id,
        status=201,
        body=body,
    )
    return 201, body, deliveries, False
