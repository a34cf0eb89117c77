"""Ingestion: how many pipeline events a second the API accepts (``202``), one per request or in batches.

Each endpoint is measured on the stack and on floor A with the same generator, connections and bodies.
The events workers are paused (SIGSTOP) while the stack is measured: the figure is what the API
processes accept, as floor A's is, not what is left of two cores once workers apply the events
(the processing scenario measures that). The backlog is dropped afterwards, and the workers' last
messages awaited, so that workers churning through it do not slow the next measurement.
"""

from __future__ import annotations

from typing import Any

import httpx

from bench import load, workload
from bench.load_result import LoadResult
from bench.provision import JOURNEY_TRIGGER
from bench.scenarios import Target
from bench.stack import SETTLE_S
from bench.workload import BATCH_PATH, Item, Workload

ENDPOINTS = ("score", "contribute", "journey")
CONNECTIONS = 64
BATCH_CONNECTIONS = 8


def items(target: Target) -> dict[str, Item]:
    return {
        "score": workload.score(target.engines.tournament),
        "contribute": workload.contribute(target.engines.jackpot),
        "journey": workload.journey_event(JOURNEY_TRIGGER),
    }


def single(target: Target, endpoint: str, seconds: float, floor_url: str | None = None) -> LoadResult:
    """Closed-loop load on one single-event endpoint of the stack, or of floor A at *floor_url*."""
    work = Workload(endpoint, (items(target)[endpoint],), target.players)
    return _hammer(target, work, CONNECTIONS, seconds, floor_url, SETTLE_S)


def _hammer(
    target: Target, work: Workload, connections: int, seconds: float, floor_url: str | None, settle_s: float
) -> LoadResult:
    if floor_url is not None:
        return load.hammer(work, floor_url, target.operator.key, connections=connections, duration_s=seconds)
    with target.stack.paused("events"):
        result = load.hammer(work, target.stack.url, target.operator.key, connections=connections, duration_s=seconds)
        target.stack.purge(settle_s=0)
    target.stack.purge(settle_s=settle_s)
    return result


def batch_workload(target: Target, size: int) -> Workload:
    engines = target.engines
    events = workload.batch_events(engines.tournament, engines.jackpot, JOURNEY_TRIGGER)
    return Workload("batch", events, target.players, batch=size)


def batch_available(target: Target) -> tuple[bool, str]:
    """Whether the stack serves ``POST /v1/events/batch``; the reason when it does not."""
    path, body = batch_workload(target, 1).request(0, 999_999)
    response = httpx.post(
        f"{target.stack.url}{path}",
        content=body,
        headers={"Authorization": f"Bearer {target.operator.key}", "Content-Type": "application/json"},
        timeout=30,
    )
    target.stack.purge()
    if response.status_code in (404, 405):
        return False, f"{BATCH_PATH} answered {response.status_code}: not available on this stack yet"
    if response.status_code != 202:
        return False, f"{BATCH_PATH} answered {response.status_code}: {response.text[:200]}"
    return True, ""


def batch(target: Target, size: int, seconds: float, floor_url: str | None = None) -> LoadResult:
    """Closed-loop batches of *size* events; ``events`` counts those whose result says ``accepted``.

    The workers hold minutes of batches afterwards; nothing waits for them (the batch stack is thrown away).
    """
    return _hammer(target, batch_workload(target, size), BATCH_CONNECTIONS, seconds, floor_url, 0.0)


def figures(result: LoadResult) -> dict[str, Any]:
    return {"rate": result.rate, "p50_ms": result.latency_ms.get("p50"), "p99_ms": result.latency_ms.get("p99")}
