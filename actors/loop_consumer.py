"""A Dramatiq consumer whose messages run on the worker's event loop instead of its threads.

Dramatiq runs an async actor's message in three threads: its consumer thread fetches it, a worker thread
takes it, hands the coroutine to the event loop thread and blocks until it is done, then acknowledges it;
each hop and each blocking Redis call takes the GIL from the event loop. ``LoopConsumer`` fetches, runs and
acknowledges the messages of its queue on the event loop itself, with Dramatiq's own dispatch script: the
queue, the acknowledgements, the heartbeats and the recovery of a dead worker's messages stay Dramatiq's,
and a failed message is retried by the broker's ``Retries`` middleware as a worker thread would have it.
The messages carried out in one turn of the loop (a group commit's) are acknowledged in one script call
that does what the dispatch script's ``ack`` does for each: a message per call cost the worker and Redis a
script call each.
Dramatiq's consumer thread only starts it and watches it (a failure restarts it, as any consumer's does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from dramatiq import Message
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _scripts
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import Retries
from redis.asyncio import Redis

from models.redis_client import Lua

log = logging.getLogger("wowsino.consumer")
DISPATCH = Lua(_scripts["dispatch"].decode())  # Dramatiq's: fetch, ack, nack and requeue, with heartbeats
# Dramatiq's "ack" of its dispatch script for many messages in one call: the worker's heartbeat, then each message
# out of the worker's set of unacknowledged ones and, if it was there, out of its queue's messages.
# KEYS: the heartbeats, the worker's unacknowledged messages of the queue, the queue's messages.
# ARGV: the time in milliseconds, the worker's id, the messages' ids.
ACKNOWLEDGE = Lua(
    """
