"""The draws and events queues' consumer runs their messages on the worker's event loop
(``actors.loop_consumer``): a real Dramatiq worker on a real Redis fetches, runs, acknowledges, retries,
dead-letters and, when it stops, lets its running messages finish or puts them back, as Dramatiq's own
threads do."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware.asyncio import AsyncIO
from redis import Redis

from actors import loop_consumer
from actors.broker import QUEUE_DRAWS, PromptRedisBroker, build_broker
from config import get_settings
from models.redis_client import connect
from tests.support.processes import wait_until

IDLE_POLL_MS = 20_000  # a message run sooner was woken by the queue's bell


@dataclass
class _Worker:
    broker: PromptRedisBroker
    redis: Redis
    namespace: str
    dramatiq_worker: dramatiq.Worker
    ran: list[tuple[Any, ...]] = field(default_factory=list)
    on_loop: list[bool] = field(default_factory=list)
    active: int = 0  # draws running now
    most_active: int = 0
    running: bool = False

    def start(self) -> None:
        self.dramatiq_worker.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.dramatiq_worker.stop(timeout=60_000)

    def keys(self, suffix: str) -> str:
        return f"{self.namespace}:{suffix}"

    def unacknowledged(self) -> int:
        return sum(int(self.redis.scard(key)) for key in self.redis.keys(self.keys("__acks__.*")))

    def queued(self) -> list[str]:
        return [item.decode() for item in self.redis.lrange(self.keys(QUEUE_DRAWS), 0, -1)]


@pytest.fixture
def worker(redis_url: str) -> Iterator[_Worker]:
    """A broker of the test's own namespace, whose draws a Dramatiq worker (one idle thread) runs."""
    namespace = f"loop-{uuid.uuid4().hex[:8]}"
    broker = PromptRedisBroker(
        idle_poll_ms=IDLE_POLL_MS,
        background_idle_poll_ms=20,  # the delay queue: retries once due
        loop_client=lambda: connect(redis_url),
        client=Redis.from_url(redis_url, socket_timeout=IDLE_POLL_MS / 1000 + 10),
        namespace=namespace,
    )
    broker.add_middleware(AsyncIO())
    dramatiq_worker = dramatiq.Worker(broker, queues={QUEUE_DRAWS}, worker_threads=1, worker_timeout=100)
    worker = _Worker(broker, Redis.from_url(redis_url), namespace, dramatiq_worker)
    yield worker
    worker.stop()


def _actor(worker: _Worker, *, seconds: float = 0, failures: int = 0, **options: Any) -> dramatiq.Actor[Any, Any]:
    """An actor whose first *failures* runs fail, each after *seconds*."""

    async def draw(*args: Any) -> None:
        loop_thread = get_event_loop_thread()
        worker.on_loop.append(threading.current_thread() is loop_thread)
        worker.active += 1
        worker.most_active = max(worker.most_active, worker.active)
        try:
            await asyncio.sleep(seconds)
        finally:
            worker.active -= 1
        if len(worker.on_loop) <= failures:
            raise RuntimeError("the draw failed")
        worker.ran.append(args)

    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
        draw, broker=worker.broker, actor_name=f"draw_{uuid.uuid4().hex[:6]}", queue_name=QUEUE_DRAWS, **options
    )
    return actor


def test_messages_run_on_the_event_loop_woken_by_the_bell_and_are_acknowledged(
    worker: _Worker,
) -> None:
    actor = _actor(worker, seconds=0.01)
    worker.start()
    wait_until(lambda: int(worker.redis.info("clients")["blocked_clients"]) == 1, what="the consumer to wait")
    for number in range(50):
        actor.send(number)
    wait_until(lambda: len(worker.ran) == 50, timeout=5, what="the draws")  # within the bell, not the idle poll
    assert sorted(args[0] for args in worker.ran) == list(range(50))
    assert all(worker.on_loop) and len(worker.on_loop) == 50
    assert worker.most_active == 2  # its prefetch, twice its one thread: no thread waits on a draw
    wait_until(lambda: worker.unacknowledged() == 0, timeout=5, what="the acknowledgements")
    assert worker.queued() == [] and worker.redis.hlen(worker.keys(f"{QUEUE_DRAWS}.msgs")) == 0


