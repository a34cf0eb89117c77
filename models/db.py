"""Database engines and transactions: ``Database``, the engines of one process.

On SQLite each process has a write engine, a read engine and the inbox's engine, writers queuing one at a
time (``models.sqlite``); on PostgreSQL one pool serves them all, with a small one of its own for single
statements outside a transaction. The inbox of accepted messages is a file of its own beside a SQLite
database (``models.sqlite.inbox_url``) and an ordinary table on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event, make_url
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from config import Settings
from models.sqlite import Checkpointer, WriterLock, inbox_url, sqlite_engine

T = TypeVar("T")


class Database:
    """The engines of one process; ``transaction()`` for writes, ``reader()`` for reads.

    A PostgreSQL pool tests each connection it hands out (three round trips), so that one the server dropped
    (a restart, a failover, a proxy) never fails a transaction. Workers go without (*pre_ping* false): what
    fails in a worker runs again anyway (its message, the next sweep), and the draws' and events' transactions
    go through ``run``, which finds a dropped connection by using it and runs the work again at once. So do
    single statements on PostgreSQL (``execute_alone``), which need no transaction around them.
    """

    def __init__(self, settings: Settings, *, pre_ping: bool = True) -> None:
        url = settings.database_url
        if settings.is_sqlite:
            self.write_engine = sqlite_engine(url, immediate=True)
            self.read_engine = sqlite_engine(url, immediate=False)
        else:
            self.write_engine = _postgresql_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=pre_ping)
            self.read_engine = self.write_engine
        self.inbox_engine = sqlite_engine(inbox_url(url), immediate=True) if settings.is_sqlite else self.write_engine
        self.autocommit_engine = None if settings.is_sqlite else _autocommit_engine(url)
        self.inbox_file = make_url(inbox_url(url)).database if settings.is_sqlite else None
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._inbox = async_sessionmaker(self.inbox_engine, expire_on_commit=False)
        # SQLite has one writer at a time: writers queue for it here, not in SQLite's busy handler.
        database = str(make_url(url).database)
        self._one_writer = WriterLock(database) if settings.is_sqlite else None
        self._one_inbox_writer = WriterLock(self.inbox_file) if self.inbox_file else None
        self._checkpointers = [Checkpointer(database), Checkpointer(self.inbox_file)] if self.inbox_file else []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction, committed on success and rolled back on error."""
        async with _queued(self._one_writer), self._writer() as session, session.begin():
            yield session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """*work* in one write transaction (``transaction()``), run again on a fresh connection should the first
        turn out dropped by the server (``_once_more_if_dropped``)."""

        async def once() -> T:
            async with self.transaction() as session:
                return await work(session)

        return await _once_more_if_dropped(once)

    async def execute_alone(self, statement: Executable, params: dict[str, Any]) -> None:
        """*statement* on PostgreSQL by itself, outside a transaction (one statement is atomic; no ``BEGIN`` or
        ``COMMIT`` round trips), run again on a fresh connection should the first turn out dropped."""
        engine = self.autocommit_engine
        if engine is None:
            raise RuntimeError("execute_alone is for PostgreSQL")

        async def once() -> None:
            async with engine.connect() as connection:
                await connection.execute(statement, params)

        await _once_more_if_dropped(once)

    @asynccontextmanager
    async def inbox(self) -> AsyncIterator[AsyncSession]:
        """A write transaction on the inbox of accepted messages (``models.inbox``)."""
        async with _queued(self._one_inbox_writer), self._inbox() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        for engine in {self.write_engine, self.read_engine, self.inbox_engine, self.autocommit_engine}:
            if engine is not None:
                await engine.dispose()
        for lock in (self._one_writer, self._one_inbox_writer):
            if lock is not None:
                lock.close()
        for checkpointer in self._checkpointers:
            checkpointer.close()


async def _once_more_if_dropped(work: Callable[[], Awaitable[T]]) -> T:
    """*work*, and once more should it fail on a connection the server dropped: the pool then replaces every
    connection older than the failure."""
    try:
        return await work()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    return await work()


def _autocommit_engine(url: str) -> AsyncEngine:
    """A small PostgreSQL pool for ``execute_alone``, its connections in autocommit and not pinged first."""
    return _postgresql_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=False, isolation_level="AUTOCOMMIT")


def _postgresql_engine(url: str, **options: Any) -> AsyncEngine:
    """An engine whose connections count as dropped (``connection_invalidated``, and never handed out again)
    when the server ends them (SQLSTATE class 08, or 57P: an administrator, a shutdown, a failover) or asyncpg
    finds one mid-operation after such an end; SQLAlchemy alone counts only a connection already closed."""
    engine = create_async_engine(url, hide_parameters=True, **options)  # see ``models.sqlite.sqlite_engine``

    @event.listens_for(engine.sync_engine, "handle_error")
    def _dropped(context: ExceptionContext) -> None:
        error = context.original_exception
        sqlstate = str(getattr(error, "sqlstate", None) or "")
        if sqlstate.startswith(("08", "57P")) or isinstance(error.__cause__, asyncpg.exceptions.InternalClientError):
            context.is_disconnect = True

    return engine


@asynccontextmanager
async def _queued(lock: WriterLock | None) -> AsyncIterator[None]:
    if lock is None:
        yield
        return
    async with lock.held():
        yield


MEMO = "wowsino.memo"


def transaction_memo(session: AsyncSession, name: str) -> dict[Any, Any]:
    """A dict kept for the rest of the session's transaction, for rows that it reads again and again and
    that cannot change under it (ids, engine settings). A rollback, even to a savepoint, empties it."""
    memos: dict[str, dict[Any, Any]] = session.info.setdefault(MEMO, {})
    return memos.setdefault(name, {})


@event.listens_for(Session, "after_soft_rollback")
def _forget_memos(session: Session, _previous: Any) -> None:
    session.info.pop(MEMO, None)
