"""The Dramatiq broker, configured from settings. Imported first by every process that sends or runs actors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
import msgspec
import redis
from dramatiq import Middleware, Worker
from dramatiq.broker import Broker, Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import dq_name
from dramatiq.encoder import Encoder
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.middleware.asyncio import AsyncIO
from redis.asyncio import Redis as AsyncRedis

from actors.loop_consumer import LoopConsumer
from config import get_settings
from config.process import freeze_startup_heap
from models.redis_client import connect, connect_sync

QUEUE_DRAWS = "draws"
QUEUE_EVENTS = "events"
QUEUE_WEBHOOKS = "webhooks"
NAMESPACE = "wowsino"


def bell_key(queue: str) -> str:
    """The list whose item says that *queue* (a queue's Redis key, ``wowsino:draws``) has a new message."""
    return f"{queue}.bell"


def queue_lua(first_key: int, message_id: str, data: str) -> str:
    """Lua lines that queue a message as Dramatiq's Redis broker does (``HSET`` its data, ``RPUSH`` its id)
    and ring the queue's bell, for the scripts that queue messages: ``KEYS[first_key]`` and the two after it
    are the queue's hash, list and bell; *message_id* and *data* are Lua expressions. One item in the bell
    is enough, however many messages came."""
    hash_, queue, bell = (f"KEYS[{first_key + offset}]" for offset in range(3))
    return (
        f"redis.call('hset', {hash_}, {message_id}, {data})\n"
        f"redis.call('rpush', {queue}, {message_id})\n"
        f"redis.call('lpush', {bell}, '1')\n"
        f"redis.call('ltrim', {bell}, 0, 0)\n"
    )


def encoded(
    actor: dramatiq.Actor[Any, Any],
    message_id: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    eta_ms: int | None = None,
) -> bytes:
    """A message calling *actor*, as the scripts that queue messages themselves store it under *message_id*
    (the message's id and its id in the Redis queue). Given *eta_ms* (milliseconds since the epoch), it is a
    delayed message, for the actor's delay queue, as Dramatiq's ``send_with_options(delay=...)``
    writes it."""
    options: dict[str, Any] = {"redis_message_id": message_id}
    if eta_ms is not None:
        options["eta"] = eta_ms
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=actor.queue_name if eta_ms is None else dq_name(actor.queue_name),
        actor_name=actor.actor_name,
        args=args,
        kwargs=kwargs,
        options=options,
        message_id=message_id,
    )
    return message.encode()


class MsgspecJSON(Encoder):
    """Dramatiq's JSON message format, written and read by msgspec: a batch of a thousand events is
    encoded in the API's request path, where the standard library's encoder costs several times more."""

    def encode(self, data: dict[str, Any]) -> bytes:
        return msgspec.json.encode(data)

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            decoded: dict[str, Any] = msgspec.json.decode(data)
        except msgspec.DecodeError as error:
            raise DecodeError(f"failed to decode message {data!r}", data, error) from None  # type: ignore[no-untyped-call]
        return decoded