def test_a_failed_message_is_retried_then_dead_lettered(worker: _Worker) -> None:
    actor = _actor(worker, failures=3, max_retries=2, min_backoff=10, max_backoff=20)  # every run it gets
    worker.start()
    message = actor.send("x")
    wait_until(lambda: len(worker.on_loop) == 3, timeout=10, what="the first run and two retries")
    dead = worker.keys(f"{QUEUE_DRAWS}.XQ")
    wait_until(lambda: worker.redis.zcard(dead) == 1, timeout=5, what="the dead letter")
    (data,) = worker.redis.hvals(f"{dead}.msgs")
    assert dramatiq.Message.decode(data).message_id == message.message_id
    time.sleep(0.3)
    assert len(worker.on_loop) == 3 and worker.ran == []
    assert worker.unacknowledged() == 0 and worker.queued() == []


def test_a_failed_message_whose_retry_cannot_be_queued_goes_back_in_the_queue(
    worker: _Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = _actor(worker, failures=1, min_backoff=10)  # the first run fails, the next succeeds
    actor.send("y")

    def enqueue_fails(*args: Any, **kwargs: Any) -> None:
        raise redis.ConnectionError("Redis refused the retry")

    monkeypatch.setattr(worker.broker, "enqueue", enqueue_fails)  # as Retries queues the delayed copy
    worker.start()
    wait_until(lambda: worker.ran == [("y",)], timeout=5, what="the second run")
    assert worker.on_loop == [True, True]
    wait_until(lambda: worker.unacknowledged() == 0, timeout=5, what="the acknowledgement")
    assert worker.queued() == [] and worker.redis.zcard(worker.keys(f"{QUEUE_DRAWS}.XQ")) == 0


def test_a_stopping_worker_lets_its_running_messages_finish(worker: _Worker) -> None:
    actor = _actor(worker, seconds=0.5)
    worker.start()
    actor.send("slow")
    wait_until(lambda: len(worker.on_loop) == 1, timeout=5, what="the draw to start")
    worker.stop()
    assert worker.ran == [("slow",)]
    assert worker.unacknowledged() == 0 and worker.queued() == []


def test_a_stopping_worker_puts_back_what_outlasts_its_grace(worker: _Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_consumer, "SHUTDOWN_GRACE_S", 0.2)
    actor = _actor(worker, seconds=30)
    worker.start()
    message = actor.send("stuck")
    wait_until(lambda: len(worker.on_loop) == 1, timeout=5, what="the draw to start")
    worker.stop()
    assert worker.ran == []
    (queued,) = worker.queued()  # at once, for another worker: not after this one's heartbeat is old
    data = worker.redis.hget(worker.keys(f"{QUEUE_DRAWS}.msgs"), queued)
    assert data is not None and dramatiq.Message.decode(data).message_id == message.message_id
    assert worker.unacknowledged() == 0


def test_the_consumers_client_outlasts_the_longest_wait_on_the_bell(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle consumer waits on its queue's bell for its idle poll, up to 5 s (``BROKER_IDLE_POLL``): the
    client the broker gives it must not time out first (and resend the wait, as a timed-out command is)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BROKER_IDLE_POLL", "5")
    get_settings.cache_clear()
    try:
        idle_poll_s = get_settings().broker_idle_poll_s
        broker = build_broker()
        assert isinstance(broker, PromptRedisBroker)

        async def wait() -> tuple[object, float]:
            client = broker.loop_client()
            began = time.monotonic()
            try:
                return await client.brpop([f"bell-{uuid.uuid4().hex}"], timeout=idle_poll_s), time.monotonic() - began
            finally:
                await client.aclose()

        rung, waited = asyncio.run(wait())
    finally:
        get_settings.cache_clear()
    assert rung is None
    assert idle_poll_s <= waited < 2 * idle_poll_s
