"""Floor C: send and Results round trips at the draws' concurrency, against the draws workers' shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.floors import ROUNDTRIP_QUEUE
from bench.procs import BIN, ROOT, Child, child_env


def roundtrip(
    redis_url: str, *, processes: int, threads: int, concurrency: int, seconds: float, logs: Path
) -> dict[str, Any]:
    """``{round_trips, failures, seconds, rate, latency_ms}`` of *concurrency* clients for *seconds*."""
    env = child_env({"BENCH_REDIS_URL": redis_url})
    argv = [str(BIN / "dramatiq"), "bench.floors.actors", "--queues", ROUNDTRIP_QUEUE]
    worker = Child("floor-c", [*argv, "--processes", str(processes), "--threads", str(threads)], env, logs)
    try:
        client = [sys.executable, "-m", "bench.floors.roundtrip_client", str(concurrency), str(seconds)]
        done = subprocess.run(client, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"floor C clients failed: {done.stderr.strip()[-500:]}")
        return json.loads(done.stdout)  # type: ignore[no-any-return]
    finally:
        worker.stop()
