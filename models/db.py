"""Database engines and transactions.

SQLite serializes writers; a write transaction starts with ``BEGIN IMMEDIATE`` so that it waits for
the lock (``busy_timeout``) instead of failing when a reader upgrades. Reads use a second engine that
starts ordinary deferred transactions, so reading never queues behind writers (WAL mode). The inbox
of accepted messages lives in a file of its own beside the database (``inbox_url``), so that
accepting a request never waits for the workers' write lock; on PostgreSQL it is an ordinary table.

SQLite's write engines call SQLite in the event loop's own thread (``InlineConnection``); reads, which
can scan many rows (listings, statistics), keep aiosqlite's thread so they never hold up the loop. So
that no commit waits on the disk either, those connections never copy the write-ahead log back into the
database themselves: a thread of the process does (``Checkpointer``).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import asyncpg
import msgspec
from sqlalchemy import ColumnElement, Table, TextClause, any_, bindparam, event, insert, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert, UpdateBase

from config import Settings

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


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    if immediate:
        engine = create_async_engine(url, async_creator=_inline_connect(str(make_url(url).database)))
    else:
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

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
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.write_engine = _postgresql_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=pre_ping)
            self.read_engine = self.write_engine
        self.inbox_engine = _sqlite_engine(inbox_url(url), immediate=True) if settings.is_sqlite else self.write_engine
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
    engine = create_async_engine(url, **options)

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


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An ``INSERT`` in the session's dialect, which knows ``ON CONFLICT`` (SQLite's or PostgreSQL's)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(session: AsyncSession, table: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect."""
    return dialect_insert(session, table).on_conflict_do_nothing()  # type: ignore[no-any-return]


