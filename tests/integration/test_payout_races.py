"""Payouts racing the events that change what they pay: a jackpot dropped by hand while contributions arrive
pays what its pool held, once; a tournament closed while scores arrive pays by standings that hold them."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from models import jackpots, tournaments
from models.base import new_id, utcnow
from models.db import Database
from models.jackpots import create_jackpot, drop_jackpot, pool_of
from models.ledger import balances
from models.pipeline import CONTRIBUTE, SCORE, apply_events
from models.players import Player, create_player
from models.tenancy import Principal
from models.tournaments import close_tournament, create_tournament

PRINCIPAL = Principal("key", "tenant", "tenant", "live", "brand", "brand", "live", ())
UNIT = 10**8


async def _apply(db: Database, event: dict[str, Any]) -> None:
    events = [{**event, "source_id": new_id(), "received_at": utcnow()}]
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
        contribution = {"type": CONTRIBUTE, "engine_id": jackpot.id, "amount": "50", "currency": "USD"}
        await _apply(db, {**contribution, "user_id": "alice"})
        bobs = asyncio.create_task(_apply(db, {**contribution, "user_id": "bob"}))
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


def test_a_tournament_closed_while_a_score_is_applied_pays_by_standings_that_hold_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bob's 100 points, accepted in the window, are being applied when the tournament closes: the close waits
    for them and pays bob the first prize. With the tournament read unlocked, the close paid alice's 10 points
    the first prize and bob's points landed in the standings of a tournament already paid."""

    async def scenario() -> None:
        now = utcnow()
        async with db.transaction() as session:
            config = {"name": "cup", "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1)}
            prizes = [{"rank_from": 1, "rank_to": 1, "prize_winz": 1000}]
            tournament = await create_tournament(session, PRINCIPAL, config={**config, "prizes": prizes})
            for name in ("alice", "bob"):
                await create_player(session, PRINCIPAL, username=name, email=None, external_ref=None, country_code=None)
        score = {"type": SCORE, "engine_id": tournament.id}
        await _apply(db, {**score, "user_id": "alice", "points": 10})

        async def close() -> dict[str, Any]:
            async with db.transaction() as session:
                _, body, _, _ = await close_tournament(
                    session, tenant_id="tenant", mode="live", brand_id="brand", tournament_id=tournament.id
                )
                return body

        closing = asyncio.create_task(close())
        record = tournaments.record_scores

        async def record_once_the_close_had_its_chance(*args: Any, **kwargs: Any) -> Any:
            with contextlib.suppress(TimeoutError):  # the close waits on the tournament this batch read
                await asyncio.wait_for(asyncio.shield(closing), 1)
            return await record(*args, **kwargs)

        monkeypatch.setattr(tournaments, "record_scores", record_once_the_close_had_its_chance)
        await _apply(db, {**score, "user_id": "bob", "points": 100})
        body = await closing
        assert [(payout["rank"], payout["username"]) for payout in body["payouts"]] == [(1, "bob")]

    asyncio.run(scenario())
