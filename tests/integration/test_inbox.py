"""The inbox's rules on a real database: settled messages are never swept, and a fast worker wins the race."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from config.settings import load_settings
from models import inbox
from models.base import utcnow
from models.db import Database
from models.inbox import MAX_SWEEPS, Queued


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


def test_an_api_keeping_messages_while_a_worker_settles_them_early_never_deadlocks(db: Database, url: str) -> None:
    """An API process commits a group of messages that a worker (another process) already carried out and
    settles at the same moment, each side naming the messages in its own order: neither fails, and every
    message ends settled."""
    other = Database(load_settings({"DATABASE_URL": url}))  # a second process's connections

    async def keep(names: list[str]) -> None:
        async with db.inbox() as session:
            await inbox.keep(session, [message(name) for name in names], grace_s=0)

    async def settle(names: list[str]) -> None:
        async with other.inbox() as session:
            await inbox.settle(session, names)

    async def scenario() -> None:
        for round_ in range(20):
            names = [f"r{round_}-{i:03}" for i in range(200)]
            random.Random(round_).shuffle(names)
            await asyncio.gather(keep(names), settle(list(reversed(names))))
            assert await swept(db, 60) == []
        await other.dispose()

    asyncio.run(scenario())
