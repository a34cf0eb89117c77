"""Lootboxes: a prize table drawn with the player's fairness commitment, optionally for a WINZ cost."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.assets import to_units
from models.base import UTCDateTime, created_field, id_field, iso, utcnow
from models.errors import Conflict, Cooldown, InvalidInput, NotFound
from models.fairness import draw_weighted
from models.idempotency import IdempotencyRecord, find_record
from models.ledger import Leg, account_id, post_transaction
from models.players import Player, advance_commitment
from models.prizes import normalize_prize_table, weights
from models.tenancy import Principal
from models.webhooks import emit_event

OPERATION = "lootbox.open"
STATUSES = frozenset({"active", "paused", "archived"})


class Lootbox(SQLModel, table=True):
    __tablename__ = "lootboxes"
    id: str = id_field()
    tenant_id: str = Field(max_length=36, index=True)
    brand_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    name: str = Field(max_length=200)
    prize_table: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    cost_winz: int = Field(default=0)
    cooldown_s: int = Field(default=0)
    status: str = Field(default="active", max_length=10)
    created_at: datetime = created_field()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class LootboxOpen(SQLModel, table=True):
    __tablename__ = "lootbox_opens"
    id: str = id_field()
    lootbox_id: str = Field(foreign_key="lootboxes.id", max_length=36, index=True)
    tenant_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    player_id: str = Field(foreign_key="players.id", max_length=36, index=True)
    segment_label: str = Field(max_length=64)
    asset: str = Field(max_length=8)
    amount: str = Field(max_length=40)
    cost_winz: int
    server_seed: str = Field(max_length=64)
    server_seed_hash: str = Field(max_length=64)
    client_seed: str = Field(max_length=128)
    nonce: int
    idempotency_key: str = Field(max_length=255)
    created_at: datetime = created_field()


def lootbox_view(box: Lootbox) -> dict[str, Any]:
    return {
        "id": box.id,
        "name": box.name,
        "prize_table": box.prize_table,
        "cost_winz": box.cost_winz,
        "cooldown_s": box.cooldown_s,
        "status": box.status,
        "created_at": iso(box.created_at),
        "updated_at": iso(box.updated_at),
    }


async def create_lootbox(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    prize_table: list[dict[str, Any]],
    cost_winz: int,
    cooldown_s: int,
) -> Lootbox:
    box = Lootbox(
        tenant_id=principal.tenant_id,
        brand_id=principal.brand_id,
        mode=principal.mode,
        name=name,
        prize_table=normalize_prize_table(prize_table),
        cost_winz=cost_winz,
        cooldown_s=cooldown_s,
    )
    session.add(box)
    await session.flush()
    return box


async def get_lootbox(session: AsyncSession, *, tenant_id: str, mode: str, brand_id: str, lootbox_id: str) -> Lootbox:
    box = (
        await session.execute(
            select(Lootbox).where(
                Lootbox.id == lootbox_id,
                Lootbox.tenant_id == tenant_id,
                Lootbox.mode == mode,
                Lootbox.brand_id == brand_id,
            )
        )
    ).scalar_one_or_none()
    if box is None:
        raise NotFound(f"no lootbox {lootbox_id!r}")
    return box


async def list_lootboxes(session: AsyncSession, principal: Principal) -> list[Lootbox]:
    rows = await session.execute(
        select(Lootbox)
        .where(
            Lootbox.tenant_id == principal.tenant_id,
            Lootbox.mode == principal.mode,
            Lootbox.brand_id == principal.brand_id,
        )
        .order_by(col(Lootbox.created_at).desc())
    )
    return list(rows.scalars())


async def update_lootbox(session: AsyncSession, box: Lootbox, *, name: str | None, status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InvalidInput("must be active, paused or archived", field="status")
    box.name = name if name is not None else box.name
    box.status = status if status is not None else box.status
    box.updated_at = utcnow()
    await session.flush()


async def _check_cooldown(session: AsyncSession, box: Lootbox, player: Player) -> None:
    if not box.cooldown_s:
        return
    last = (
        await session.execute(
            select(LootboxOpen.created_at)
            .where(LootboxOpen.lootbox_id == box.id, LootboxOpen.player_id == player.id)
            .order_by(col(LootboxOpen.created_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if last is None:
        return
    wait = box.cooldown_s - (utcnow() - last).total_seconds()
    if wait > 0:
        raise Cooldown(f"this lootbox can be opened again in {math.ceil(wait)} s", retry_after=math.ceil(wait))


async def open_lootbox(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    lootbox_id: str,
    username: str,
    client_seed: str | None,
    idempotency_key: str,
    fingerprint: str,
    operation_id: str,
) -> tuple[int, dict[str, Any], list[str], bool]:
    """Open a lootbox once per idempotency key: ``(status, body, delivery_ids, deduped)``.

    Debit, draw, credit, the open row, the idempotency record and the webhook outbox rows are one
    transaction: a rerun of the same message finds the record and returns the first answer.
    """
    record = await find_record(
        session, tenant_id=tenant_id, mode=mode, operation=OPERATION, key=idempotency_key, fingerprint=fingerprint
    )
    if record is not None:  # deduped unless this very operation stored it (a rerun after a crash)
        return record.status_code, record.response, [], record.operation_id != operation_id
    box = await get_lootbox(session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, lootbox_id=lootbox_id)
    if box.status != "active":
        raise Conflict(f"lootbox is {box.status}")
    player = (
        await session.execute(
            select(Player).where(Player.brand_id == brand_id, Player.mode == mode, Player.username == username)
        )
    ).scalar_one_or_none()
    if player is None:
        raise NotFound(f"no player {username!r}", field="user_id")
    await _check_cooldown(session, box, player)

    seed, seed_hash_, nonce, next_hash = await advance_commitment(session, player)
    client_seed = client_seed if client_seed is not None else username
    segment = box.prize_table[draw_weighted(seed, client_seed, nonce, weights(box.prize_table))]
    legs = await _legs(session, box, player, segment)
    if legs:
        await post_transaction(
            session, tenant_id=tenant_id, mode=mode, kind=OPERATION, reference=operation_id, legs=legs
        )
    opened = LootboxOpen(
        id=operation_id,
        lootbox_id=box.id,
        tenant_id=tenant_id,
        mode=mode,
        player_id=player.id,
        segment_label=segment["label"],
        asset=segment["asset"],
        amount=str(segment["amount"]),
        cost_winz=box.cost_winz,
        server_seed=seed,
        server_seed_hash=seed_hash_,
        client_seed=client_seed,
        nonce=nonce,
        idempotency_key=idempotency_key,
    )
    session.add(opened)
    reward = {"asset": segment["asset"], "amount": segment["amount"], "segment_label": segment["label"]}
    body = {
        "open_id": opened.id,
        "lootbox_id": box.id,
        "user_id": username,
        "reward": reward,
        "cost_winz": box.cost_winz,
        "server_seed": seed,
        "server_seed_hash": seed_hash_,
        "nonce": nonce,
        "client_seed": client_seed,
        "next_server_seed_hash": next_hash,
        "opened_at": iso(opened.created_at),
        "deduped": False,
    }
    session.add(
        IdempotencyRecord(
            tenant_id=tenant_id,
            mode=mode,
            operation=OPERATION,
            key=idempotency_key,
            fingerprint=fingerprint,
            operation_id=operation_id,
            status_code=201,
            response=body,
        )
    )
    deliveries = await emit_event(
        session,
        tenant_id=tenant_id,
        mode=mode,
        type="lootbox.opened",
        data={
            "lootbox_id": box.id,
            "lootbox_name": box.name,
            "user": username,
            "open_id": opened.id,
            "reward": {"asset": segment["asset"], "amount": segment["amount"], "segment_label": segment["label"]},
            "server_seed_hash": seed_hash_,
            "opened_at": iso(opened.created_at),
        },
    )
    return 201, body, deliveries, False


async def _legs(session: AsyncSession, box: Lootbox, player: Player, segment: dict[str, Any]) -> list[Leg]:
    """The cost paid into the lootbox's funding account and the reward paid out of it."""
    legs: list[Leg] = []

    async def account(owner_type: str, owner_id: str, asset: str) -> str:
        return await account_id(
            session, tenant_id=box.tenant_id, mode=box.mode, owner_type=owner_type, owner_id=owner_id, asset=asset
        )

    if box.cost_winz:
        legs += [
            Leg(await account("player", player.id, "WINZ"), "WINZ", -box.cost_winz),
            Leg(await account("lootbox", box.id, "WINZ"), "WINZ", box.cost_winz),
        ]
    units = to_units(segment["asset"], segment["amount"])
    if units:
        legs += [
            Leg(await account("lootbox", box.id, segment["asset"]), segment["asset"], -units),
            Leg(await account("player", player.id, segment["asset"]), segment["asset"], units),
        ]
    return legs