def among(session: AsyncSession, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, the values one array parameter: the
    statement's text is the same however many values it names, so asyncpg prepares it once and SQLAlchemy
    renders no parameter per value."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def among_parameter(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``among`` for a statement built once per *dialect* (its name): the values are the list given as the
    parameter *name* when it runs."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


Batch = tuple[Table, Sequence[dict[str, Any]]]  # rows to insert into a table, each a dict of the same columns


@dataclass(frozen=True)
class RowUpdate:
    """An update of one row per dict of *rows* (dicts of the same keys), for ``write_rows``: *statement* run
    once per row, or on PostgreSQL *sql*, an ``UPDATE ... FROM`` the rows read from JSON, ``{rows}`` standing
    for the JSON parameter, returning a row for each row it changed."""

    statement: UpdateBase
    sql: str
    rows: Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Check:
    """A check, for ``write_rows`` on PostgreSQL, that rows an earlier transaction read are still as it read
    them: *sql*, a ``SELECT`` from the dicts of *rows* read from JSON (``{rows}``), returns a row for each
    that still holds."""

    sql: str
    rows: Sequence[dict[str, Any]]


class StaleRead(Exception):
    """Rows kept from an earlier transaction changed since: the transaction must run again from fresh reads."""


async def insert_rows(session: AsyncSession, *batches: Batch) -> None:
    """Insert each batch's rows (dicts of the same columns) into its table, all in the caller's transaction
    (``write_rows``)."""
    await write_rows(session, batches, ())


async def write_rows(
    session: AsyncSession, batches: Sequence[Batch], updates: Sequence[RowUpdate], checks: Sequence[Check] = ()
) -> list[int]:
    """Insert each batch's rows and run each update, all in the caller's transaction; how many rows each
    update changed. Should one of *checks* (PostgreSQL only) find a row changed, it raises ``StaleRead``
    and the caller's transaction must roll back.

    On PostgreSQL it is all one statement, a round trip for everything, each batch's and update's rows passed
    as one JSON document that the server reads as rows; its parts see the rows as they were before it, so an
    update must not be meant for rows the same write inserts. Elsewhere each batch is one bulk insert and each
    update one bulk update (``execute_many``), in order, so parents go before their children. Values go in as
    JSON carries them: timestamps must be timezone-aware (``utcnow()``).
    """
    batches = tuple((into, rows) for into, rows in batches if rows)
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        if checks:
            raise ValueError("checks of kept rows are written on PostgreSQL only")
        for into, rows in batches:
            await execute_many(session, _insert_into(into), rows)
        return [await execute_many(session, change.statement, change.rows) for change in updates]
    changing = [index for index, change in enumerate(updates) if change.rows]
    checks = [check for check in checks if check.rows]
    counts = [0] * len(updates)
    if not batches and not changing and not checks:
        return counts
    shapes = tuple((into.name, tuple(rows[0])) for into, rows in batches)
    selects = tuple(updates[index].sql for index in changing) + tuple(check.sql for check in checks)
    statement = _writes_from_json(dialect, shapes, selects)
    parameters = {f"rows{i}": _json(rows) for i, (_, rows) in enumerate(batches)}
    for i, changed in enumerate([updates[index].rows for index in changing] + [check.rows for check in checks]):
        parameters[f"changes{i}"] = _json(changed)
    result = await session.execute(statement, parameters)
    found = [int(count) for count in result.one()] if selects else []
    if found[len(changing) :] != [len(check.rows) for check in checks]:
        raise StaleRead(f"rows kept from an earlier transaction changed: checks found {found[len(changing) :]}")
    for index, count in zip(changing, found[: len(changing)], strict=True):
        counts[index] = count
    return counts


async def insert_new(
    session: AsyncSession, into: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Insert the rows (dicts of the same columns) that take no unique key another row holds (``ON CONFLICT DO
    NOTHING``), in the caller's transaction and in their order; the *returning* columns of each row inserted.

    On PostgreSQL the rows are one JSON parameter of one statement, whose text is the same however many rows it
    inserts: SQLAlchemy's bulk insert renders and binds a parameter per value, and its statement for each new
    number of rows is one more that asyncpg prepares. Elsewhere, SQLAlchemy's bulk insert. Values go in as
    JSON carries them: timestamps must be timezone-aware (``utcnow()``).
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        bulk = insert_ignore(session, into).returning(*(into.c[name] for name in returning))
        return [tuple(row) for row in await session.execute(bulk, rows)]
    return await insert_from_json(session, into, rows, returning, "DO NOTHING")


async def insert_from_json(
    session: AsyncSession, into: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str], conflict: str
) -> list[tuple[Any, ...]]:
    """On PostgreSQL, insert the rows (dicts of the same columns, at least one) in their order, ``ON CONFLICT``
    *conflict* (``DO NOTHING``, or a conflict target and its ``DO UPDATE``), in the caller's transaction; the
    *returning* columns of each row inserted or updated. The rows are one JSON parameter of one statement, whose
    text is the same however many rows it inserts."""
    statement = _insert_from_json(session.get_bind().dialect, into.name, tuple(rows[0]), tuple(returning), conflict)
    return [tuple(row) for row in await session.execute(statement, {"rows": _json(rows)})]


async def execute_many(session: AsyncSession, statement: UpdateBase, rows: Sequence[dict[str, Any]]) -> int:
    """``session.execute(statement, rows)``: an insert or update once per row (dicts of the same keys), in the
    caller's transaction; how many rows it changed, where the driver counts them (asyncpg does not).

    On SQLite the statement goes to the driver, compiled once per shape, with the values SQLAlchemy would
    bind (each parameter type's own conversion): SQLAlchemy's own bulk execution spends several times longer
    building the parameters of a few dozen rows than SQLite spends storing them.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return int((await session.execute(statement, rows)).rowcount)  # type: ignore[attr-defined]
    compiled = _compiled(dialect, statement, tuple(sorted(rows[0])))
    values = [compiled.values(row) for row in rows]
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    try:
        cursor = await driver.executemany(compiled.sql, values)
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(compiled.sql, values, error, dialect.loaded_dbapi.Error, dialect=dialect) from None
    return int(cursor.rowcount)


@dataclass(frozen=True)
class _Compiled:
    """A statement as the driver takes it: its text, and how each of its parameters is bound from a row."""

    sql: str
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # in order: a name, the type's conversion
    constants: dict[str, Any]  # the values the statement binds itself (``x + 1``), by name

    def values(self, row: dict[str, Any]) -> list[Any]:
        given = {**self.constants, **row} if self.constants else row
        return [given[name] if convert is None else convert(given[name]) for name, convert in self.parameters]


@lru_cache(maxsize=256)  # statements built once (module constants): a few shapes each
def _compiled(dialect: Dialect, statement: UpdateBase, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # as SQLAlchemy compiles it for such rows
    binds = [compiled.binds[name] for name in compiled.positiontup or ()]
    return _Compiled(
        sql=str(compiled),
        parameters=tuple((bind.key, bind.type.dialect_impl(dialect).bind_processor(dialect)) for bind in binds),
        constants={bind.key: bind.effective_value for bind in binds if bind.key not in keys},
    )


@cache
def _insert_into(into: Table) -> Insert:
    return insert(into)  # one object per table, so that its compiled forms are found again


@cache
def _writes_from_json(
    dialect: Dialect, shapes: tuple[tuple[str, tuple[str, ...]], ...], counted: tuple[str, ...]
) -> TextClause:
    """``WITH i0 AS (INSERT ...), ..., u0 AS (UPDATE ...) SELECT count(*) of each update``: one
    ``INSERT ... SELECT`` per (table, columns) from a JSON array, then the *counted* statements (updates and
    checks), each from one too."""
    parts = [
        (f"i{index}", _insert_select(dialect, name, columns, f"rows{index}"))
        for index, (name, columns) in enumerate(shapes)
    ]
    parts += [(f"u{index}", sql.format(rows=f"CAST(:changes{index} AS json)")) for index, sql in enumerate(counted)]
    if counted:
        counts = ", ".join(f"(SELECT count(*) FROM u{index})" for index in range(len(counted)))
        return text(f"WITH {', '.join(f'{name} AS ({sql})' for name, sql in parts)} SELECT {counts}")
    *first, (_, last) = parts
    return text(f"WITH {', '.join(f'{name} AS ({sql})' for name, sql in first)} {last}" if first else last)


@cache
def _insert_from_json(
    dialect: Dialect, name: str, columns: tuple[str, ...], returning: tuple[str, ...], conflict: str
) -> TextClause:
    """``INSERT ... SELECT`` from the JSON array ``:rows``, in its order, ``ON CONFLICT`` *conflict*, returning
    *returning*."""
    quote = dialect.identifier_preparer.quote
    insert_select = _insert_select(dialect, name, columns, "rows", ordered=True)
    return text(f"{insert_select} ON CONFLICT {conflict} RETURNING {', '.join(quote(column) for column in returning)}")


def _insert_select(
    dialect: Dialect, name: str, columns: tuple[str, ...], parameter: str, *, ordered: bool = False
) -> str:
    """``INSERT INTO name (columns) SELECT columns`` of the rows of the JSON array *parameter*, in their order
    if *ordered*."""
    quote = dialect.identifier_preparer.quote
    listed = ", ".join(quote(column) for column in columns)
    source = f"json_populate_recordset(NULL::{quote(name)}, CAST(:{parameter} AS json))"
    if ordered:
        source += " WITH ORDINALITY AS given ORDER BY given.ordinality"
    return f"INSERT INTO {quote(name)} ({listed}) SELECT {listed} FROM {source}"


_ENCODER = msgspec.json.Encoder()


def _json(rows: Sequence[dict[str, Any]]) -> str:
    """*rows* as the JSON document PostgreSQL reads them from: msgspec's encoder, about a ninth of ``json.dumps``'s
    time for a group's rows. It writes a naive timestamp without an offset, which PostgreSQL would take for
    its session's time zone: ``UTCDateTime`` refuses one, and so does this, in the columns that hold a timestamp
    or nothing in the first row (the rows have the same columns, each of one type)."""
    stamps = [name for name, value in rows[0].items() if value is None or isinstance(value, datetime)] if rows else []
    if any(isinstance(stamp := row[name], datetime) and stamp.tzinfo is None for row in rows for name in stamps):
        raise ValueError("naive datetime")
    return _ENCODER.encode(rows).decode()


MEMO = "wowsino.memo"


def transaction_memo(session: AsyncSession, name: str) -> dict[Any, Any]:
    """A dict kept for the rest of the session's transaction, for rows that it reads again and again and
    that cannot change under it (ids, engine settings). A rollback, even to a savepoint, empties it."""
    memos: dict[str, dict[Any, Any]] = session.info.setdefault(MEMO, {})
    return memos.setdefault(name, {})


@event.listens_for(Session, "after_soft_rollback")
def _forget_memos(session: Session, _previous: Any) -> None:
    session.info.pop(MEMO, None)
