"""Memory: the RSS of the API and worker processes as pipeline events accumulate, and its growth.

Events go in chunks through the three single-event endpoints in turn (one request per event, which
is what would show a per-request leak); after each chunk, once the workers have applied what was
accepted (or the time bound comes first), every API and worker process is sampled from
``/proc/<pid>/status``. A worker is thus measured after the same number of events as the API, at rest:
sampled while it lags, its size would depend on where it stood in its work. Each checkpoint records
how many events had been applied (accepted minus the backlog).
"""

from __future__ import annotations

import time
from typing import Any

from bench import load
from bench.procs import rss_mb
from bench.scenarios import Target, ingest
from bench.workload import Workload

ROLES = ("api", "events", "draws")
DRAIN_POLL_S = 0.5


def sample(target: Target) -> dict[str, float]:
    """The largest RSS (MiB) among the processes of each role."""
    found: dict[str, float] = {}
    for role in ROLES:
        sizes = [size for proc in target.stack.processes(role) if (size := rss_mb(proc.pid)) is not None]
        if sizes:
            found[role] = round(max(sizes), 1)
    return found


def memory(target: Target, chunk: int, chunks: int, timeout_s: float) -> dict[str, Any]:
    """RSS after each of *chunks* chunks of *chunk* events, all within *timeout_s* seconds."""
    traffic = Workload("memory", tuple(ingest.items(target).values()), target.players)
    started = time.monotonic()
    accepted = 0
    checkpoints = [{"accepted": 0, "applied": 0, "seconds": 0.0, **sample(target)}]
    for _ in range(chunks):
        left = timeout_s - (time.monotonic() - started)
        if left <= 1:
            break
        sent = load.send(
            traffic,
            target.stack.url,
            target.operator.key,
            connections=64,
            duration_s=left,
            count=chunk,
            processes=2,
        )
        accepted += sent.events
        applied = accepted - _caught_up(target, deadline=started + timeout_s)
        seconds = round(time.monotonic() - started, 1)
        checkpoints.append({"accepted": accepted, "applied": applied, "seconds": seconds, **sample(target)})
    target.stack.purge()
    return {"chunk": chunk, "checkpoints": checkpoints, "complete": accepted >= chunk * chunks}


def _caught_up(target: Target, deadline: float) -> int:
    """Wait until the events workers' backlog is empty or *deadline* (monotonic) passes; the backlog left."""
    while (backlog := target.stack.backlog()) and time.monotonic() < deadline:
        time.sleep(DRAIN_POLL_S)
    return backlog
