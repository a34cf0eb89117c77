"""The database locked for a few seconds: actors retry with backoff; nothing is dropped or applied twice."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections import Counter
from decimal import Decimal

import asyncpg
import pytest

from tests.support.api import Operator
from tests.support.load import post_each_async, post_many
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


def _drop_connections(database_url: str, stop: threading.Event, dropped: list[int]) -> None:
    """Terminate every other connection to the stack's database, again and again, as a failover would."""

    async def drop() -> None:
        connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        while not stop.is_set():
            dropped.append(
                await connection.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            await asyncio.sleep(0.2)
        await connection.close()

    asyncio.run(drop())


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL's connections; SQLite has none")
def test_connections_dropped_mid_request_answer_503_and_a_resend_completes(victim: Stack, tenant: Operator) -> None:
    bases = [f"http://127.0.0.1:{port}" for port in victim.ports]
    requests = [
        (f"{bases[i % 2]}/v1/players", {"username": f"dropped{i}", "idempotency_key": f"dropped{i}"})
        for i in range(300)
    ]
    stop, dropped = threading.Event(), list[int]()
    dropper = threading.Thread(target=_drop_connections, args=(victim.database_url, stop, dropped))
    dropper.start()
    try:
        statuses = asyncio.run(post_each_async(requests, tenant.key, concurrency=16))
    finally:
        stop.set()
        dropper.join()
    assert sum(dropped) > 0
    assert set(statuses) <= {201, 503}, Counter(statuses)
    resent = post_many(requests, tenant.key, concurrency=16)
    assert {response.status_code for response in resent} == {201}
    assert len({response.json()["id"] for response in resent}) == len(requests)
