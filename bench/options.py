"""The benchmark's options: what to measure, for how long, on which database, with how many processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import ROOT
from bench.stack import Topology

SCENARIOS = ("ingest", "batch", "processing", "draws", "memory", "scaleout")


@dataclass(frozen=True)
class Options:
    runs: int = 3
    duration_s: float = 6.0  # each closed-loop load measurement
    scenarios: tuple[str, ...] = SCENARIOS
    database_url: str | None = None  # None: a fresh SQLite file
    quick: bool = False
    processing_events: int = 40_000  # a drain of several seconds: 8,000 took well under one, read 0.2 s apart
    latency_s: float = 8.0
    drain_messages: int = 10_000
    memory_chunk: int = 50_000  # three chunks: checkpoints at 1x, 2x and 3x this many events
    memory_timeout_s: float = 240.0
    batch_size: int = 1000
    players: int = 200
    budget_s: float = 14 * 60.0
    topology: Topology = field(default_factory=Topology.from_procfile)
    output: Path = ROOT / "bench" / "results"


QUICK = {  # two to three minutes on two cores: short loads and scaled-down counts, still three runs
    "duration_s": 2.0,
    "processing_events": 2000,
    "latency_s": 2.5,
    "drain_messages": 3000,
    "memory_chunk": 5000,
    "memory_timeout_s": 30.0,
    "budget_s": 210.0,
}
