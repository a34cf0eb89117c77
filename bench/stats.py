"""Medians and percentiles (nearest rank), the only statistics the report uses."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted *ordered* values."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def percentiles(ordered: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and max of sorted latencies, in their unit, rounded to 0.01."""
    if not ordered:
        return {}
    points = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
    found = {name: round(percentile(ordered, fraction), 2) for name, fraction in points.items()}
    return {**found, "max": round(ordered[-1], 2)}
