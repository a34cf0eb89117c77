"""Where SQLite runs: write transactions in the event loop's thread, reads on aiosqlite's own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import load_settings
from models.db import Database


async def _thread_running(session: AsyncSession) -> int:
    """The thread in which SQLite runs this session's statements."""
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    await driver.create_function("thread_id", 0, threading.get_ident)
    return int((await session.execute(text("SELECT thread_id()"))).scalar_one())


def test_writes_run_in_the_loops_thread_and_reads_beside_it(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, int, int]:
        db = Database(load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}))
        try:
            async with db.transaction() as session:
                writing = await _thread_running(session)
            async with db.inbox() as session:
                keeping = await _thread_running(session)
            async with db.reader() as session:
                reading = await _thread_running(session)
        finally:
            await db.dispose()
        return threading.get_ident(), writing, keeping, reading

    loop, writing, keeping, reading = asyncio.run(scenario())
    assert writing == keeping == loop
    assert reading != loop


def test_a_failed_write_rolls_back_and_the_connection_serves_the_next(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        db = Database(load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"}))
        try:
            async with db.transaction() as session:
                await session.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
            with pytest.raises(IntegrityError):
                async with db.transaction() as session:
                    await session.execute(text("INSERT INTO t VALUES (1)"))
                    await session.execute(text("INSERT INTO t VALUES (1)"))
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO t VALUES (2)"))
            async with db.reader() as session:
                return list((await session.execute(text("SELECT n FROM t"))).scalars())
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == [2]