class _BellConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, which waits for its queue's bell rather than sleeping when it is empty,
    and for free slots rather than sleeping when it holds all it may.

    The API (and the scheduler's sweep) rings a queue's bell (``bell_key``) with every message it queues,
    in the same script; an idle consumer blocks on the bell (``BRPOP``) for up to its idle poll, so it
    fetches a new message at once instead of at its next look. The broker rings it too when Dramatiq
    queues a message itself (a webhook delivery, a retry once due): ``PromptRedisBroker.do_enqueue``.

    A fetch that brings fewer messages than it asked for has emptied the queue: the consumer then waits on
    the bell before it fetches again, since any message queued after that fetch rang it. (Fetching again
    at once, as Dramatiq's consumer does, found the queue empty nearly every time: two fetches and a wait
    per message where messages come one at a time, as the draws' did before they ran on the event loop.)

    A consumer holding its whole prefetch (the messages its threads run and those waiting for a thread)
    waits until *refill* of them are acknowledged (or its idle poll passed), then fetches that many in one
    call: sleeping its idle poll instead left the threads without work once they had run what they held
    (a webhooks worker whose deliveries take 20 ms stood idle most of every 100 ms).
    """

    def __init__(self, broker: RedisBroker, queue_name: str, prefetch: int, idle_poll_ms: int, refill: int) -> None:
        super().__init__(broker, queue_name, prefetch, 0)  # type: ignore[no-untyped-call]  # never sleeps
        self.idle_poll_s = idle_poll_ms / 1000
        self.bell = bell_key(f"{broker.namespace}:{queue_name}")
        self.refill = max(1, min(refill, prefetch))
        self.freed = threading.Event()  # set by the worker threads once ``refill`` slots are free
        self.emptied = False  # the last fetch brought fewer messages than it asked for

    def __next__(self) -> MessageProxy | None:
        if self.emptied and not self.message_cache and self._free() > 0:
            self.emptied = False
            self._wait_for_bell()
        cached, free = len(self.message_cache), self._free()
        message: MessageProxy | None = super().__next__()  # type: ignore[no-untyped-call]
        if message is None:
            if free > 0:  # it looked with slots free and found the queue empty (a slot freed since is not that)
                self._wait_for_bell()
            else:  # every slot is taken until messages are acknowledged
                self.freed.clear()
                if self._free() < self.refill:  # checked after clearing: no acknowledgement goes unseen
                    self.freed.wait(self.idle_poll_s)
        elif not cached:  # this call fetched: *free* asked for, the one returned and the rest cached came
            self.emptied = 1 + len(self.message_cache) < free
        return message

    def _wait_for_bell(self) -> None:
        """Block until a message is queued (its bell rung since the last wait) or the idle poll passes."""
        try:
            self.broker.client.brpop([self.bell], timeout=self.idle_poll_s)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]

    def ack(self, message: MessageProxy) -> None:
        try:
            super().ack(message)  # type: ignore[no-untyped-call]
        finally:
            self._freed()

    def nack(self, message: MessageProxy) -> None:
        try:
            super().nack(message)  # type: ignore[no-untyped-call]
        finally:
            self._freed()

    def _free(self) -> int:
        return self.prefetch - self.outstanding_message_count  # type: ignore[no-any-return]

    def _freed(self) -> None:
        if self._free() >= self.refill:
            self.freed.set()


class PromptRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, whose idle consumers wait for a new message within a bounded time.

    A consumer that finds its queue empty backs off exponentially up to the worker timeout (a second
    by default), so a message sent to a worker that has just emptied its queue waited up to that long:
    the draws a player waits for must not. An idle consumer here waits on its queue's bell
    (``_BellConsumer``), and looks at the queue again after its idle poll at the latest (``idle_poll_ms``).
    The draws and events queues' consumers run their messages on the worker's event loop (``LoopConsumer``):
    Dramatiq's threads took a fifth of the draws process's CPU per draw, and an events process runs its
    whole prefetch at once, in bigger group commits.
    Each look is a script call on the idle worker's CPU, so the queues nobody waits on (pipeline events,
    webhooks, delayed retries) are looked at less often (``background_idle_poll_ms``).
    """

    def __init__(
        self, *, idle_poll_ms: int, background_idle_poll_ms: int, loop_client: Callable[[], AsyncRedis], **options: Any
    ) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.loop_client = loop_client  # makes a ``LoopConsumer``'s asyncio client, on its event loop
        self.idle_poll_ms = idle_poll_ms
        self.background_idle_poll_ms = background_idle_poll_ms
        self._enqueue_and_ring = self.client.register_script(queue_lua(1, "ARGV[1]", "ARGV[2]"))

    def do_enqueue(self, queue_name: str, message_id: str, data: bytes) -> None:
        """Queue a message as Dramatiq's dispatch script does (``HSET``, ``RPUSH``) and ring its queue's bell,
        in one script call: the messages a worker queues (webhook deliveries, retries once due, delayed
        ones) wake an idle consumer too."""
        queue = f"{self.namespace}:{queue_name}"
        self._enqueue_and_ring(keys=[f"{queue}.msgs", queue, bell_key(queue)], args=[message_id, data])

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        # draws are polled briefly (a player waits on each), the others less often
        poll = min(timeout, self.idle_poll_ms if queue_name == QUEUE_DRAWS else self.background_idle_poll_ms)
        if queue_name in (QUEUE_DRAWS, QUEUE_EVENTS):  # their messages run on the worker's event loop
            return LoopConsumer(
                self,
                queue_name,
                prefetch=prefetch,
                idle_poll_ms=poll,
                watch_ms=timeout,
                bell=bell_key(f"{self.namespace}:{queue_name}"),
                client=self.loop_client,
            )
        return _BellConsumer(self, queue_name, prefetch, poll, refill=prefetch // 4)


class FreezeStartupHeap(Middleware):
    """Freezes a worker process's start-up heap once its worker runs (``config.process``)."""

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        freeze_startup_heap()


def build_broker() -> RedisBroker:
    """A Redis broker whose heartbeat timeout, maintenance chance and idle polls come from settings."""
    settings = get_settings()
    broker = PromptRedisBroker(
        idle_poll_ms=max(1, round(settings.broker_idle_poll_s * 1000)),
        background_idle_poll_ms=max(1, round(settings.broker_background_idle_poll_s * 1000)),
        client=connect_sync(settings.redis_url),
        loop_client=lambda: connect(settings.redis_url, blocking=True),
        namespace=NAMESPACE,
        heartbeat_timeout=int(settings.broker_heartbeat_timeout_s * 1000),
        maintenance_chance=settings.broker_maintenance_chance,
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(FreezeStartupHeap())
    return broker


dramatiq.set_encoder(MsgspecJSON())
broker = build_broker()
dramatiq.set_broker(broker)
