"""Debits against the database: a short balance refuses the whole call before any balance moves, and
concurrent transactions debiting the same accounts in any order neither overdraw nor deadlock."""

from __future__ import annotations

import asyncio
import random

import pytest

from models.base import new_id
from models.db import Database
from models.errors import InsufficientBalance
from models.ledger import Leg, Movement, account_ids, balances, post_transactions

FUNDING = ("lootbox", "engine")


async def _accounts(db: Database, tenant: str, players: list[str], funded: int) -> dict[str, str]:
    """Each player's WINZ account and the funding account's, the players funded with *funded* each."""
    async with db.transaction() as session:
        owners = [("player", name) for name in players] + [FUNDING]
        ids = await account_ids(session, tenant_id=tenant, mode="test", wanted={(o, "WINZ") for o in owners})
        funding = ids[FUNDING, "WINZ"]
        grants = [
            Movement(
                "grant",
                f"grant-{name}",
                [Leg(funding, "WINZ", -funded), Leg(ids[("player", name), "WINZ"], "WINZ", funded)],
            )
            for name in players
        ]
        await post_transactions(session, tenant_id=tenant, mode="test", movements=grants)
    return {owner_id: ids[(owner_type, owner_id), "WINZ"] for owner_type, owner_id in owners}


def _debit(account: str, funding: str, amount: int, reference: str) -> Movement:
    return Movement("open", reference, [Leg(account, "WINZ", -amount), Leg(funding, "WINZ", amount)])


async def _balances(db: Database, names: list[str]) -> list[int]:
    async with db.reader() as session:
        return [(await balances(session, owner_type="player", owner_id=name)).get("WINZ", 0) for name in names]


def test_one_short_balance_refuses_every_debit_of_the_call(db: Database) -> None:
    async def scenario() -> tuple[str, list[int]]:
        tenant, names = new_id(), ["ann", "bob", "cat"]
        ids = await _accounts(db, tenant, names, funded=100)
        movements = [
            _debit(ids[name], ids["engine"], amount, f"o-{name}")
            for name, amount in zip(names, [60, 101, 40], strict=True)
        ]
        with pytest.raises(InsufficientBalance) as refused:
            async with db.transaction() as session:
                await post_transactions(session, tenant_id=tenant, mode="test", movements=movements)
        return str(refused.value), await _balances(db, names)

    message, after = asyncio.run(scenario())
    assert message == "balance too low for a debit of 101 WINZ"
    assert after == [100, 100, 100]


def test_concurrent_debits_in_any_order_never_overdraw(db: Database) -> None:
    """Forty transactions at once, each debiting three of five players (in a random order) by 7; each
    player can afford ten such debits, so some are refused, and the balances stay exact."""

    async def scenario() -> tuple[list[int], int]:
        tenant, names = new_id(), [f"p{n}" for n in range(5)]
        ids = await _accounts(db, tenant, names, funded=70)
        rng = random.Random(5)
        calls = [rng.sample(names, 3) for _ in range(40)]

        async def debit(n: int, chosen: list[str]) -> bool:
            movements = [_debit(ids[name], ids["engine"], 7, f"o-{n}-{name}") for name in chosen]
            try:
                async with db.transaction() as session:
                    await post_transactions(session, tenant_id=tenant, mode="test", movements=movements)
            except InsufficientBalance:
                return False
            return True

        done = await asyncio.gather(*(debit(n, chosen) for n, chosen in enumerate(calls)))
        expected = [
            70 - 7 * sum(ok and name in chosen for ok, chosen in zip(done, calls, strict=True)) for name in names
        ]
        after = await _balances(db, names)
        assert after == expected
        return after, sum(done)

    after, succeeded = asyncio.run(scenario())
    assert all(balance >= 0 for balance in after)
    assert 0 < succeeded < 40  # some debits were refused: the check ran against the locked balances
