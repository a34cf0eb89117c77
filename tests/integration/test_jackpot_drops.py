"""A jackpot dropped by hand while contributions arrive pays out exactly what its pool held: every unit is
paid once, and the pool never goes below zero."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from models import jackpots
from models.base import new_id, utcnow
from models.db import Database
from models.jackpots import create_jackpot, drop_jackpot, pool_of
from models.ledger import balances
from models.pipeline import CONTRIBUTE, apply_events
from models.players import Player, create_player
from models.tenancy import Principal

PRINCIPAL = Principal("key", "tenant", "tenant", "live", "brand", "brand", "live", ())
UNIT = 10**8


async def _contribute(db: Database, jackpot: str, username: str, amount: str) -> None:
    event = {"type": CONTRIBUTE, "engine_id": jackpot, "user_id": username, "source_id": new_id(), "amount": amount}
    events = [{**event, "currency": "USD", "received_at": utcnow()}]
    await db.run(
        lambda session: apply_events(session, tenant_id="tenant", mode="live", brand_id="brand", events=events)
    )


def test_a_contribution_during_a_manual_drop_is_not_paid_from_the_same_pool(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice's 50 is in a pool of 10 that must drop at 100; a hand drop to alice pays the pool while bob
    contributes 50. His contribution waits for the drop and lands in the reseeded pool. With the pool read
    unlocked it took the pool to 110 and dropped it to bob, and the hand drop then paid alice the 60 it had
    read: 170 paid from a pool of 110, which was left at -40."""

    async def scenario() -> None:
        async with db.transaction() as session:
            jackpot = await create_jackpot(
                session, PRINCIPAL, name="pot", currency="USD", seed_amount=10 * UNIT, must_drop_at=100 * UNIT
            )
            players = {}
            for name in ("alice", "bob"):
                players[name], _ = await create_player(
                    session, PRINCIPAL, username=name, email=None, external_ref=None, country_code=None
                )
        await _contribute(db, jackpot.id, "alice", "50")
        bobs = asyncio.create_task(_contribute(db, jackpot.id, "bob", "50"))
        pay = jackpots.transfer_many

        async def pay_once_bob_had_his_chance(*args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(TimeoutError):  # bob's transaction waits on the drop's locks: it is held
                await asyncio.wait_for(asyncio.shield(bobs), 1)
            await pay(*args, **kwargs)

        monkeypatch.setattr(jackpots, "transfer_many", pay_once_bob_had_his_chance)
        async with db.transaction() as session:
            _, body, _, _ = await drop_jackpot(
                session,
                tenant_id="tenant",
                mode="live",
                brand_id="brand",
                jackpot_id=jackpot.id,
                winner_username="alice",
                idempotency_key="drop",
                fingerprint="f",
                operation_id=new_id(),
            )
        await bobs
        async with db.reader() as session:
            paid = {name: await _usd(session, player) for name, player in players.items()}
            pool = await pool_of(session, jackpot)
        assert (body["amount"], body["pool_after"]) == ("60", "10")
        assert paid == {"alice": 60 * UNIT, "bob": 0} and pool == 60 * UNIT

    asyncio.run(scenario())


async def _usd(session: Any, player: Player) -> int:
    return (await balances(session, owner_type="player", owner_id=player.id)).get("USD", 0)
