"""Driving the stack: a load generator in its own process (wrk if installed, else ``bench.loadgen``).

Every call is bounded in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import wrk
from bench.load_result import LoadResult
from bench.procs import ROOT, child_env
from bench.stats import percentiles
from bench.workload import Workload


def generator_name() -> str:
    return "wrk" if shutil.which("wrk") else "bench.loadgen"


def hammer(workload: Workload, base_url: str, key: str, *, connections: int, duration_s: float) -> LoadResult:
    """Closed-loop load for *duration_s* seconds from *connections* connections: throughput and latency."""
    if shutil.which("wrk"):
        return wrk.run(workload.fresh(), base_url, key, connections=connections, duration_s=duration_s)
    return send(workload, base_url, key, connections=connections, duration_s=duration_s, processes=2)


def send(
    workload: Workload,
    base_url: str,
    key: str,
    *,
    connections: int,
    duration_s: float,
    count: int | None = None,
    rate: float | None = None,
    processes: int = 1,
) -> LoadResult:
    """Run ``bench.loadgen``: for *duration_s*, or until *count* requests, optionally paced at *rate*/s.

    With several *processes* the count, rate and connections are split between them, each with its own
    sender numbers so ids stay unique.
    """
    workload = workload.fresh()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        children = []
        for index in range(processes):
            spec = {
                "workload": workload.to_json(),
                "base_url": base_url,
                "connections": max(1, connections // processes),
                "duration_s": duration_s,
                "count": None if count is None else count // processes + (index < count % processes),
                "rate": None if rate is None else rate / processes,
                "sender_base": index * 100_000,
            }
            path = Path(folder) / f"spec-{index}.json"
            path.write_text(json.dumps(spec))
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.loadgen", str(path)],
                    cwd=ROOT,
                    env=child_env({"BENCH_API_KEY": key}),
                    stdout=subprocess.PIPE,
                )
            )
        outputs = [json.loads(child.communicate(timeout=duration_s + 60)[0]) for child in children]
    return merge(outputs)


def merge(outputs: list[dict[str, Any]]) -> LoadResult:
    """One result from the loadgen processes' outputs (latencies pooled before taking percentiles)."""
    statuses: dict[str, int] = {}
    for output in outputs:
        for code, n in output["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    latencies = sorted(value for output in outputs for value in output["latencies_ms"])
    return LoadResult(
        generator="bench.loadgen",
        duration_s=max(output["duration_s"] for output in outputs),
        requests=sum(output["requests"] for output in outputs),
        events=sum(output["events"] for output in outputs),
        deduped=sum(output["deduped"] for output in outputs),
        statuses=statuses,
        socket_errors=sum(output["socket_errors"] for output in outputs),
        latency_ms=percentiles(latencies),
    )
