"""SQLite files: their engines, one writer at a time, and the copying of their write-ahead logs.

SQLite serializes writers; a write transaction starts with ``BEGIN IMMEDIATE`` so that it waits for
the lock instead of failing when a reader upgrades. Reads use a second engine that starts ordinary
deferred transactions, so reading never queues behind writers (WAL mode). The inbox of accepted
messages lives in a file of its own beside the database (``inbox_url``), so that accepting a request
never waits for the workers' write lock.

The write engines call SQLite in the event loop's own thread (``InlineConnection``); reads, which can
scan many rows (listings, statistics), keep aiosqlite's thread so they never hold up the loop. So that
no commit waits on the disk either, those connections never copy the write-ahead log back into the
database themselves: a thread of the process does (``Checkpointer``).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_S = 30
CHECKPOINT_INTERVAL_S = 0.2
log = logging.getLogger("wowsino.db")
T = TypeVar("T")


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, calling SQLite in the event loop's thread rather than in its own.

    A write transaction's statements take microseconds each, while each aiosqlite call waits for two
    thread switches, and for the GIL when the process is busy: a draw transaction of a dozen statements
    spent most of its time switching (10 ms against 4 ms inline, alone; 25-40 ms under load). Blocking the
    loop for the call is cheap here because writers never wait inside SQLite: they queue on the
    ``WriterLock`` before ``BEGIN IMMEDIATE``. Opening the file still goes through aiosqlite's thread,
    which idles until the connection closes.
    """

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:  # type: ignore[override]
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_connect(database: str) -> Callable[[], Awaitable[InlineConnection]]:
    async def connect() -> InlineConnection:
        connection = InlineConnection(
            partial(sqlite3.connect, database, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True  # as SQLAlchemy makes aiosqlite's: never keeps a process alive
        await connection  # opens the file on aiosqlite's thread
        return connection

    return connect


def sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    # An error's message leaves out the statement's values: they may be a signing secret or a seed not yet revealed
    if immediate:
        engine = create_async_engine(
            url, hide_parameters=True, async_creator=_inline_connect(str(make_url(url).database))
        )
    else:
        engine = create_async_engine(url, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if immediate:  # the process's Checkpointer copies the log back, off the event loop
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def inbox_url(url: str) -> str:
    """Where the inbox lives: beside a SQLite database file (``x.db`` -> ``x.inbox.db``), else in it."""
    if not url.startswith("sqlite"):
        return url
    path = Path(url.split(":///", 1)[1])
    return url.split(":///", 1)[0] + ":///" + str(path.with_name(f"{path.stem}.inbox{path.suffix or '.db'}"))


class WriterLock:
    """One writer at a time on a SQLite file, in this process and across this machine's: an exclusive
    ``flock`` on a file beside it, taken before ``BEGIN IMMEDIATE``.

    SQLite's own wait for its write lock (``busy_timeout``) polls, sleeping from 1 up to 100 ms between
    looks, so processes that write often (API processes keeping messages, workers settling them, two
    draws workers) would lose milliseconds to sleep at every meeting; a waiter on the flock wakes as
    soon as it is free. The operating system drops the flock of a process that dies. SQLite's own lock
    still guards every write: this lock only decides who waits, and how.
    """

    def __init__(self, database: str) -> None:
        self.fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.local = asyncio.Lock()  # a flock belongs to the open file, not to a task: one holder per process

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self.local:
            await self._take()
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    @contextmanager
    def held_blocking(self) -> Iterator[None]:
        """``held`` for a thread that may block (``models.inbox.InboxFile``); the caller has one writer."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    async def _take(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        taking = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, self.fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(taking)
        except asyncio.CancelledError:  # the thread still takes it: let it go at once
            taking.add_done_callback(lambda _: fcntl.flock(self.fd, fcntl.LOCK_UN))
            raise

    def close(self) -> None:
        os.close(self.fd)


class Checkpointer:
    """Copies a SQLite file's write-ahead log back into the file, from a thread of its own, a few times a
    second.

    SQLite does this by itself in the commit that takes the log past a thousand pages, and that commit
    then writes and syncs the database file: in an event loop's thread (``InlineConnection``) every task
    of the process would wait for the disk. A passive checkpoint never waits for readers or writers;
    whatever it cannot copy yet, the next one does.
    """

    def __init__(self, database: str, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self.database = database
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"checkpoint {Path(database).name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        connection = sqlite3.connect(self.database, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            while not self.stopping.wait(self.interval_s):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # a busy or missing file: the next round tries again
                    log.warning("could not checkpoint %s", self.database, exc_info=True)
        finally:
            connection.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
