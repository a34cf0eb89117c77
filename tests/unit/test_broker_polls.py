"""How often idle consumers look at their queue: draws promptly, the queues nobody waits on less often."""

from __future__ import annotations

from typing import Any

from redis import Redis

from actors.broker import QUEUE_DRAWS, QUEUE_EVENTS, QUEUE_WEBHOOKS, PromptRedisBroker
from models.redis_client import connect


def _look(broker: PromptRedisBroker, queue: str, timeout: int = 1000) -> int:
    """How long the consumer of *queue* waits, at most, before looking at it again once it was empty."""
    consumer: Any = broker.consume(queue, timeout=timeout)
    return round(consumer.idle_poll_s * 1000)


def test_idle_draws_consumers_look_again_sooner_than_background_ones() -> None:
    broker = PromptRedisBroker(
        idle_poll_ms=10,
        background_idle_poll_ms=100,
        loop_client=lambda: connect("redis://127.0.0.1:1"),
        client=Redis(port=1),
        namespace="polls-test",
    )  # no connection is made: consumers connect on their first fetch
    looks = {queue: _look(broker, queue) for queue in (QUEUE_DRAWS, QUEUE_EVENTS, QUEUE_WEBHOOKS)}
    assert looks == {QUEUE_DRAWS: 10, QUEUE_EVENTS: 100, QUEUE_WEBHOOKS: 100}
    assert _look(broker, f"{QUEUE_WEBHOOKS}.DQ") == 100  # delayed retries
    assert _look(broker, QUEUE_DRAWS, timeout=5) == 5  # never longer than the worker asks
