"""Lua scripts called concurrently on one client go to Redis in one write: each caller still gets its own
answer or its own error, a Redis that forgot the scripts is taught them again, and an answer too late
fails its batch without reaching a later one. Then the scripts that take many locks and publish many
answers in one call."""

from __future__ import annotations

import asyncio
import json

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from actors.locks import hold, lock_key, release_each, take_each
from actors.results import CHANNEL, pending_key, publish_results
from api.waiter import ResultWaiter
from models.redis_client import Lua, connect

ECHO = Lua("redis.call('incr', KEYS[1]) return ARGV[1]")
REFUSE = Lua("return redis.error_reply('refused ' .. ARGV[1])")
# ARGV: milliseconds to keep Redis busy, then the answer
SLOW = Lua("""
local began = redis.call('time')
repeat
  local now = redis.call('time')
until (now[1] - began[1]) * 1000000 + now[2] - began[2] >= tonumber(ARGV[1]) * 1000
return ARGV[2]
""")


def test_concurrent_calls_each_get_their_own_answer(redis_url: str) -> None:
    async def scenario() -> tuple[list[object], int]:
        client = connect(redis_url)
        answers = await asyncio.gather(*(ECHO(client, ["calls"], [str(n)]) for n in range(200)))
        calls = int(await client.get("calls") or 0)
        await client.aclose()
        return list(answers), calls

    answers, calls = asyncio.run(scenario())
    assert answers == [str(n).encode() for n in range(200)]
    assert calls == 200


def test_an_error_fails_only_its_own_call(redis_url: str) -> None:
    async def scenario() -> list[object]:
        client = connect(redis_url)
        calls = [REFUSE(client, [], [str(n)]) if n % 3 == 0 else ECHO(client, ["mixed"], [str(n)]) for n in range(30)]
        answers = await asyncio.gather(*calls, return_exceptions=True)
        await client.aclose()
        return list(answers)

    for n, answer in enumerate(asyncio.run(scenario())):
        if n % 3 == 0:
            assert isinstance(answer, ResponseError)
            assert str(answer) == f"refused {n}"
        else:
            assert answer == str(n).encode()


def test_a_redis_that_forgot_the_scripts_learns_them_again(redis_url: str) -> None:
    async def scenario() -> list[object]:
        client = connect(redis_url)
        await ECHO(client, ["warm"], ["0"])
        await client.script_flush()
        answers = await asyncio.gather(*(ECHO(client, ["again"], [str(n)]) for n in range(20)))
        await client.aclose()
        return list(answers)

    assert asyncio.run(scenario()) == [str(n).encode() for n in range(20)]


def test_a_call_answered_too_late_times_out_and_its_late_answer_reaches_no_one(redis_url: str) -> None:
    """A batch's deadline is the client's socket timeout; when it passes, the batch fails with Redis's own
    ``TimeoutError``, its connection is dropped (its late replies unread), and the connection's timeout
    holds again for the client's other commands."""
    late_ms, timeout_s = 600, 0.2

    async def scenario() -> tuple[list[object], object, object, object]:
        pool = BlockingConnectionPool.from_url(
            redis_url, max_connections=1, socket_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
        )
        client = Redis(connection_pool=pool)
        await asyncio.gather(ECHO(client, ["late"], ["warm"]), SLOW(client, [], ["0", "warm"]))  # Redis knows both
        batch = await asyncio.gather(
            ECHO(client, ["late"], ["first"]), SLOW(client, [], [str(late_ms), "late"]), return_exceptions=True
        )
        await asyncio.sleep(late_ms / 1000)  # Redis is done with the slow call
        after = await ECHO(client, ["late"], ["after"])
        plain = await asyncio.gather(client.eval(SLOW.source, 0, str(late_ms), "late"), return_exceptions=True)
        await asyncio.sleep(late_ms / 1000)
        last = await ECHO(client, ["late"], ["last"])
        await client.aclose()
        return list(batch), after, plain[0], last

    batch, after, plain, last = asyncio.run(scenario())
    assert all(isinstance(answer, RedisTimeout) for answer in batch), batch
    assert after == b"after"
    assert isinstance(plain, RedisTimeout), plain  # the client's own timeout applies again
    assert last == b"last"


