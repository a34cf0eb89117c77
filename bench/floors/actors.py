"""Floors B and C: bare Dramatiq actors on the benchmark's Redis, in a namespace of their own.

The ``dramatiq`` command is pointed at this module (``dramatiq bench.floors.actors --queues …``);
``BENCH_REDIS_URL`` says which Redis. Default middleware, synchronous actors: Dramatiq as it comes.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

from bench.floors import DRAIN_QUEUE, NAMESPACE, ROUNDTRIP_QUEUE

url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
broker = RedisBroker(url=url, namespace=NAMESPACE)  # type: ignore[no-untyped-call]
backend = RedisBackend(url=url, namespace=f"{NAMESPACE}-results")  # type: ignore[no-untyped-call]
broker.add_middleware(Results(backend=backend))  # type: ignore[no-untyped-call]
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=DRAIN_QUEUE)
def noop() -> None:
    """Floor B: nothing at all."""


@dramatiq.actor(queue_name=ROUNDTRIP_QUEUE, store_results=True)
def echo(value: int) -> int:
    """Floor C: hand the value back through the Results middleware."""
    return value
