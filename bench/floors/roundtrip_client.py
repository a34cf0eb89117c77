"""Floor C's clients: Dramatiq send and Results round trips from concurrent threads, as their own process.

``python -m bench.floors.roundtrip_client CONCURRENCY SECONDS`` prints one JSON document: round trips done,
seconds, and latency percentiles in milliseconds. ``BENCH_REDIS_URL`` names the Redis.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from bench.floors.actors import echo
from bench.stats import percentiles

TIMEOUT_MS = 10_000


def _client(stop_at: float, latencies: list[float], failures: list[int]) -> None:
    value = 0
    while time.monotonic() < stop_at:
        sent = time.monotonic()
        try:
            echo.send(value).get_result(block=True, timeout=TIMEOUT_MS)
        except Exception:  # a timeout or a lost connection counts, it does not stop the measurement
            failures.append(1)
            continue
        latencies.append((time.monotonic() - sent) * 1000)
        value += 1


def measure(concurrency: int, seconds: float) -> dict[str, object]:
    """Warm up with a few round trips, then *concurrency* threads round-trip for *seconds*."""
    for _ in range(20):
        echo.send(0).get_result(block=True, timeout=TIMEOUT_MS)
    latencies: list[float] = []
    failures: list[int] = []
    started = time.monotonic()
    clients = [
        threading.Thread(target=_client, args=(started + seconds, latencies, failures)) for _ in range(concurrency)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    return {
        "round_trips": len(latencies),
        "failures": len(failures),
        "seconds": elapsed,
        "rate": len(latencies) / elapsed,
        "latency_ms": percentiles(sorted(latencies)),
    }


if __name__ == "__main__":
    json.dump(measure(int(sys.argv[1]), float(sys.argv[2])), sys.stdout)
