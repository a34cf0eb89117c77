"""Batched jobs on a real Redis and database: the draws an API process submits together go in one message,
which carries exactly the draws whose idempotency claims were new, and is kept in the inbox as queued."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import dramatiq

from actors.draws import draw_prizes_actor
from actors.webhooks import send_deliveries
from api.enqueue import MAX_JOBS_PER_MESSAGE, Batches, Job
from api.inbox import InboxWriter
from models import inbox
from models.db import Database
from models.redis_client import connect
from models.sqlite import WriterLock

QUEUE = "wowsino:draws"


def _draw(operation_id: str) -> Job:
    args = (operation_id, "lootbox", "tenant", "live", "brand", "box", "player", None, f"key-{operation_id}", "digest")
    return Job(draw_prizes_actor, args, batched=True)


def test_draws_submitted_together_share_one_message_of_their_new_claims(redis_url: str, db: Database) -> None:
    async def scenario() -> None:
        client = connect(redis_url)
        batches = Batches(client, InboxWriter(db, grace_s=3600), ttl_s=60)
        jobs = [_draw(f"op-{index}") for index in range(5)]
        claims = [f"claim:{uuid.uuid4()}" for _ in jobs]
        await client.set(claims[2], "an earlier operation")
        fresh = await asyncio.gather(
            *(
                batches.claim_and_enqueue(job, claim, f"value-{index}", f"pending:{claim}")
                for index, (job, claim) in enumerate(zip(jobs, claims, strict=True))
            )
        )
        assert fresh == [True, True, False, True, True]
        assert [await client.get(claim) for claim in claims] == [
            b"value-0",
            b"value-1",
            b"an earlier operation",
            b"value-3",
            b"value-4",
        ]
        assert [await client.exists(f"pending:{claim}") for claim in claims] == [1, 1, 0, 1, 1]

        (message_id,) = await client.lrange(QUEUE, 0, -1)  # one message for the five
        data = await client.hget(f"{QUEUE}.msgs", message_id)
        message = dramatiq.Message.decode(data)
        assert message.actor_name == "draw_prizes_actor" and message.queue_name == "draws"
        assert message.args == ([list(jobs[index].args) for index in (0, 1, 3, 4)],)
        assert message.kwargs == {"inbox_id": message.message_id} and message.message_id == message_id.decode()
        assert await client.llen(f"{QUEUE}.bell") == 1

        async with db.inbox() as session:
            kept = await session.get(inbox.InboxMessage, message.message_id)
        assert kept is not None and kept.queue == QUEUE and kept.data == data

        again = await batches.claim_and_enqueue(jobs[0], claims[0], "value-0", f"pending:{claims[0]}")
        assert again is False and await client.llen(QUEUE) == 1  # a taken claim queues nothing
        await client.aclose()

    asyncio.run(scenario())


def test_more_draws_than_a_message_holds_go_in_several_messages_each_draw_once(redis_url: str, db: Database) -> None:
    async def scenario() -> None:
        client = connect(redis_url)
        await client.delete(QUEUE, f"{QUEUE}.msgs")
        batches = Batches(client, InboxWriter(db, grace_s=3600), ttl_s=60)
        jobs = [_draw(f"many-{index}") for index in range(2 * MAX_JOBS_PER_MESSAGE + 1)]
        fresh = await asyncio.gather(
            *(batches.claim_and_enqueue(job, f"claim:{uuid.uuid4()}", "value", "") for job in jobs)
        )
        assert all(fresh)

        messages = [
            dramatiq.Message.decode(await client.hget(f"{QUEUE}.msgs", message_id))
            for message_id in await client.lrange(QUEUE, 0, -1)
        ]
        assert [len(message.args[0]) for message in messages] == [MAX_JOBS_PER_MESSAGE, MAX_JOBS_PER_MESSAGE, 1]
        assert [draw for message in messages for draw in message.args[0]] == [list(job.args) for job in jobs]
        async with db.inbox() as session:
            for message in messages:
                assert await session.get(inbox.InboxMessage, message.message_id) is not None
        await client.aclose()

    asyncio.run(scenario())


def test_the_deliveries_of_a_transaction_are_queued_in_one_call_and_ring_the_bell(redis_url: str) -> None:
    async def scenario() -> None:
        client = connect(redis_url)
        queue = "wowsino:webhooks"
        await client.delete(queue, f"{queue}.msgs", f"{queue}.bell")
        await send_deliveries(client, ["d1", "d2", "d3"])
        await send_deliveries(client, [])  # nothing to send: no call
        messages = [
            dramatiq.Message.decode(await client.hget(f"{queue}.msgs", message_id))
            for message_id in await client.lrange(queue, 0, -1)
        ]
        assert [(message.actor_name, message.args, message.kwargs) for message in messages] == [
            ("deliver_webhook", ("d1", 0), {}),
            ("deliver_webhook", ("d2", 0), {}),
            ("deliver_webhook", ("d3", 0), {}),
        ]
        assert all(message.options["redis_message_id"] == message.message_id for message in messages)
        assert await client.llen(f"{queue}.bell") == 1
        await client.aclose()

    asyncio.run(scenario())


@contextlib.asynccontextmanager
async def _inbox_held(db: Database, url: str) -> AsyncIterator[None]:
    """Hold the inbox's write lock (SQLite's writer lock, PostgreSQL's table lock): its commits wait."""
    if db.inbox_file is not None:
        lock = WriterLock(db.inbox_file)
        with lock.held_blocking():
            yield
        lock.close()
        return
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE inbox_messages IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await connection.close()


def test_the_next_message_is_queued_while_the_previous_one_is_being_kept(
    redis_url: str, url: str, db: Database
) -> None:
    async def scenario() -> None:
        client = connect(redis_url)
        await client.delete(QUEUE, f"{QUEUE}.msgs")
        batches = Batches(client, InboxWriter(db, grace_s=3600), ttl_s=60)
        async with _inbox_held(db, url):
            first = asyncio.create_task(batches.claim_and_enqueue(_draw("held-1"), f"claim:{uuid.uuid4()}", "v", ""))
            while not await client.llen(QUEUE):
                await asyncio.sleep(0.01)
            second = asyncio.create_task(batches.claim_and_enqueue(_draw("held-2"), f"claim:{uuid.uuid4()}", "v", ""))
            for _ in range(200):  # queued without waiting for the first message's inbox commit
                if await client.llen(QUEUE) == 2:
                    break
                await asyncio.sleep(0.01)
            assert await client.llen(QUEUE) == 2
            await asyncio.sleep(0.1)
            assert not first.done() and not second.done()  # neither is answered before its message is kept
        assert await first is True and await second is True
        async with db.inbox() as session:
            for message_id in await client.lrange(QUEUE, 0, -1):
                assert await session.get(inbox.InboxMessage, message_id.decode()) is not None
        await client.aclose()

    asyncio.run(scenario())
