"""The inbox's rules on a real database: settled messages are never swept, a fast worker wins the race,
and the workers settle what they carried out. Messages are kept as an API process keeps them
(``api.inbox.InboxWriter``: SQLite's inbox file, or one statement on PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from sqlmodel import col, select

from api.inbox import InboxWriter
from config.settings import load_settings
from models import inbox
from models.base import utcnow
from models.db import Database
from models.inbox import MAX_SWEEPS, InboxMessage, Queued
from tests.support.api import Operator
from tests.support.stack import Stack


def message(name: str) -> Queued:
    return Queued(id=name, queue="wowsino:events", data=name.encode())


async def keep(db: Database, messages: list[Queued], *, grace_s: float) -> None:
    writer = InboxWriter(db, grace_s=grace_s)
    try:
        await writer.keep(messages)
    finally:
        writer.close()


async def swept(db: Database, after_s: float) -> list[str]:
    async with db.inbox() as session:
        return [m.id for m in await inbox.overdue(session, utcnow() + timedelta(seconds=after_s), 100)]


def test_only_unsettled_messages_are_swept_and_only_when_due(db: Database) -> None:
    async def scenario() -> None:
        await keep(db, [message("a"), message("b")], grace_s=30)
        async with db.inbox() as session:
            await inbox.settle(session, ["a"])
        assert await swept(db, 0) == []  # not due yet
        assert await swept(db, 31) == ["b"]

    asyncio.run(scenario())


def test_a_message_settled_before_it_was_kept_is_never_swept(db: Database) -> None:
    async def scenario() -> None:
        async with db.inbox() as session:
            await inbox.settle(session, ["early"])  # the worker committed before the API's insert
        await keep(db, [message("early")], grace_s=0)
        assert await swept(db, 60) == []
        async with db.inbox() as session:
            await inbox.forget_settled(session, utcnow() + timedelta(seconds=1))
        async with db.inbox() as session:
            assert await session.get(inbox.InboxMessage, "early") is None

    asyncio.run(scenario())


def test_a_message_is_queued_again_a_bounded_number_of_times(db: Database) -> None:
    async def scenario() -> None:
        await keep(db, [message("stuck")], grace_s=0)
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

    async def settle(names: list[str]) -> None:
        async with other.inbox() as session:
            await inbox.settle(session, names)

    async def scenario() -> None:
        for round_ in range(20):
            names = [f"r{round_}-{i:03}" for i in range(200)]
            random.Random(round_).shuffle(names)
            await asyncio.gather(keep(db, [message(name) for name in names], grace_s=0), settle(names[::-1]))
            assert await swept(db, 60) == []
        await other.dispose()

    asyncio.run(scenario())


def test_workers_settle_every_message_they_carried_out(stack: Stack, operator: Operator) -> None:
    """A draw's message and an event's are settled once their worker is done (in the background, after
    the answer): nothing is left for the sweep to run again."""
    username = operator.player()
    box = operator.lootbox()
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "k"})
    assert opened.status_code == 201, opened.text
    event = {"user_id": username, "trigger": "deposit", "source_event_id": "e1"}
    assert operator.client.post("/v1/journeys/event", json=event).status_code == 202
    db = Database(load_settings({"DATABASE_URL": stack.database_url}))

    async def unsettled() -> int:
        async with db.inbox() as session:
            rows = await session.execute(select(InboxMessage.data).where(col(InboxMessage.settled_at).is_(None)))
            return sum(username.encode() in data for data in rows.scalars())

    async def left_after(seconds: float) -> int:
        """The unsettled rows left once they are all gone or *seconds* have passed."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := await unsettled()) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await db.dispose()
        return left

    assert asyncio.run(left_after(10)) == 0
