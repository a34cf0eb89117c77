"""Floor B: how fast the events workers' processes and threads drain bare no-op messages from Redis.

The messages are queued before the workers start, and the clock runs from the first acknowledgement
to the last, so neither enqueueing nor start-up is measured: only fetch, run and acknowledge.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dramatiq
from redis import Redis

from bench.floors import DRAIN_QUEUE, NAMESPACE
from bench.procs import BIN, Child, child_env


@dataclass(frozen=True)
class Drain:
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def to_json(self) -> dict[str, float]:
        return {"messages": self.messages, "seconds": round(self.seconds, 3), "rate": self.rate}


def _enqueue(redis: Redis, count: int) -> None:
    """*count* no-op messages, queued the way Dramatiq's Redis broker queues them, 1,000 per round trip."""
    queue = f"{NAMESPACE}:{DRAIN_QUEUE}"
    for start in range(0, count, 1000):
        with redis.pipeline(transaction=False) as pipe:
            for _ in range(min(1000, count - start)):
                redis_id = str(uuid.uuid4())
                message: dramatiq.Message[None] = dramatiq.Message(
                    queue_name=DRAIN_QUEUE,
                    actor_name="noop",
                    args=(),
                    kwargs={},
                    options={"redis_message_id": redis_id},
                )
                pipe.hset(f"{queue}.msgs", redis_id, message.encode())
                pipe.rpush(queue, redis_id)
            pipe.execute()


def drain(redis_url: str, *, processes: int, threads: int, messages: int, timeout_s: float, logs: Path) -> Drain:
    """Messages per second with which ``dramatiq --processes P --threads T`` empties a full queue."""
    redis = Redis.from_url(redis_url)
    pending_key = f"{NAMESPACE}:{DRAIN_QUEUE}.msgs"
    redis.delete(f"{NAMESPACE}:{DRAIN_QUEUE}", pending_key)
    _enqueue(redis, messages)
    argv = [str(BIN / "dramatiq"), "bench.floors.actors", "--queues", DRAIN_QUEUE]
    argv += ["--processes", str(processes), "--threads", str(threads)]
    worker = Child("floor-b", argv, child_env({"BENCH_REDIS_URL": redis_url}), logs)
    try:
        deadline = time.monotonic() + timeout_s
        while (left := int(redis.hlen(pending_key))) == messages:
            if time.monotonic() > deadline or not worker.alive():
                raise RuntimeError(f"floor B workers took no message:\n{worker.tail()}")
            time.sleep(0.002)
        started, at_start = time.monotonic(), left
        while left > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"floor B did not drain {messages} messages within {timeout_s:.0f} s")
            time.sleep(0.002)
            left = int(redis.hlen(pending_key))
        return Drain(messages=at_start, seconds=time.monotonic() - started)
    finally:
        worker.stop()
        redis.close()
