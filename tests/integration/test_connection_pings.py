"""PostgreSQL connections the server dropped (a restart, a failover, a proxy) cost no failed transaction."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from api.inbox import InboxWriter
from config.settings import load_settings
from models.db import Database
from models.inbox import InboxMessage, Queued


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


def test_without_pings_a_dropped_connection_costs_a_rerun_not_a_failure(url: str) -> None:
    """Workers' pools skip the test before each use: ``Database.run`` finds a dropped connection by using it,
    and runs the work again on a new one, however many of the pool's connections were dropped."""
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has no connections to drop")
    db = Database(load_settings({"DATABASE_URL": url}), pre_ping=False)

    async def scenario() -> None:
        runs: list[int] = []

        async def work(session: AsyncSession) -> int:
            runs.append(1)
            return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

        await asyncio.gather(*(db.run(_slow_backend) for _ in range(3)))  # three connections in the pool
        assert await _drop_connections(url) == 3
        await asyncio.sleep(0.1)
        assert await db.run(work) > 0
        assert len(runs) == 2  # the first run met a dropped connection, the second a new one

        await asyncio.gather(*(db.run(_slow_backend) for _ in range(3)))
        await _drop_connections(url)
        await asyncio.sleep(0.1)
        with pytest.raises(DBAPIError):  # what a transaction outside ``run`` meets
            await _backend(db)
        await db.dispose()

    asyncio.run(scenario())


async def _slow_backend(session: AsyncSession) -> int:
    await asyncio.sleep(0.05)  # the three transactions overlap: three connections
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def test_the_inbox_keeps_messages_through_a_dropped_connection(url: str, db: Database) -> None:
    """An API process keeps its messages in one statement on a connection it does not test first: one the
    server dropped fails that statement, which runs again on a new connection, and the request goes on."""
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has no connections to drop")
    writer = InboxWriter(db, grace_s=60)

    async def scenario() -> list[str]:
        await writer.keep([Queued(id="before", queue="wowsino:events", data=b"1")])
        assert await _drop_connections(url) == 1  # the inbox's connection, the only one opened
        await asyncio.sleep(0.1)
        await writer.keep([Queued(id="after", queue="wowsino:events", data=b"2")])
        async with db.inbox() as session:
            rows = await session.execute(select(InboxMessage.id, InboxMessage.data).order_by(InboxMessage.id))
            return [f"{row.id}:{row.data.decode()}" for row in rows]

    assert asyncio.run(scenario()) == ["after:2", "before:1"]
    writer.close()