redis.call("zadd", KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV do
    if redis.call("srem", KEYS[2], ARGV[i]) > 0 then
        redis.call("hdel", KEYS[3], ARGV[i])
    end
end
"""
)
SHUTDOWN_GRACE_S = 30.0  # how long a stopping worker lets its running messages finish


class LoopConsumer(Consumer):
    """Runs up to *prefetch* messages of *queue_name* at once on the event loop of Dramatiq's ``AsyncIO``
    middleware, through a client made there by *client*. An idle consumer waits on the queue's *bell*
    (``actors.broker.bell_key``) for up to *idle_poll_ms*, as ``_BellConsumer`` does."""

    def __init__(
        self,
        broker: RedisBroker,
        queue_name: str,
        *,
        prefetch: int,
        idle_poll_ms: int,
        watch_ms: int,
        bell: str,
        client: Callable[[], Redis],
    ) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = max(1, prefetch)
        self.idle_poll_s = idle_poll_ms / 1000
        self.watch_s = watch_ms / 1000
        self.bell = bell
        self.client = client
        self.retries = next((m for m in broker.middleware if isinstance(m, Retries)), None)
        self.running: dict[asyncio.Task[None], str] = {}  # each message's task, with its id in the queue
        self.carried_out: list[str] = []  # the ids of messages carried out, to acknowledge together
        self.acknowledging: set[asyncio.Task[None]] = set()
        self.consuming: concurrent.futures.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False

    def __next__(self) -> MessageProxy | None:
        """Dramatiq's consumer thread: start consuming on the event loop, then watch it for up to the
        worker's timeout. It never hands a message to the worker threads."""
        if self.consuming is None:
            thread = get_event_loop_thread()
            if thread is None:
                raise RuntimeError("no event loop to consume on: the broker needs the AsyncIO middleware")
            self.loop = thread.loop
            self.consuming = asyncio.run_coroutine_threadsafe(self._consume(), self.loop)
        try:
            self.consuming.result(timeout=self.watch_s)
        except concurrent.futures.TimeoutError:
            return None
        except redis.RedisError as error:
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]  # restarted in a second
        if not self.stopping:
            raise RuntimeError(f"the consumer of {self.queue_name!r} stopped by itself")
        return None

    def close(self) -> None:
        """Stop fetching; let the running messages finish within ``SHUTDOWN_GRACE_S`` and put the others back
        in the queue."""
        self.stopping = True
        if self.loop is None or self.loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=SHUTDOWN_GRACE_S + 10)
            if self.consuming is not None:  # its client closed before the worker stops the loop
                concurrent.futures.wait([self.consuming], timeout=self.watch_s + self.idle_poll_s + 5)
        except Exception:  # they come back once this worker's heartbeat is old, as Dramatiq's would
            log.warning("could not put back the unfinished messages of %r", self.queue_name, exc_info=True)

    def ack(self, message: MessageProxy) -> None:
        raise RuntimeError("the worker threads never hold this consumer's messages")

    def nack(self, message: MessageProxy) -> None:
        raise RuntimeError("the worker threads never hold this consumer's messages")

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        if list(messages):
            raise RuntimeError("the worker threads never hold this consumer's messages")

    async def _consume(self) -> None:
        redis_client = self.client()
        try:
            while not self.stopping:
                free = self.prefetch - len(self.running)
                if free <= 0:
                    await asyncio.wait(self.running, timeout=self.idle_poll_s, return_when=asyncio.FIRST_COMPLETED)
                    continue
                fetched = await self._dispatch(redis_client, "fetch", free)
                for data in fetched:
                    self._start(redis_client, Message.decode(data))
                if len(fetched) < free:  # the queue is empty: anything queued from now on rings its bell
                    await redis_client.brpop([self.bell], timeout=self.idle_poll_s)  # type: ignore[arg-type]
        finally:
            if self.running:
                await asyncio.wait(self.running)
            if self.acknowledging:  # the acknowledgements use the client
                await asyncio.wait(self.acknowledging)
            await redis_client.aclose()

    def _start(self, redis_client: Redis, message: Message[Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(redis_client, message))
        self.running[task] = message.options["redis_message_id"]
        task.add_done_callback(self.running.pop)

    async def _run(self, redis_client: Redis, message: Message[Any]) -> None:
        """Run the actor on *message*; acknowledge it, or dead-letter it once ``Retries`` gives up on it (whose
        delayed copy, queued on failure, runs it again)."""
        try:
            actor = self.broker.get_actor(message.actor_name)
            run = inspect.unwrap(actor.fn)  # the coroutine function Dramatiq wrapped for its worker threads
            if inspect.iscoroutinefunction(run):
                await run(*message.args, **message.kwargs)
            else:
                await asyncio.to_thread(actor.fn, *message.args, **message.kwargs)
        except Exception as error:
            log.error("Failed to process message %s with unhandled exception.", message, exc_info=True)
            proxy = MessageProxy(message)
            try:  # the retry's blocking enqueue runs off the event loop
                await asyncio.to_thread(self._retry, proxy, error)
            except Exception:  # its delayed copy was not queued: this one goes back in the queue at once
                log.warning("could not queue the retry of message %s", message.message_id, exc_info=True)
                await self._settle(redis_client, "requeue", message)
                return
            if proxy.failed:
                await self._settle(redis_client, "nack", message)
                return
        self._acknowledge(redis_client, message.options["redis_message_id"])

    def _acknowledge(self, redis_client: Redis, message_id: str) -> None:
        """Acknowledge a message carried out together with the others carried out in the same turn of the
        event loop (a group commit's), in one script call, which the message's task does not wait for."""
        self.carried_out.append(message_id)
        if len(self.carried_out) == 1:  # runs after the callbacks already due: their messages join this call
            task = asyncio.get_running_loop().create_task(self._acknowledge_carried_out(redis_client))
            self.acknowledging.add(task)
            task.add_done_callback(self.acknowledging.discard)

    async def _acknowledge_carried_out(self, redis_client: Redis) -> None:
        ids, self.carried_out = self.carried_out, []
        broker: Any = self.broker
        namespace, worker = broker.namespace, broker.broker_id
        keys = [f"{namespace}:__heartbeats__", f"{namespace}:__acks__.{worker}.{self.queue_name}"]
        try:
            await ACKNOWLEDGE(redis_client, [*keys, f"{namespace}:{self.queue_name}.msgs"], [_now_ms(), worker, *ids])
        except redis.RedisError:  # they come back once this worker's heartbeat is old
            log.warning("could not acknowledge %d messages", len(ids), exc_info=True)

    async def _settle(self, redis_client: Redis, command: str, message: Message[Any]) -> None:
        try:
            await self._dispatch(redis_client, command, message.options["redis_message_id"])
        except redis.RedisError:  # it comes back once this worker's heartbeat is old
            log.warning("could not %s message %s", command, message.message_id, exc_info=True)

    def _retry(self, proxy: MessageProxy, error: Exception) -> None:
        if self.retries is None:
            return
        try:
            raise error  # Retries records the traceback of the exception being handled
        except Exception:
            self.retries.after_process_message(self.broker, proxy, exception=error)  # type: ignore[no-untyped-call]

    async def _stop(self) -> None:
        if not self.running:
            return
        _, unfinished = await asyncio.wait(self.running, timeout=SHUTDOWN_GRACE_S)
        ids = [self.running[task] for task in unfinished]
        for task in unfinished:
            task.cancel()
        if ids:
            redis_client = self.client()
            try:
                await self._dispatch(redis_client, "requeue", *ids)
            finally:
                await redis_client.aclose()

    async def _dispatch(self, redis_client: Redis, command: str, *args: Any) -> Any:
        """Dramatiq's dispatch script, called as ``RedisBroker._dispatch`` calls it."""
        broker: Any = self.broker
        return await DISPATCH(
            redis_client,
            [broker.namespace],
            [
                command,
                _now_ms(),
                self.queue_name,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                broker._should_do_maintenance(command),
                broker._max_unpack_size(),
                *args,
            ],
        )


def _now_ms() -> int:
    return int(time.time() * 1000)
