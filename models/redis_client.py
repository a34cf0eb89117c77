"""Redis clients that ride out a restart: bounded timeouts, and commands retried on a fresh connection.

After Redis restarts, every pooled connection is dead; without a retry the first command on each
fails. With it, a command that meets a closed connection reconnects and runs again (three tries,
short backoff), and a Redis that is really gone surfaces as an error within seconds, never a hang.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, ResponseError

from models.gathering import resolve

RETRIES = 3
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0
BLOCKING_READ_S = COMMAND_TIMEOUT_S * 2  # outlasts a consumer's wait on its queue's bell (an idle poll, 5 s at most)


def digest_key(namespace: str, *parts: str) -> str:
    """A Redis key of fixed length for an identity of *parts* (joined by ``:``; only the last may hold one):
    *namespace* and a 128-bit BLAKE2b digest. For the claims Redis keeps by the million, where the parts
    spelled out would make each key several times longer."""
    return namespace + hashlib.blake2b(":".join(parts).encode(), digest_size=16).hexdigest()


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.5, base=0.02), RETRIES)


def connect(url: str, *, max_connections: int = 64, listener: bool = False, blocking: bool = False) -> Redis:
    """An asyncio client; a *listener* (pub/sub) client has no read timeout, since it waits by design, and a
    *blocking* one (a consumer's, which waits on its queue's bell) reads for ``BLOCKING_READ_S``."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=None if listener else BLOCKING_READ_S if blocking else COMMAND_TIMEOUT_S,
        retry=_retry(),
        health_check_interval=15,
    )
    return Redis(connection_pool=pool)


def connect_sync(url: str, *, max_connections: int = 32) -> redis.Redis:
    """The blocking client the Dramatiq broker uses, with the same retry and timeouts.

    Its pool is bounded, threads waiting for a free connection: Dramatiq's worker threads acknowledge their
    own messages, and an unbounded pool kept a connection for as many of them as ever acknowledged at the
    same moment (up to 256 in an events worker), so the process grew with each new peak.
    """
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=BLOCKING_READ_S,
        retry=redis.retry.Retry(ExponentialBackoff(cap=0.5, base=0.02), RETRIES),
        health_check_interval=15,
    )
    return redis.Redis(connection_pool=pool)


class Lua:
    """A Lua script sent by its digest (``EVALSHA``), and in full only when Redis does not know it yet.

    Calls made on one client in the same turn of the event loop (concurrent requests at the same step)
    go to Redis together: one connection checkout and one write for all of them (``_evalsha_each``).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        batch = _batches.get(client)
        if batch is None:
            batch = _batches[client] = _Batch(client)
        return await batch.call(self, [*keys], [*args])

    async def alone(self, client: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:  # a restarted or flushed Redis forgot it: EVAL loads it again
            return await client.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]


@dataclass
class _Call:
    script: Lua
    keys: list[str]
    args: list[Any]
    answer: asyncio.Future[Any]


class _Batch:
    """The script calls waiting to be sent on one client; the first one starts the task that sends them."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.waiting: list[_Call] = []
        self.sending: set[asyncio.Task[None]] = set()

    async def call(self, script: Lua, keys: list[str], args: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        call = _Call(script, keys, args, loop.create_future())
        self.waiting.append(call)
        if len(self.waiting) == 1:  # runs after the callbacks already due: their calls join this batch
            task = loop.create_task(self._send())
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)
        return await call.answer

    async def _send(self) -> None:
        calls, self.waiting = self.waiting, []
        try:
            answers = await _evalsha_each(self.client, calls)
        except Exception as error:  # the connection failed: every call of the batch fails with it
            for call in calls:
                resolve(call.answer, error)
            return
        for call, answer in zip(calls, answers, strict=True):
            if isinstance(answer, NoScriptError):  # a restarted or flushed Redis forgot it
                await _settle(call, call.script.alone(self.client, call.keys, call.args))
            else:
                resolve(call.answer, answer)


async def _evalsha_each(client: Redis, calls: list[_Call]) -> list[Any]:
    """Each call's answer, or the error Redis answered it with: one write and its replies on a connection
    of *client*'s pool, under one deadline (the client's socket timeout) for the whole exchange.

    What ``client.pipeline(transaction=False)`` does, at two fifths of its CPU: the commands are packed by
    hiredis in one go, and the connection's own timeout, which redis-py applies to every reply read (a
    timeout context each) and to the write (a task of its own), is lifted for the exchange, as redis-py
    itself does for its relaxed timeouts. A connection error or the deadline disconnects, and the exchange
    is retried on a fresh connection, as the client's own commands are.
    """
    pool = client.connection_pool
    deadline = pool.connection_kwargs.get("socket_timeout")
    packed = b"".join(
        [hiredis.pack_command(("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)) for call in calls]
    )
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]

    async def exchange() -> list[Any]:
        lifted, connection.socket_timeout = connection.socket_timeout, None
        try:
            async with asyncio.timeout(deadline):
                await connection.send_packed_command(packed)
                answers: list[Any] = []
                for _ in calls:
                    try:
                        answers.append(await connection.read_response())
                    except ResponseError as error:
                        answers.append(error)
                return answers
        except TimeoutError as error:  # redis-py has dropped the connection, its late replies unread
            raise redis.TimeoutError(f"no answer from Redis within {deadline} s") from error
        finally:
            connection.socket_timeout = lifted

    async def fail(error: Exception) -> None:
        await connection.disconnect()

    try:
        return await connection.retry.call_with_retry(exchange, fail)  # type: ignore[no-any-return]
    finally:
        await pool.release(connection)


async def _settle(call: _Call, answer: Awaitable[Any]) -> None:
    try:
        resolve(call.answer, await answer)
    except Exception as error:
        resolve(call.answer, error)


_batches: weakref.WeakKeyDictionary[Redis, _Batch] = weakref.WeakKeyDictionary()


# KEYS: a key; ARGV: the value its owner set. Deletes the key only if it still holds that value.
DELETE_IF_OWNED = Lua(
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
)
