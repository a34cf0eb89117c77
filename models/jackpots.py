"""Jackpots: a pool in a currency, grown by contributions from wagers and dropped to one player.

The pool is a ledger account, so ``pool = seed + contributions - drops`` holds at every instant by
construction: seeding, contributing and dropping are all balanced transactions. A contribution is
recorded once per ``source_wager_id`` (unique key). When a pool reaches ``must_drop_at`` the same
transaction drops it to that contributor; contributions to such a pool first lock its account row,
which serializes them, so exactly one of them crosses the threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from models.assets import from_units
from models.base import created_field, id_field, iso, new_id, table, utcnow
from models.engines import EngineColumns, get_engine_row, player_by_name, remember
from models.errors import Conflict, InvalidInput
from models.idempotency import Outcome, earlier_outcome
from models.ledger import (
    Owner,
    Prepared,
    Transfer,
    account_ids,
    balances_of,
    locked_balances,
    prepare_transfers,
    transfer,
    transfer_many,
)
from models.players import Player
from models.statements import RowUpdate, insert_new, write_rows
from models.tenancy import Principal
from models.webhooks import Announcement, emit_events

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
    return (await pools_of(session, [jackpot]))[jackpot.id]


async def pools_of(session: AsyncSession, jackpots: Sequence[Jackpot]) -> dict[str, int]:
    """Each jackpot's pool balance by jackpot id, in one read (safe in read-only transactions)."""
    held = await balances_of(session, owner_type="jackpot_pool", owner_ids=[jackpot.id for jackpot in jackpots])
    return {jackpot.id: held.get((jackpot.id, jackpot.currency), 0) for jackpot in jackpots}


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


@dataclass(frozen=True)
class Contributed:
    """A wager's contribution to a jackpot, as the pipeline applies it."""

    jackpot: Jackpot
    player_id: str
    username: str
    source_wager_id: str
    amount: int


_NOTE_CONTRIBUTOR = (
    update(table(Jackpot))
    .where(table(Jackpot).c.id == bindparam("jackpot"))
    .values(last_contributor_id=bindparam("contributor"))
)
_NOTE_CONTRIBUTORS_FROM_JSON = (  # PostgreSQL, in ``write_rows``'s statement
    "UPDATE jackpots SET last_contributor_id = r.contributor"
    " FROM json_to_recordset({rows}) AS r(jackpot varchar, contributor varchar)"
    " WHERE jackpots.id = r.jackpot RETURNING jackpots.id"
)


@dataclass(frozen=True)
class Growth:
    """How recorded contributions grow their pools, ready to write (``plan_growth``, then ``grow_pools``)."""

    prepared: Prepared  # the contributions' and drops' ledger transactions
    contributors: list[dict[str, str]]  # each jackpot's last contributor
    drops: list[tuple[Jackpot, JackpotDrop]]


async def plan_growth(
    session: AsyncSession, *, tenant_id: str, mode: str, counted: Sequence[tuple[str, Contributed]]
) -> Growth:
    """How recorded contributions (``record_contributions``) grow each pool, in order; a pool that reaches
    ``must_drop_at`` drops to the contributor who took it there and is reseeded (such pools' balances are read
    and locked here). Nothing else is written: ``grow_pools`` writes it."""
    by_jackpot: dict[str, list[tuple[str, Contributed]]] = {}
    for contribution_id, wager in counted:
        by_jackpot.setdefault(wager.jackpot.id, []).append((contribution_id, wager))
    jackpots = [wagers[0][1].jackpot for _, wagers in sorted(by_jackpot.items())]
    pools = await _locked_pools(
        session, tenant_id, mode, [jackpot for jackpot in jackpots if jackpot.must_drop_at is not None]
    )
    transfers: list[Transfer] = []
    drops: list[tuple[Jackpot, JackpotDrop]] = []
    for jackpot in jackpots:
        pool, funding = pools.get(jackpot.id, 0), ("jackpot", jackpot.id)
        for contribution_id, wager in by_jackpot[jackpot.id]:
            transfers.append(
                Transfer("jackpot.contribute", contribution_id, jackpot.currency, funding, _pool(jackpot), wager.amount)
            )
            pool += wager.amount
            if jackpot.must_drop_at is not None and pool >= jackpot.must_drop_at:
                dropped, moves = _planned_drop(jackpot, wager.player_id, wager.username, "must_drop", new_id(), pool)
                drops.append((jackpot, dropped))
                transfers += moves
                pool = dropped.pool_after
    return Growth(
        await prepare_transfers(session, tenant_id=tenant_id, mode=mode, transfers=transfers),
        [{"jackpot": jackpot.id, "contributor": by_jackpot[jackpot.id][-1][1].player_id} for jackpot in jackpots],
        drops,
    )


async def grow_pools(session: AsyncSession, growth: Growth) -> list[str]:
    """Write a ``plan_growth``: its ledger rows, the pools' balances and the jackpots' last contributors in one
    ``write_rows`` (one statement on PostgreSQL: the rows every contribution to a jackpot changes are locked
    last), then its drops; returns the drops' webhook deliveries."""
    if not growth.contributors:
        return []
    contributors = RowUpdate(_NOTE_CONTRIBUTOR, _NOTE_CONTRIBUTORS_FROM_JSON, growth.contributors)
    await write_rows(session, growth.prepared.rows, [contributors, growth.prepared.balances])
    session.add_all(dropped for _, dropped in growth.drops)
    return await emit_events(session, [_announcement(jackpot, dropped) for jackpot, dropped in growth.drops])


