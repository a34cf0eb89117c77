"""The inbox: every message the API accepted, kept until a worker has carried it out.

Redis holds the queue, but Redis is the fast path and the database the truth: an API process
writes each message it queued here before answering, and the worker settles it once the
transaction that carried it out committed. A row still unsettled after the grace period lost its
message (a flushed Redis, a dead-lettered retry, a worker that died before settling) and is queued
again by the scheduler's sweep; every actor is safe to run twice, so a message run twice changes
nothing twice. On SQLite the inbox is a file of its own (``models.sqlite.inbox_url``).

A worker may finish a message before the API's insert commits. Settling then leaves a settled
marker that the insert ignores, so a fast worker never causes a needless second run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import LargeBinary, delete, select, text, update
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from models.base import UTCDateTime, table, utcnow
from models.db import Database
from models.sqlite import SQLITE_BUSY_TIMEOUT_S, WriterLock
from models.statements import among, dialect_insert

MAX_SWEEPS = 10  # a message queued again this many times without being settled is left for an operator


class InboxMessage(SQLModel, table=True):
    __tablename__ = "inbox_messages"
    id: str = Field(primary_key=True, max_length=36)  # the message's id in the Redis queue
    queue: str = Field(max_length=64)
    data: bytes = Field(sa_type=LargeBinary, nullable=False)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    sweeps: int = 0
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Queued:
    """A message as it sits in the Redis queue: its id, its queue and its encoded body."""

    id: str
    queue: str
    data: bytes


# The rows go in as three arrays, in the order given: one prepared statement whatever the batch's size.
_KEEP = text(
    "INSERT INTO inbox_messages (id, queue, data, due_at, sweeps)"
    " SELECT id, queue, data, CAST(:due_at AS timestamptz), 0"
    " FROM unnest(CAST(:ids AS text[]), CAST(:queues AS text[]), CAST(:data AS bytea[]))"
    " WITH ORDINALITY AS m (id, queue, data, n) ORDER BY n"
    " ON CONFLICT (id) DO NOTHING"
)


async def keep(db: Database, messages: Sequence[Queued], *, grace_s: float) -> None:
    """Remember *messages* on PostgreSQL, due for the sweep after the grace period (a settled marker wins):
    one statement outside a transaction (``Database.execute_alone``), naming them in id order, the order
    ``settle`` locks them in. On SQLite an API process writes them with ``InboxFile.keep``."""
    ordered = sorted(messages, key=lambda m: m.id)
    params = {
        "due_at": utcnow() + timedelta(seconds=grace_s),
        "ids": [m.id for m in ordered],
        "queues": [m.queue for m in ordered],
        "data": [m.data for m in ordered],
    }
    await db.execute_alone(_KEEP, params)


_SQLITE = pysqlite.dialect()
_due_at_processor = table(InboxMessage).c.due_at.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)


def _stored_due_at(due: datetime) -> object:
    """*due* as SQLAlchemy stores it in SQLite, which the sweep's query compares with."""
    return _due_at_processor(due) if _due_at_processor else due


class InboxFile:
    """The inbox's SQLite file, written through one blocking connection: ``keep`` for an API process that
    must add many rows a second. Through aiosqlite each statement of a transaction waits for the event
    loop; here the whole transaction is one call (made on a thread), holding the write lock only while
    SQLite works."""

    _INSERT = "INSERT OR IGNORE INTO inbox_messages (id, queue, data, due_at, sweeps) VALUES (?, ?, ?, ?, 0)"

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(
            path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self.connection.execute("PRAGMA synchronous=NORMAL")  # the file is in WAL mode (models.sqlite)
        self.writer = WriterLock(path)

    def keep(self, messages: Sequence[Queued], *, grace_s: float) -> None:
        """Remember *messages*, due for the sweep after the grace period (a settled marker wins); one caller
        at a time."""
        due = utcnow() + timedelta(seconds=grace_s)
        rows = [(m.id, m.queue, m.data, _stored_due_at(due)) for m in messages]
        with self.writer.held_blocking():
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                self.connection.executemany(self._INSERT, rows)
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()
        self.writer.close()


async def settle(session: AsyncSession, message_ids: Sequence[str]) -> None:
    """Mark *message_ids* carried out, in the transaction that carried them out."""
    ids = {message_id for message_id in message_ids if message_id}
    if not ids:
        return
    inbox = table(InboxMessage)
    removed = await session.execute(delete(inbox).where(among(session, inbox.c.id, ids)).returning(inbox.c.id))
    early = sorted(ids - set(removed.scalars()))
    if early:  # carried out before the API's insert committed: leave a marker that the insert will meet
        now = utcnow()
        markers = [{"id": i, "queue": "", "data": b"", "due_at": now, "settled_at": now} for i in early]
        # A marker meeting a row the API committed meanwhile settles that row (PostgreSQL waits for the
        # API's transaction here); rows are named in id order, as the API names them, so the two
        # transactions take their locks in one order and cannot deadlock.
        settling = dialect_insert(session, inbox).on_conflict_do_update(
            index_elements=[inbox.c.id], set_={"settled_at": now}
        )
        await session.execute(settling, markers)


async def overdue(session: AsyncSession, now: datetime, limit: int) -> list[Queued]:
    """Unsettled messages past their due time that may still be queued again."""
    inbox = table(InboxMessage)
    rows = await session.execute(
        select(inbox.c.id, inbox.c.queue, inbox.c.data)
        .where(inbox.c.settled_at.is_(None), inbox.c.due_at <= now, inbox.c.sweeps < MAX_SWEEPS)
        .order_by(inbox.c.due_at)
        .limit(limit)
    )
    return [Queued(id=row.id, queue=row.queue, data=row.data) for row in rows]


async def postpone(session: AsyncSession, message_ids: Sequence[str], *, grace_s: float) -> None:
    """Count a sweep of *message_ids* and look at them again after the grace period."""
    await session.execute(
        update(table(InboxMessage))
        .where(among(session, table(InboxMessage).c.id, message_ids))
        .values(due_at=utcnow() + timedelta(seconds=grace_s), sweeps=col(InboxMessage.sweeps) + 1)
    )


async def forget_settled(session: AsyncSession, before: datetime) -> None:
    """Drop settled markers older than *before*: no insert can still race them."""
    await session.execute(
        delete(table(InboxMessage)).where(col(InboxMessage.settled_at).is_not(None), col(InboxMessage.due_at) < before)
    )
