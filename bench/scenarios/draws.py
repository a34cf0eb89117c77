"""Draws: lootbox opens (``201`` with the prize) from 32 concurrent clients, as floor C is measured."""

from __future__ import annotations

from typing import Any

from bench import load, workload
from bench.scenarios import Target
from bench.workload import Workload

CLIENTS = 32


def draws(target: Target, seconds: float) -> dict[str, Any]:
    """Opens per second and latency percentiles; only ``201`` answers count as draws."""
    opens = Workload("draws", (workload.lootbox_open(target.engines.lootbox),), target.players, ok_status=201)
    result = load.hammer(opens, target.stack.url, target.operator.key, connections=CLIENTS, duration_s=seconds)
    return {
        "rate": result.rate,
        "p50_ms": result.latency_ms.get("p50"),
        "p99_ms": result.latency_ms.get("p99"),
        "statuses": result.statuses,
    }
