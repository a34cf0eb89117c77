"""The issue's targets, judged on the medians of the runs: one row per measured figure.

A ratio is the median of the per-run ratios: each run measures a figure and its floor back to back,
so the pair shares whatever else the machine was doing. Every row also carries a *margin*: how far
the measurement is from its target, scaled so that 1.0 is exactly on it and above 1.0 is better (the
chart draws it). ``passed`` is None when the figure could not be measured in this session (an
endpoint the stack does not serve yet, PostgreSQL not given, ...).
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


def pairs(endpoints: tuple[str, ...]) -> dict[str, str]:
    """Each measured figure and the floor figure of the same run it is compared with."""
    return {
        **{f"ingest.{endpoint}.rate": f"floor_a.{endpoint}.rate" for endpoint in endpoints},
        "ingest.batch.rate": "floor_a.batch.rate",
        "processing.rate": "floor_b.rate",
        "draws.p50_ms": "floor_c.p50_ms",
        "draws.p99_ms": "floor_c.p99_ms",
        "draws.rate": "floor_c.rate",
    }


def ratio_of(figure: str) -> str:
    """The name of the median per-run ratio of *figure* to its floor."""
    return f"{figure} / floor"


def excess_of(figure: str) -> str:
    """The name of the median per-run difference between *figure* and its floor."""
    return f"{figure} - floor"


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


def _against_floor(
    m: Mapping[str, float],
    figure: str,
    floor: str,
    unit: str,
    target: str,
    scenario: str,
    requirement: str,
    note: str = "",
) -> Row:
    """A row for "*figure* at least *required* x its floor" (*requirement* like ``≥ 0.25 x floor A``)."""
    required = float(requirement.split()[1])
    ratio = m.get(ratio_of(figure))
    return Row(
        target,
        scenario,
        _num(m.get(figure), unit),
        _num(m.get(floor), unit),
        ratio,
        requirement,
        None if ratio is None else ratio >= required,
        None if ratio is None else ratio / required,
        note,
    )


def ingestion(m: Mapping[str, float], endpoints: tuple[str, ...]) -> list[Row]:
    return [
        _against_floor(
            m,
            f"ingest.{endpoint}.rate",
            f"floor_a.{endpoint}.rate",
            "req/s",
            "1",
            f"ingest {endpoint} (single)",
            f"≥ {INGEST_RATIO} x floor A",
        )
        for endpoint in endpoints
    ]


def batch(m: Mapping[str, float], unavailable: str) -> Row:
    value, floor = m.get("ingest.batch.rate"), m.get("floor_a.batch.rate")
    requirement = f"≥ {BATCH_EVENTS_PER_S:,} events/s"
    if value is None:
        return Row("2", "ingest batch", "—", _num(floor, "events/s"), None, requirement, None, None, unavailable)
    return Row(
        "2",
        "ingest batch",
        _num(value, "events/s"),
        _num(floor, "events/s"),
        m.get(ratio_of("ingest.batch.rate")),
        requirement,
        value >= BATCH_EVENTS_PER_S,
        value / BATCH_EVENTS_PER_S,
        "the target is absolute; floor A is shown for reference",
    )


def processing(m: Mapping[str, float], database: str, note: str) -> list[Row]:
    rate = _against_floor(
        m,
        "processing.rate",
        "floor_b.rate",
        "events/s",
        "3",
        f"processing rate ({database})",
        f"≥ {PROCESSING_RATIO} x floor B",
        note,
    )
    p99 = m.get("latency.p99_ms")
    latency = Row(
        "3",
        "event-to-effect p99 at half that rate",
        _num(p99, "ms"),
        "—",
        None,
        f"< {LATENCY_P99_MS:,} ms",
        None if p99 is None else p99 < LATENCY_P99_MS,
        None if not p99 else LATENCY_P99_MS / p99,
    )
    return [rate, latency]


def draws(m: Mapping[str, float]) -> list[Row]:
    rows = []
    p50, extra = m.get("draws.p50_ms"), m.get(excess_of("draws.p50_ms"))
    if p50 is not None and extra is not None:
        rows.append(
            Row(
                "4",
                "lootbox open p50",
                _num(p50, "ms", 1),
                _num(m.get("floor_c.p50_ms"), "ms", 1),
                m.get(ratio_of("draws.p50_ms")),
                f"≤ floor C + {DRAW_P50_EXTRA_MS} ms",
                extra <= DRAW_P50_EXTRA_MS,
                (p50 - extra + DRAW_P50_EXTRA_MS) / p50 if p50 else None,
                f"{extra:,.1f} ms above floor C",
            )
        )
    p99_ratio = m.get(ratio_of("draws.p99_ms"))
    if p99_ratio is not None:
        rows.append(
            Row(
                "4",
                "lootbox open p99",
                _num(m.get("draws.p99_ms"), "ms", 1),
                _num(m.get("floor_c.p99_ms"), "ms", 1),
                p99_ratio,
                f"≤ {DRAW_P99_RATIO} x floor C",
                p99_ratio <= DRAW_P99_RATIO,
                DRAW_P99_RATIO / p99_ratio,
            )
        )
    rows.append(
        _against_floor(
            m, "draws.rate", "floor_c.rate", "/s", "4", "lootbox opens/s (32 clients)", f"≥ {DRAW_RATE_RATIO} x floor C"
        )
    )
    return rows


def memory(result: Mapping[str, Any] | None, quick_note: str) -> list[Row]:
    checkpoints = list(result["checkpoints"]) if result else []
    if len(checkpoints) < 4:
        note = "not measured" if not checkpoints else "fewer than three checkpoints within the time bound"
        return [Row("5", "memory", "—", "—", None, "see the issue", None, None, note)]
    second, third = checkpoints[2], checkpoints[3]
    note = f"after {second['accepted']:,} events accepted, {second['applied']:,} applied. {quick_note}".strip()
    if result and not result.get("complete"):
        note += f" The third chunk was cut short by the time bound ({third['accepted']:,} events in all)."
    rows = []
    for role, limit, label in (("api", API_RSS_MB, "API process"), ("events", WORKER_RSS_MB, "events worker")):
        at, then = second.get(role), third.get(role)
        if at is None or then is None:
            continue
        growth, tolerance = then - at, max(GROWTH_FLOOR_MB, GROWTH_SHARE * at)
        rows += [
            Row("5", f"{label} RSS", _num(at, "MiB", 1), "—", None, f"< {limit} MiB", at < limit, limit / at, note),
            Row(
                "5",
                f"{label} growth, checkpoint 2 → 3",
                _num(growth, "MiB", 1),
                "—",
                None,
                f"≤ {tolerance:.1f} MiB (no growth)",
                growth <= tolerance,
                tolerance / max(growth, tolerance / 100),
            ),
        ]
    return rows


def scale_out(m: Mapping[str, float], database: str) -> Row:
    one, two, ratio = m.get("scaleout.1.rate"), m.get("scaleout.2.rate"), m.get("scaleout.ratio")
    requirement = f"≥ {SCALE_OUT_RATIO} x one process"
    scenario = "scale-out, 2 event processes"
    if database != "postgresql" or one is None or two is None or ratio is None:
        note = "PostgreSQL only: pass --database-url postgresql://…"
        return Row("6", scenario, "—", "—", None, requirement, None, None, note)
    return Row(
        "6",
        scenario,
        _num(two, "events/s"),
        _num(one, "events/s") + " (1 process)",
        ratio,
        requirement,
        ratio >= SCALE_OUT_RATIO,
        ratio / SCALE_OUT_RATIO,
    )