async def record_contributions(
    session: AsyncSession, contributions: Sequence[Contributed]
) -> list[tuple[str, Contributed]]:
    """Insert each contribution once per wager; ``(contribution id, contribution)`` of the new ones, in order."""
    first: dict[tuple[str, str], Contributed] = {}
    for wager in contributions:  # a wager posted twice in one batch: the first counts, like a later replay
        first.setdefault((wager.jackpot.id, wager.source_wager_id), wager)
    ids = {key: new_id() for key in first}
    rows = table(JackpotContribution)
    now = utcnow()
    inserted = await insert_new(
        session,
        rows,
        [
            {
                "id": ids[key],
                "jackpot_id": wager.jackpot.id,
                "player_id": wager.player_id,
                "username": wager.username,
                "source_wager_id": wager.source_wager_id,
                "amount": wager.amount,
                "created_at": now,
            }
            for key, wager in first.items()
        ],
        ("jackpot_id", "source_wager_id"),
    )
    new = {(jackpot_id, wager_id) for jackpot_id, wager_id in inserted}
    return [(ids[key], wager) for key, wager in first.items() if key in new]


async def _locked_pools(session: AsyncSession, tenant_id: str, mode: str, jackpots: list[Jackpot]) -> dict[str, int]:
    """The pools' balances, their rows held until commit so that one contribution at a time crosses must_drop_at."""
    owners = {(_pool(jackpot), jackpot.currency): jackpot.id for jackpot in jackpots}
    if not owners:
        return {}
    accounts = await account_ids(session, tenant_id=tenant_id, mode=mode, wanted=owners)
    held = await locked_balances(session, list(accounts.values()))
    return {owners[owner]: held[account] for owner, account in accounts.items()}


def _pool(jackpot: Jackpot) -> Owner:
    return ("jackpot_pool", jackpot.id)


def _planned_drop(
    jackpot: Jackpot, winner_id: str, winner: str, reason: str, drop_id: str, pool: int
) -> tuple[JackpotDrop, list[Transfer]]:
    """The drop of a pool holding *pool* units to the winner, and the movements that pay it and reseed the pool."""
    dropped = JackpotDrop(
        id=drop_id,
        jackpot_id=jackpot.id,
        winner_username=winner,
        amount=pool,
        pool_before=pool,
        pool_after=jackpot.seed_amount,
        trigger_reason=reason,
    )
    moves = [
        Transfer(DROP, drop_id, jackpot.currency, _pool(jackpot), ("player", winner_id), pool),
        Transfer(
            "jackpot.seed",
            f"{drop_id}:reseed",
            jackpot.currency,
            ("jackpot", jackpot.id),
            _pool(jackpot),
            jackpot.seed_amount,
        ),
    ]
    return dropped, moves


def _announcement(jackpot: Jackpot, dropped: JackpotDrop) -> Announcement:
    body = drop_view(jackpot, dropped)
    keys = ("jackpot_id", "winner_username", "amount", "pool_before", "pool_after", "trigger_reason")
    data = {key: body[key] for key in keys}
    return Announcement(jackpot.tenant_id, jackpot.mode, "jackpot.dropped", {**data, "currency": jackpot.currency})


async def _drop(
    session: AsyncSession, jackpot: Jackpot, winner_id: str, winner: str, reason: str, drop_id: str
) -> tuple[dict[str, Any], list[str]]:
    """Pay the whole pool to the winner and reseed it, in the caller's transaction."""
    pool = await _held_pool(session, jackpot, winner_id)
    dropped, moves = _planned_drop(jackpot, winner_id, winner, reason, drop_id, pool)
    await transfer_many(session, tenant_id=jackpot.tenant_id, mode=jackpot.mode, transfers=moves)
    session.add(dropped)
    return drop_view(jackpot, dropped), await emit_events(session, [_announcement(jackpot, dropped)])


async def _held_pool(session: AsyncSession, jackpot: Jackpot, winner_id: str) -> int:
    """The pool's balance, read under the locks a contribution takes, in the order it takes them: the pool of a
    jackpot with ``must_drop_at`` first (``plan_growth``), then every account the drop moves in account order (a
    contribution's balance update). Read without them, a contribution committed meanwhile stayed in the pool
    the drop emptied, or dropped the same pool to its own player first: paid twice, the pool below zero."""
    if jackpot.must_drop_at is not None:
        await _locked_pools(session, jackpot.tenant_id, jackpot.mode, [jackpot])
    owners = [_pool(jackpot), ("jackpot", jackpot.id), ("player", winner_id)]
    wanted = [(owner, jackpot.currency) for owner in owners]
    accounts = await account_ids(session, tenant_id=jackpot.tenant_id, mode=jackpot.mode, wanted=wanted)
    held = await locked_balances(session, list(accounts.values()))
    return held[accounts[_pool(jackpot), jackpot.currency]]


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
