"""The database locked for a few seconds: actors retry with backoff; nothing is dropped or applied twice."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from decimal import Decimal

import asyncpg

from tests.support.api import Operator
from tests.support.processes import wait_until
from tests.support.stack import Stack

LOCK_S = 4


def _hold_lock(database_url: str, ready: threading.Event) -> None:
    """Take the database's write lock (SQLite) or lock the ledger's tables (PostgreSQL) for a few seconds."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        ready.set()
        time.sleep(LOCK_S)
        connection.execute("ROLLBACK")
        connection.close()
        return

    async def lock() -> None:
        connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        async with connection.transaction():
            await connection.execute("LOCK TABLE accounts, postings, jackpot_contributions IN ACCESS EXCLUSIVE MODE")
            ready.set()
            await asyncio.sleep(LOCK_S)
        await connection.close()

    asyncio.run(lock())


def test_contributions_wait_out_a_locked_database(victim: Stack, tenant: Operator) -> None:
    username = tenant.player()
    jackpot = tenant.client.post("/v1/jackpots", json={"name": "j", "currency": "EUR", "seed_amount": "0"}).json()["id"]
    ready = threading.Event()
    locker = threading.Thread(target=_hold_lock, args=(victim.database_url, ready))
    locker.start()
    ready.wait(10)
    try:
        for i in range(50):
            body = {"user_id": username, "source_wager_id": f"w{i}", "amount": "1.25"}
            assert tenant.client.post(f"/v1/jackpots/{jackpot}/contribute", json=body).status_code == 202
    finally:
        locker.join()
    pool = f"/v1/jackpots/{jackpot}"
    wait_until(
        lambda: Decimal(tenant.client.get(pool).json()["pool"]) == Decimal("62.5"), timeout=90, what="contributions"
    )
    rows = tenant.client.get(f"/v1/jackpots/{jackpot}/contributions", params={"limit": 500}).json()["data"]
    assert len(rows) == 50
