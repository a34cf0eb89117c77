"""The issue's targets, judged on the medians of the runs: one row per measured figure.

Every row carries a *margin*: how far the measurement is from its target, scaled so that 1.0 is
exactly on the target and above 1.0 is better (the chart draws it). ``passed`` is None when the
figure could not be measured in this run (an endpoint not yet served, PostgreSQL not given...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

INGEST_RATIO = 0.25
BATCH_EVENTS_PER_S = 50_000
PROCESSING_RATIO = 1.0
LATENCY_P99_MS = 1000
DRAW_P50_EXTRA_MS = 5
DRAW_P99_RATIO = 2.0
DRAW_RATE_RATIO = 0.5
API_RSS_MB = 150
WORKER_RSS_MB = 250
GROWTH_SHARE, GROWTH_FLOOR_MB = 0.02, 2.0  # "no growth": within 2 % (at least 2 MiB) of the RSS at checkpoint 2
SCALE_OUT_RATIO = 1.6


@dataclass(frozen=True)
class Row:
    target: str
    scenario: str
    measured: str
    floor: str
    ratio: float | None
    requirement: str
    passed: bool | None
    margin: float | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _num(value: float | None, unit: str, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f} {unit}".strip()


def _at_least(
    value: float | None, floor: float | None, required: float
) -> tuple[float | None, bool | None, float | None]:
    """(ratio, passed, margin) for "at least *required* x floor"."""
    if value is None or not floor:
        return None, None, None
    ratio = value / floor
    return ratio, ratio >= required, ratio / required


def ingestion(m: Mapping[str, float], endpoints: tuple[str, ...]) -> list[Row]:
    rows = []
    for endpoint in endpoints:
        value, floor = m.get(f"ingest.{endpoint}.rate"), m.get(f"floor_a.{endpoint}.rate")
        ratio, passed, margin = _at_least(value, floor, INGEST_RATIO)
        rows.append(
            Row(
                "1",
                f"ingest {endpoint} (single)",
                _num(value, "req/s"),
                _num(floor, "req/s"),
                ratio,
                f"≥ {INGEST_RATIO} x floor A",
                passed,
                margin,
            )
        )
    return rows


def batch(m: Mapping[str, float], unavailable: str) -> Row:
    value, floor = m.get("ingest.batch.rate"), m.get("floor_a.batch.rate")
    requirement = f"≥ {BATCH_EVENTS_PER_S:,} events/s"
    if value is None:
        return Row("2", "ingest batch", "—", _num(floor, "events/s"), None, requirement, None, None, unavailable)
    ratio = value / floor if floor else None
    return Row(
        "2",
        "ingest batch",
        _num(value, "events/s"),
        _num(floor, "events/s"),
        ratio,
        requirement,
        value >= BATCH_EVENTS_PER_S,
        value / BATCH_EVENTS_PER_S,
        "floor A shown for reference",
    )


def processing(m: Mapping[str, float], database: str, note: str) -> list[Row]:
    value, floor = m.get("processing.rate"), m.get("floor_b.rate")
    ratio, passed, margin = _at_least(value, floor, PROCESSING_RATIO)
    rate_row = Row(
        "3",
        f"processing rate ({database})",
        _num(value, "events/s"),
        _num(floor, "msg/s"),
        ratio,
        f"≥ {PROCESSING_RATIO} x floor B",
        passed,
        margin,
        note,
    )
    p99 = m.get("latency.p99_ms")
    latency_row = Row(
        "3",
        "event-to-effect p99 at half that rate",
        _num(p99, "ms"),
        "—",
        None,
        f"< {LATENCY_P99_MS:,} ms",
        None if p99 is None else p99 < LATENCY_P99_MS,
        None if not p99 else LATENCY_P99_MS / p99,
    )
    return [rate_row, latency_row]


def draws(m: Mapping[str, float]) -> list[Row]:
    p50, floor_p50 = m.get("draws.p50_ms"), m.get("floor_c.p50_ms")
    p99, floor_p99 = m.get("draws.p99_ms"), m.get("floor_c.p99_ms")
    rate, floor_rate = m.get("draws.rate"), m.get("floor_c.rate")
    rows = []
    if p50 is not None and floor_p50 is not None:
        limit = floor_p50 + DRAW_P50_EXTRA_MS
        rows.append(
            Row(
                "4",
                "lootbox open p50",
                _num(p50, "ms", 1),
                _num(floor_p50, "ms", 1),
                p50 / floor_p50,
                f"≤ floor C + {DRAW_P50_EXTRA_MS} ms",
                p50 <= limit,
                limit / p50 if p50 else None,
            )
        )
    if p99 is not None and floor_p99:
        ratio = p99 / floor_p99
        rows.append(
            Row(
                "4",
                "lootbox open p99",
                _num(p99, "ms", 1),
                _num(floor_p99, "ms", 1),
                ratio,
                f"≤ {DRAW_P99_RATIO} x floor C",
                ratio <= DRAW_P99_RATIO,
                DRAW_P99_RATIO / ratio,
            )
        )
    rate_ratio, passed, margin = _at_least(rate, floor_rate, DRAW_RATE_RATIO)
    rows.append(
        Row(
            "4",
            "lootbox opens/s (32 clients)",
            _num(rate, "/s"),
            _num(floor_rate, "/s"),
            rate_ratio,
            f"≥ {DRAW_RATE_RATIO} x floor C",
            passed,
            margin,
        )
    )
    return rows


def memory(result: Mapping[str, Any] | None, quick_note: str) -> list[Row]:
    checkpoints = list(result["checkpoints"]) if result else []
    if len(checkpoints) < 4:
        note = "not measured" if not checkpoints else "fewer than three checkpoints within the time bound"
        return [Row("5", "memory", "—", "—", None, "see issue", None, None, note)]
    second, third = checkpoints[2], checkpoints[3]
    rows = []
    for role, limit, label in (("api", API_RSS_MB, "API process"), ("events", WORKER_RSS_MB, "events worker")):
        at, then = second.get(role), third.get(role)
        if at is None or then is None:
            continue
        note = f"after {second['accepted']:,} events accepted, {second['applied']:,} applied. {quick_note}".strip()
        rows.append(
            Row("5", f"{label} RSS", _num(at, "MiB", 1), "—", None, f"< {limit} MiB", at < limit, limit / at, note)
        )
        growth, tolerance = then - at, max(GROWTH_FLOOR_MB, GROWTH_SHARE * at)
        rows.append(
            Row(
                "5",
                f"{label} growth, checkpoint 2 → 3",
                _num(growth, "MiB", 1),
                "—",
                None,
                f"≤ {tolerance:.1f} MiB (no growth)",
                growth <= tolerance,
                tolerance / max(growth, tolerance / 100),
            )
        )
    return rows


def scale_out(m: Mapping[str, float], database: str) -> Row:
    one, two = m.get("scaleout.1.rate"), m.get("scaleout.2.rate")
    requirement = f"≥ {SCALE_OUT_RATIO} x one process"
    if database != "postgresql" or two is None:
        return Row(
            "6",
            "scale-out, 2 event processes",
            "—",
            "—",
            None,
            requirement,
            None,
            None,
            "PostgreSQL only: pass --database-url postgresql://…",
        )
    ratio, passed, margin = _at_least(two, one, SCALE_OUT_RATIO)
    return Row(
        "6",
        "scale-out, 2 event processes",
        _num(two, "events/s"),
        _num(one, "events/s") + " (1 process)",
        ratio,
        requirement,
        passed,
        margin,
    )
