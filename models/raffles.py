"""Raffles: players buy numbered tickets; one provably fair draw over the whole pool picks the winner.

The raffle commits to ``server_seed_hash`` at creation. Tickets are numbered in entry order by an
atomic ``UPDATE ... RETURNING`` of the raffle's ticket count, so numbering holds across processes.
The draw flips the raffle from ``open`` to ``completed`` with a compare-and-set: however many
callers or schedulers try, one draw happens and one prize is paid.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.base import UTCDateTime, created_field, id_field, iso, table, utcnow
from models.engines import EngineColumns, get_engine_row, player_by_name, remember
from models.errors import Conflict, InvalidInput
from models.fairness import draw_index, new_server_seed, seed_hash
from models.idempotency import Outcome, earlier_outcome
from models.ledger import transfer
from models.tenancy import Principal
from models.webhooks import emit_event

ENTER = "raffle.enter"
DRAW = "raffle.draw"


class Raffle(EngineColumns, table=True):
    __tablename__ = "raffles"
    ticket_cost_winz: int = Field(sa_type=BigInteger)
    prize_winz: int = Field(sa_type=BigInteger)
    draw_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    server_seed: str = Field(max_length=64)
    server_seed_hash: str = Field(max_length=64)
    total_tickets: int = Field(default=0, sa_type=BigInteger)
    # status: active (open for entries), paused, archived, completed (drawn)


class RaffleEntry(SQLModel, table=True):
    __tablename__ = "raffle_entries"
    __table_args__ = (UniqueConstraint("raffle_id", "first_ticket"),)
    id: str = id_field()
    raffle_id: str = Field(foreign_key="raffles.id", max_length=36, index=True)
    player_id: str = Field(foreign_key="players.id", max_length=36)
    username: str = Field(max_length=64)
    tickets: int
    first_ticket: int = Field(sa_type=BigInteger)
    last_ticket: int = Field(sa_type=BigInteger)
    cost_winz: int = Field(sa_type=BigInteger)
    created_at: datetime = created_field()


class RaffleDraw(SQLModel, table=True):
    __tablename__ = "raffle_draws"
    id: str = id_field()
    raffle_id: str = Field(foreign_key="raffles.id", max_length=36, unique=True)
    winner_username: str = Field(max_length=64)
    winning_ticket_idx: int = Field(sa_type=BigInteger)
    total_tickets: int = Field(sa_type=BigInteger)
    entries_hash: str = Field(max_length=64)
    client_seed: str = Field(max_length=128)
    created_at: datetime = created_field()


def raffle_view(raffle: Raffle) -> dict[str, Any]:
    view = {
        "id": raffle.id,
        "name": raffle.name,
        "ticket_cost_winz": raffle.ticket_cost_winz,
        "prize_winz": raffle.prize_winz,
        "draw_at": iso(raffle.draw_at) if raffle.draw_at else None,
        "status": raffle.status,
        "total_tickets": raffle.total_tickets,
        "server_seed_hash": raffle.server_seed_hash,
        "created_at": iso(raffle.created_at),
        "updated_at": iso(raffle.updated_at),
    }
    if raffle.status == "completed":
        view["server_seed"] = raffle.server_seed
    return view


def entry_view(entry: RaffleEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "raffle_id": entry.raffle_id,
        "user_id": entry.username,
        "tickets": entry.tickets,
        "first_ticket": entry.first_ticket,
        "last_ticket": entry.last_ticket,
        "cost_winz": entry.cost_winz,
        "created_at": iso(entry.created_at),
    }


def entries_hash(entries: list[RaffleEntry]) -> str:
    """SHA-256 of the frozen entry list: JSON ``[[username, first_ticket, last_ticket], ...]`` in ticket order."""
    frozen = [[entry.username, entry.first_ticket, entry.last_ticket] for entry in entries]
    return hashlib.sha256(json.dumps(frozen, separators=(",", ":")).encode()).hexdigest()


async def create_raffle(session: AsyncSession, principal: Principal, *, config: dict[str, Any]) -> Raffle:
    seed = new_server_seed()
    raffle = Raffle(
        tenant_id=principal.tenant_id,
        brand_id=principal.brand_id,
        mode=principal.mode,
        server_seed=seed,
        server_seed_hash=seed_hash(seed),
        **config,
    )
    session.add(raffle)
    await session.flush()
    return raffle


async def get_raffle(session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, raffle_id: str) -> Raffle:
    return await get_engine_row(
        session, Raffle, "raffle", tenant_id=tenant_id, mode=mode, brand_id=brand_id, engine_id=raffle_id
    )


def move_draw(raffle: Raffle, draw_at: datetime) -> None:
    """Set when the raffle draws, if its draw is still ahead (or came without a ticket to draw), to a moment ahead."""
    now = utcnow()
    if raffle.status == "completed":
        raise Conflict("a completed raffle keeps its draw", field="draw_at")
    if raffle.draw_at is not None and raffle.draw_at <= now and raffle.total_tickets > 0:
        raise Conflict("draw_at has passed: only a draw still ahead moves", field="draw_at")
    if draw_at <= now:
        raise InvalidInput("must be in the future", field="draw_at")
    raffle.draw_at = draw_at


async def enter_raffle(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    raffle_id: str,
    username: str,
    tickets: int,
    idempotency_key: str,
    fingerprint: str,
    operation_id: str,
) -> Outcome:
    """Buy *tickets* for a player once per idempotency key."""
    earlier = await earlier_outcome(
        session,
        tenant_id=tenant_id,
        mode=mode,
        operation=ENTER,
        key=idempotency_key,
        fingerprint=fingerprint,
        operation_id=operation_id,
    )
    if earlier is not None:
        return earlier
    raffle = await get_raffle(session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, raffle_id=raffle_id)
    player = await player_by_name(session, brand_id=brand_id, mode=mode, username=username)
    if raffle.status != "active" or (raffle.draw_at is not None and raffle.draw_at <= utcnow()):
        raise Conflict("this raffle is not open for entries")
    raffles = table(Raffle).c
    numbered = await session.execute(
        update(table(Raffle))
        .where(raffles.id == raffle.id, raffles.status == "active")
        .values(total_tickets=raffles.total_tickets + tickets)
        .returning(raffles.total_tickets)
    )
    total = numbered.scalar_one_or_none()
    if total is None:
        raise Conflict("this raffle is not open for entries")
    cost = raffle.ticket_cost_winz * tickets
    await transfer(
        session,
        tenant_id=tenant_id,
        mode=mode,
        kind=ENTER,
        reference=operation_id,
        asset="WINZ",
        payer=("player", player.id),
        payees=[(("raffle", raffle.id), cost)],
    )
    entry = RaffleEntry(
        id=operation_id,
        raffle_id=raffle.id,
        player_id=player.id,
        username=username,
        tickets=tickets,
        first_ticket=total - tickets,
        last_ticket=total - 1,
        cost_winz=cost,
    )
    session.add(entry)
    body = {**entry_view(entry), "deduped": False}
    remember(
        session,
        tenant_id=tenant_id,
        mode=mode,
        operation=ENTER,
        key=idempotency_key,
        fingerprint=fingerprint,
        operation_id=operation_id,
        status=201,
        body=body,
    )
    return 201, body, [], False


async def draw_raffle(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    raffle_id: str,
    client_seed: str | None,
    idempotency_key: str,
    fingerprint: str,
    operation_id: str,
) -> Outcome:
    """Draw the winning ticket and pay the prize, once per raffle."""
    earlier = await earlier_outcome(
        session,
        tenant_id=tenant_id,
        mode=mode,
        operation=DRAW,
        key=idempotency_key,
        fingerprint=fingerprint,
        operation_id=operation_id,
    )
    if earlier is not None:
        return earlier
    raffle = await get_raffle(session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, raffle_id=raffle_id)
    if raffle.status == "completed":
        raise Conflict("this raffle has already been drawn")
    if raffle.total_tickets == 0:
        raise Conflict("this raffle has no tickets to draw")
    raffles = table(Raffle).c
    flipped = await session.execute(
        update(table(Raffle))
        .where(raffles.id == raffle.id, raffles.status != "completed")
        .values(status="completed", updated_at=utcnow())
    )
    if flipped.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this raffle has already been drawn")
    entries = list(
        (
            await session.execute(
                select(RaffleEntry).where(RaffleEntry.raffle_id == raffle.id).order_by(col(RaffleEntry.first_ticket))
            )
        ).scalars()
    )
    total = entries[-1].last_ticket + 1
    client_seed = client_seed if client_seed is not None else raffle.id
    index = draw_index(raffle.server_seed, client_seed, 0, total)
    winner = next(entry for entry in entries if entry.first_ticket <= index <= entry.last_ticket)
    await transfer(
        session,
        tenant_id=tenant_id,
        mode=mode,
        kind=DRAW,
        reference=raffle.id,
        asset="WINZ",
        payer=("raffle", raffle.id),
        payees=[(("player", winner.player_id), raffle.prize_winz)],
    )
    drawn = RaffleDraw(
        id=operation_id,
        raffle_id=raffle.id,
        winner_username=winner.username,
        winning_ticket_idx=index,
        total_tickets=total,
        entries_hash=entries_hash(entries),
        client_seed=client_seed,
    )
    session.add(drawn)
    body = {
        "draw_id": drawn.id,
        "raffle_id": raffle.id,
        "winner_username": winner.username,
        "prize_winz": raffle.prize_winz,
        "winning_ticket_idx": index,
        "total_tickets": total,
        "entries_hash": drawn.entries_hash,
        "client_seed": client_seed,
        "nonce": 0,
        "server_seed": raffle.server_seed,
        "server_seed_hash": raffle.server_seed_hash,
        "drawn_at": iso(drawn.created_at),
    }
    remember(
        session,
        tenant_id=tenant_id,
        mode=mode,
        operation=DRAW,
        key=idempotency_key,
        fingerprint=fingerprint,
        operation_id=operation_id,
        status=201,
        body=body,
    )
    event = {
        "raffle_id": raffle.id,
        "raffle_name": raffle.name,
        "winner_username": winner.username,
        "prize_winz": raffle.prize_winz,
        "winning_ticket_idx": index,
        "total_tickets": total,
        "server_seed_hash": raffle.server_seed_hash,
    }
    deliveries = await emit_event(session, tenant_id=tenant_id, mode=mode, type="raffle.drawn", data=event)
    return 201, body, deliveries, False


async def due_raffles(session: AsyncSession, now: datetime) -> list[Raffle]:
    """Open raffles whose ``draw_at`` has come and that have tickets."""
    rows = await session.execute(
        select(Raffle).where(Raffle.status == "active", col(Raffle.draw_at) <= now, Raffle.total_tickets > 0)
    )
    return list(rows.scalars())
