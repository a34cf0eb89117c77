"""Waiting, in an API process, for the outcome of an operation that a worker runs.

One pub/sub subscription per process wakes every waiter whose operation finished, handing it the
outcome the announcement carries; each waiter also re-reads the stored outcome now and then, so a
missed announcement (a Redis reconnect) only costs a little latency, never an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actors.results import CHANNEL, result_key

log = logging.getLogger("wowsino.api")
Announced = asyncio.Future[dict[str, Any] | None]  # the outcome an announcement carried, or None to read it
RECHECK_S = 0.25


class ResultWaiter:
    """Futures keyed by operation id, resolved from the ``operations:done`` channel with the outcome."""

    def __init__(self, redis: Redis, listener: Redis) -> None:
        self._redis = redis
        self._listener = listener
        self._waiting: dict[str, set[Announced]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                async with self._listener.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._wake(message["data"].decode())
            except (RedisError, OSError) as failure:
                log.warning("result channel lost (%s); resubscribing", type(failure).__name__)
                await asyncio.sleep(0.5)

    def _wake(self, message: str) -> None:
        """Hand each outcome announced in *message* (a line per operation) to the waiters of its operation; an
        announcement without one (an older worker's) wakes them to read it."""
        for announcement in message.split("\n"):
            operation_id, _, raw = announcement.partition(" ")
            futures = self._waiting.get(operation_id)
            if not futures:
                continue
            try:
                outcome = msgspec.json.decode(raw) if raw else None
            except msgspec.DecodeError:  # never written by a worker; the waiters read the stored outcome instead
                outcome = None
            for future in futures:
                if not future.done():
                    future.set_result(outcome)

    @contextlib.contextmanager
    def expecting(self, operation_id: str) -> Iterator[Announced]:
        """Catch the announcement of *operation_id* from now on: entered before its message is queued, so
        that ``wait`` need not look for an outcome stored before it started waiting."""
        future = self._register(operation_id)
        try:
            yield future
        finally:
            self._forget(operation_id, future)

    async def wait(
        self, operation_id: str, timeout_s: float, announced: Announced | None = None
    ) -> dict[str, Any] | None:
        """The operation's outcome, or None if it is not there within *timeout_s*. Given the future of
        ``expecting``, entered before the operation was queued, it first waits for the announcement."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            future = announced if announced is not None else self._register(operation_id)
            try:
                if announced is None:
                    raw = await self._redis.get(result_key(operation_id))
                    if raw is not None:
                        return msgspec.json.decode(raw)  # type: ignore[no-any-return]
                announced = None
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    if (outcome := await asyncio.wait_for(future, min(remaining, RECHECK_S))) is not None:
                        return outcome
            finally:
                self._forget(operation_id, future)

    def _register(self, operation_id: str) -> Announced:
        future: Announced = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(operation_id, set()).add(future)
        return future

    def _forget(self, operation_id: str, future: Announced) -> None:
        futures = self._waiting.get(operation_id, set())
        futures.discard(future)
        if not futures:
            self._waiting.pop(operation_id, None)