def test_a_lock_wanted_by_many_at_once_has_one_holder_at_a_time(redis_url: str) -> None:
    """Takes made in one event loop turn go to Redis in one write; exactly one of them may win each time."""

    async def scenario() -> tuple[int, list[int]]:
        client = connect(redis_url)
        inside = 0
        most: list[int] = []

        async def one() -> None:
            nonlocal inside
            async with hold(client, "contended", ttl_s=5, wait_s=10):
                inside += 1
                most.append(inside)
                await asyncio.sleep(0.001)
                inside -= 1

        await asyncio.gather(*(one() for _ in range(40)))
        left = await client.exists("wowsino:lock:contended")
        await client.aclose()
        return left, most

    left, most = asyncio.run(scenario())
    assert len(most) == 40
    assert max(most) == 1
    assert left == 0


def test_locks_taken_together_skip_those_held_elsewhere_and_release_only_their_own(redis_url: str) -> None:
    async def scenario() -> tuple[list[bool], list[bool], list[bytes | None]]:
        client = connect(redis_url)
        await client.set(lock_key("held"), "someone-else", px=60_000)
        first = await take_each(client, ["a", "held", "b"], "mine", 60_000)
        again = await take_each(client, ["a", "c"], "other", 60_000)
        await release_each(client, ["a", "held", "b", "c"], "mine")
        left = [await client.get(lock_key(name)) for name in ("a", "held", "b", "c")]
        await client.aclose()
        return first, again, left

    first, again, left = asyncio.run(scenario())
    assert first == [True, False, True]
    assert again == [False, True]
    assert left == [None, b"someone-else", None, b"other"]


def test_answers_published_together_reach_each_waiter_in_one_announcement(redis_url: str) -> None:
    """...and end each operation's pending marker: Redis keeps it only while the operation runs."""

    async def scenario() -> tuple[list[object], list[object], int]:
        client, listener = connect(redis_url), connect(redis_url, listener=True)
        waiter = ResultWaiter(client, listener)
        waiter.start()
        watcher = listener.pubsub()
        await watcher.subscribe(CHANNEL)
        while await watcher.get_message(timeout=1) is None:  # the subscription's confirmation
            pass
        while int((await client.pubsub_numsub(CHANNEL))[0][1]) < 2:  # the waiter has subscribed too
            await asyncio.sleep(0.01)
        outcomes = [
            (f"op-{n}", {"owner": "t:live", "status": 201, "body": {"n": n, "text": "two\nlines"}}) for n in range(3)
        ]
        for operation_id, _ in outcomes:
            await client.set(pending_key("t:live", operation_id), "1", ex=60)
        waits = [asyncio.create_task(waiter.wait(operation_id, 5)) for operation_id, _ in outcomes]
        await asyncio.sleep(0.05)  # each waiter looked for a stored answer and now waits for the announcement
        await publish_results(client, outcomes)
        answers: list[object] = list(await asyncio.gather(*waits))
        announcements: list[object] = []
        while (message := await watcher.get_message(timeout=0.5)) is not None:
            announcements.append(message["data"])
        pending = await client.exists(*(pending_key("t:live", operation_id) for operation_id, _ in outcomes))
        await watcher.aclose()
        await waiter.stop()
        await client.aclose()
        await listener.aclose()
        return answers, announcements, pending

    answers, announcements, pending = asyncio.run(scenario())
    assert answers == [{"owner": "t:live", "status": 201, "body": {"n": n, "text": "two\nlines"}} for n in range(3)]
    assert len(announcements) == 1  # one pub/sub message for the three answers
    assert pending == 0


def test_an_answer_announced_before_its_waiter_waits_is_caught_when_expected(redis_url: str) -> None:
    async def scenario() -> tuple[object, object, int]:
        client, listener = connect(redis_url), connect(redis_url, listener=True)
        waiter = ResultWaiter(client, listener)
        waiter.start()
        while int((await client.pubsub_numsub(CHANNEL))[0][1]) < 1:
            await asyncio.sleep(0.01)
        outcome = {"status": 201, "body": {"n": 1}}
        with waiter.expecting("op-early") as announced:  # entered before the operation is queued
            await client.publish(CHANNEL, "op-early " + json.dumps(outcome))  # announced, never stored
            await asyncio.sleep(0.05)
            caught = await waiter.wait("op-early", 1, announced)
        await client.publish(CHANNEL, "op-missed " + json.dumps(outcome))  # nobody expected it
        await asyncio.sleep(0.05)
        missed = await waiter.wait("op-missed", 0.3)  # never stored either: only a timeout is left
        left = len(waiter._waiting)
        await waiter.stop()
        await client.aclose()
        await listener.aclose()
        return caught, missed, left

    caught, missed, left = asyncio.run(scenario())
    assert caught == {"status": 201, "body": {"n": 1}}
    assert missed is None
    assert left == 0
