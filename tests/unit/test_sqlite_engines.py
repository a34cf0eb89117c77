"""Where SQLite runs: write transactions in the event loop's thread, reads on aiosqlite's own."""

from __future__ import annotations

import asyncio
import struct
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


def _log_frames(database: Path) -> tuple[int, int]:
    """The write-ahead log's frames, and how many of them are copied back (SQLite's WAL index header)."""
    index = Path(f"{database}-shm").read_bytes()[:136]
    return struct.unpack_from("=I", index, 16)[0], struct.unpack_from("=I", index, 96)[0]


def test_commits_leave_the_log_to_the_checkpoint_thread(tmp_path: Path) -> None:
    """No commit in the event loop's thread copies the log back (that would wait on the disk): the
    process's checkpoint thread does."""
    database = tmp_path / "app.db"

    async def scenario() -> tuple[int, tuple[int, int]]:
        db = Database(load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{database}"}))
        try:
            async with db.transaction() as session:
                autocheckpoint = int((await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one())
                await session.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT)"))
            for n in range(50):
                async with db.transaction() as session:
                    await session.execute(text("INSERT INTO t VALUES (:n, :pad)"), {"n": n, "pad": "x" * 2000})
            for _ in range(200):
                frames, copied = _log_frames(database)
                if frames and copied == frames:
                    break
                await asyncio.sleep(0.05)
            return autocheckpoint, _log_frames(database)
        finally:
            await db.dispose()

    autocheckpoint, (frames, copied) = asyncio.run(scenario())
    assert autocheckpoint == 0
    assert frames > 50 and copied == frames
