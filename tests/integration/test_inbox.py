"""The inbox's rules on a real database: settled messages are never swept, and a fast worker wins the race."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from config.settings import load_settings
from models import inbox
from models.base import utcnow
from models.db import Database
from models.inbox import MAX_SWEEPS, Queued
from models.migrate import upgrade
from tests.support.processes import fresh_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url, drop = fresh_database(tmp_path)
    upgrade(url)
    database = Database(load_settings({"DATABASE_URL": url}))
    yield database
    asyncio.run(database.dispose())
    drop()


def message(name: str) -> Queued:
    return Queued(id=name, queue="wowsino:events", data=name.encode())


async def swept(db: Database, after_s: float) -> list[str]:
    async with db.inbox() as session:
        return [m.id for m in await inbox.overdue(session, utcnow() + timedelta(seconds=after_s), 100)]


def test_only_unsettled_messages_are_swept_and_only_when_due(db: Database) -> None:
    async def scenario() -> None:
        async with db.inbox() as session:
            await inbox.keep(session, [message("a"), message("b")], grace_s=30)
        async with db.inbox() as session:
            await inbox.settle(session, ["a"])
        assert await swept(db, 0) == []  # not due yet
        assert await swept(db, 31) == ["b"]

    asyncio.run(scenario())


def test_a_message_settled_before_it_was_kept_is_never_swept(db: Database) -> None:
    async def scenario() -> None:
        async with db.inbox() as session:
            await inbox.settle(session, ["early"])  # the worker committed before the API's insert
        async with db.inbox() as session:
            await inbox.keep(session, [message("early")], grace_s=0)
        assert await swept(db, 60) == []
        async with db.inbox() as session:
            await inbox.forget_settled(session, utcnow() + timedelta(seconds=1))
        async with db.inbox() as session:
            assert await session.get(inbox.InboxMessage, "early") is None

    asyncio.run(scenario())


def test_a_message_is_queued_again_a_bounded_number_of_times(db: Database) -> None:
    async def scenario() -> None:
        async with db.inbox() as session:
            await inbox.keep(session, [message("stuck")], grace_s=0)
        for _ in range(MAX_SWEEPS):
            assert await swept(db, 1) == ["stuck"]
            async with db.inbox() as session:
                await inbox.postpone(session, ["stuck"], grace_s=0)
        assert await swept(db, 1) == []

    asyncio.run(scenario())
