"""The session's figures as medians, ratios and verdicts, written to ``<date>.json`` and ``<date>.md``.

A PostgreSQL session adds ``-postgresql`` to the name and a quick one ``-quick``, so one day's
default, quick and PostgreSQL reports sit side by side.

Files are written beside their final name and renamed into place, so a crash never leaves half a report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import chart, targets
from bench.scenarios.ingest import ENDPOINTS
from bench.stats import median

FIGURES = ("rate", "p50_ms", "p99_ms")


def medians(session: Mapping[str, Any]) -> dict[str, float]:
    """Medians over the runs of every figure, of every figure's ratio to its floor, and of the scale-out rates."""
    collected: dict[str, list[float]] = {}
    for run in session["runs"]:
        flat = {
            f"{name}.{figure}": float(found[figure])
            for name, found in run.items()
            for figure in FIGURES
            if found.get(figure) is not None
        }
        for figure, floor in targets.pairs(ENDPOINTS).items():
            if figure in flat and flat.get(floor):
                flat[targets.ratio_of(figure)] = flat[figure] / flat[floor]
                flat[targets.excess_of(figure)] = flat[figure] - flat[floor]
        for name, value in flat.items():
            collected.setdefault(name, []).append(value)
    for processes, rates in session.get("scaleout", {}).items():
        collected[f"scaleout.{processes}.rate"] = list(rates)
    collected["scaleout.ratio"] = scale_out_ratios(session)
    middles = {name: median(values) for name, values in collected.items()}
    return {name: middle for name, middle in middles.items() if middle is not None}


def scale_out_ratios(session: Mapping[str, Any]) -> list[float]:
    """Each scale-out run's two-process rate over its one-process rate, measured back to back."""
    rates = session.get("scaleout", {})
    return [two / one for one, two in zip(rates.get("1", []), rates.get("2", []), strict=False) if one]


def verdicts(session: Mapping[str, Any], found: Mapping[str, float], quick: bool) -> list[targets.Row]:
    database = session["database"]["kind"]
    processing_note = "the target is stated for SQLite" if database != "sqlite" else ""
    scaled = "Quick run: checkpoints scaled down from 50k/100k/150k." if quick else ""
    return [
        *targets.ingestion(found, ENDPOINTS),
        targets.batch(found, session.get("batch_unavailable") or "not measured"),
        *targets.processing(found, database, processing_note),
        *targets.draws(found),
        *targets.memory(session.get("memory"), scaled),
        targets.scale_out(found, database),
    ]


def observations(session: Mapping[str, Any]) -> list[str]:
    """What the runs saw besides their figures: refused reads, unfinished drains, draws that timed out."""
    runs = session["runs"]
    seen = []
    failed_reads = sum(run.get("processing", {}).get("failed_pool_reads", 0) for run in runs)
    if failed_reads:
        seen.append(f"GET /v1/jackpots/{{id}} failed {failed_reads} time(s) right after a drain (503, retried)")
    unfinished = [run["processing"] for run in runs if run.get("processing", {}).get("complete") is False]
    for drain in unfinished:
        seen.append(f"a processing run applied {drain['events_applied']} of {drain['events_accepted']} events in time")
    missed = sum(run.get("latency", {}).get("missed", 0) for run in runs)
    if missed:
        seen.append(f"{missed} latency probe(s) never showed on the leaderboard (counted as 10 s)")
    pending = sum(
        count for run in runs for status, count in run.get("draws", {}).get("statuses", {}).items() if status != "201"
    )
    if pending:
        seen.append(f"{pending} lootbox open(s) answered other than 201 (202 = the draw outlasted DRAW_WAIT_TIMEOUT)")
    if ratios := scale_out_ratios(session):
        shown = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
        seen.append(f"scale-out run by run: {shown} (one process, then two, the order alternating from run to run)")
    return seen


def _cell(passed: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[passed]


def markdown(document: Mapping[str, Any]) -> str:
    machine = document["machine"]
    lines = [
        f"# WOWsino benchmark, {document['date']}",
        "",
        f"{machine['cores']} cores ({machine['cpu']}), {document['database']['kind']}, "
        f"load generator {document['load_generator']}, medians of {document['runs_done']} run(s) "
        "(a ratio is the median of the runs' ratios, each run measuring both sides back to back); "
        f"load average {machine['load_average_at_start']} at start, {machine['load_average_at_end']} at end. "
        f"Commit {str(machine['commit'])[:12]}." + (" **Quick mode.**" if document["quick"] else ""),
        "",
        "| # | scenario | measured | floor | ratio | target | pass |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in document["targets"]:
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.3g}"
        lines.append(
            f"| {row['target']} | {row['scenario']} | {row['measured']} | {row['floor']} | {ratio} | "
            f"{row['requirement']} | {_cell(row['passed'])} |"
        )
    notes = [f"{row['scenario']}: {row['note']}" for row in document["targets"] if row["note"]]
    notes += document["notes"] + observations(document)
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def write(session: dict[str, Any], quick: bool, folder: Path, options: Mapping[str, Any]) -> dict[str, Path]:
    """Write the JSON and markdown reports (and the chart when matplotlib is there); their paths."""
    found = medians(session)
    rows = verdicts(session, found, quick)
    date = datetime.now(UTC).date().isoformat()
    document = {
        "date": date,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "options": dict(options),
        "runs_done": len(session["runs"]),
        **session,
        "medians": {name: round(value, 3) for name, value in sorted(found.items())},
        "targets": [row.to_json() for row in rows],
    }
    folder.mkdir(parents=True, exist_ok=True)
    name = date + ("-postgresql" if session["database"]["kind"] == "postgresql" else "") + ("-quick" if quick else "")
    paths = {"json": folder / f"{name}.json", "md": folder / f"{name}.md"}
    _replace(paths["json"], json.dumps(document, indent=2) + "\n")
    _replace(paths["md"], markdown(document))
    png = chart.draw(rows, folder / f"{name}.png", title=f"WOWsino vs its floors, {name}")
    if png is not None:
        paths["png"] = png
    return paths


def _replace(path: Path, text: str) -> None:
    scratch = path.with_suffix(path.suffix + ".tmp")
    scratch.write_text(text)
    scratch.replace(path)
