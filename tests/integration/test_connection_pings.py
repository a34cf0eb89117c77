"""PostgreSQL connections the server dropped (a restart, a failover, a proxy) cost no failed transaction."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from models.db import Database


async def _backend(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _drop_connections(url: str) -> int:
    """What a restarted server or a proxy does to the pool's connections: end them all."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await connection.close()


def test_a_pooled_connection_the_server_dropped_is_replaced_before_use(url: str, db: Database) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has no connections to drop")

    async def scenario() -> None:
        first = await _backend(db)
        assert await _backend(db) == first  # one pooled connection serves transactions in turn
        assert await _drop_connections(url) == 1
        await asyncio.sleep(0.1)  # the server has closed it
        assert await _backend(db) != first  # no failed transaction: the pool checked it and reconnected

    asyncio.run(scenario())
