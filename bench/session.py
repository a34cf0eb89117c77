"""One benchmark session: Redis, floor A and a stack up; the runs; the other phases; everything down.

Floor A, the stacks and the floors' workers share one private Redis and this machine; each run
measures every chosen scenario and its floor back to back, so a noisy neighbour hits both sides of
a ratio alike. Batch ingestion comes after the runs; scale-out and memory get stacks of their own,
on the same database, so that the work one phase leaves behind does not weigh on another. Scale-out
runs are pairs too: one drain with one of two events processes set aside and one with both.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import machine
from bench.database import Database, redact
from bench.floors.drain import drain as floor_b
from bench.floors.roundtrip import roundtrip as floor_c
from bench.floors.serve import FloorServer
from bench.load import generator_name, hammer
from bench.options import Options
from bench.provision import Operator, provision
from bench.redis_server import RedisServer
from bench.scenarios import WARM_UP_PLAYER, Engines, Target, ingest, processing, provision_target
from bench.scenarios.draws import CLIENTS, draws
from bench.scenarios.memory import memory
from bench.stack import SETTLE_S, Stack, Topology
from bench.workload import Workload, score

WARM_UP_S = 1.0
BATCH_MIN_S = 4.0  # a batch of 1,000 can take a second or more: shorter loads would count almost none
DRAIN_TIMEOUT_S = 120.0
STACK_START_S = 25.0  # starting, warming up and stopping one stack, roughly


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


class Session:
    """Everything one ``python -m bench`` starts, and what it measured."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.started = time.monotonic()
        self.home = Path(tempfile.mkdtemp(prefix="wowsino-bench-"))
        self.runs: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}
        self.batch_unavailable = ""
        self.engines: Engines | None = None

    def left(self) -> float:
        return self.options.budget_s - (time.monotonic() - self.started)

    def wants(self, scenario: str) -> bool:
        return scenario in self.options.scenarios

    @property
    def scales_out(self) -> bool:
        return self.wants("scaleout") and self.database.kind == "postgresql"

    def run(self) -> dict[str, Any]:
        """Measure, always stopping what was started and dropping the database; logs kept on failure."""
        try:
            with contextlib.ExitStack() as cleanup:
                self.redis = RedisServer(self.home)
                cleanup.callback(self.redis.stop)
                self.database = Database(self.options.database_url, self.home, "bench")
                cleanup.callback(self.database.drop)
                found = self._run()
        except BaseException:
            say(f"failed; the processes' logs are in {self.home}")
            raise
        shutil.rmtree(self.home, ignore_errors=True)
        return found

    def _start(self, topology: Topology, label: str, operator: Operator | None = None) -> Target:
        stack = Stack(self.database.url, self.redis.url, topology, self.home / label, label)
        say(f"stack '{label}' up ({self.database.kind}, {topology})")
        try:
            if operator is None or self.engines is None:
                operator = provision(stack.url, stack.admin_token)
                target = provision_target(stack, operator, self.options.players, self.home)
                self.engines = target.engines
            else:
                players = tuple(f"p{index:04d}" for index in range(self.options.players))
                target = Target(stack, operator.at(stack.url), players, self.engines, self.home)
            _warm_up(target)
        except BaseException:
            stack.stop()
            raise
        return target

    def _run(self) -> dict[str, Any]:
        options = self.options
        description = machine.describe()
        floor_a = None
        try:
            if self.wants("ingest") or self.wants("batch"):
                floor_a = FloorServer(options.topology.web_concurrency, self.home)
            operator = self._main(floor_a)
        finally:
            if floor_a is not None:
                floor_a.stop()
        if self.scales_out:
            self._scale_out(operator)
        if self.wants("memory"):
            self._memory(operator)
        description["load_average_at_end"] = machine.load_average()
        return {
            "machine": description,
            "database": {
                "kind": self.database.kind,
                "server": redact(options.database_url) if options.database_url else None,
            },
            "topology": vars(options.topology),
            "load_generator": generator_name(),
            "runs": self.runs,
            "notes": self.notes,
            "batch_unavailable": self.batch_unavailable,
            **self.extra,
            "seconds": round(time.monotonic() - self.started, 1),
        }

    def _main(self, floor_a: FloorServer | None) -> Operator:
        """The runs of single-event ingestion, processing and draws, each beside its floor, on one stack."""
        target = self._start(self.options.topology, "main")
        try:
            probes = [f"q{index:04d}" for index in range(int(self.options.latency_s * processing.PROBES_PER_S) + 1)]
            if self.wants("processing"):
                target.operator.create_players(probes)
            if floor_a is not None:
                warm_up = Workload("warm-up", (score(target.engines.tournament),), target.players)
                hammer(warm_up, floor_a.url, target.operator.key, connections=8, duration_s=WARM_UP_S)
            self._runs(target, floor_a, probes)
            if self.wants("batch") and floor_a is not None:
                self._batch(target, floor_a)
        finally:
            target.stack.stop()
        if target.stack.unsettled:
            busy = f"{target.stack.unsettled} time(s) the workers were still busy {SETTLE_S:.0f} s after a purge"
            self.notes.append(busy)
        return target.operator

    def _batch(self, target: Target, floor_a: FloorServer) -> None:
        """Batch ingestion, one measurement per run, after all the runs: the batches it accepts keep the
        workers busy for minutes, which would weigh on every scenario measured after it on this stack."""
        available, self.batch_unavailable = ingest.batch_available(target)
        if not available:
            say(self.batch_unavailable)
            return
        size, seconds = self.options.batch_size, max(BATCH_MIN_S, self.options.duration_s)
        for number, figures in enumerate(self.runs, start=1):
            if number > 1 and self.left() < self._memory_reserve() + self._scale_out_reserve() + 2 * (seconds + 1):
                self.notes.append(f"batch ingestion measured in only {number - 1} run(s) within the time budget")
                break
            say(f"batch {number}/{len(self.runs)}")
            self._record(figures, "ingest.batch", ingest.figures(ingest.batch(target, size, seconds)))
            self._record(figures, "floor_a.batch", ingest.figures(ingest.batch(target, size, seconds, floor_a.url)))

    def _memory_reserve(self) -> float:
        return self.options.memory_timeout_s + STACK_START_S if self.wants("memory") else 0.0

    def _drain_estimate(self) -> float:
        """Seconds one processing drain took at most so far (a guess before the first)."""
        drains = [run["processing"]["drain_seconds"] for run in self.runs if "processing" in run]
        return max(drains, default=60.0)

    def _scale_out_reserve(self, runs: int | None = None) -> float:
        runs = len(self.runs) if runs is None else runs
        return STACK_START_S + 2 * runs * self._drain_estimate() if self.scales_out else 0.0

    def _reserve(self, runs: int) -> float:
        """Seconds to keep for what follows *runs* runs: their batches, scale-out's drains, memory."""
        batch = runs * 2 * (max(BATCH_MIN_S, self.options.duration_s) + 1) if self.wants("batch") else 0.0
        return batch + self._scale_out_reserve(runs) + self._memory_reserve()

    def _runs(self, target: Target, floor_a: FloorServer | None, probes: list[str]) -> None:
        last = 0.0
        for number in range(1, self.options.runs + 1):
            if number > 1 and self.left() - self._reserve(number) < last:
                self.notes.append(f"only {number - 1} of {self.options.runs} runs fitted in the time budget")
                say(self.notes[-1])
                break
            began = time.monotonic()
            say(f"run {number}/{self.options.runs}")
            self.runs.append(self._one_run(target, floor_a, probes))
            last = time.monotonic() - began

    def _one_run(self, target: Target, floor_a: FloorServer | None, probes: list[str]) -> dict[str, Any]:
        options, topology, seconds = self.options, self.options.topology, self.options.duration_s
        figures: dict[str, Any] = {}

        def record(name: str, found: dict[str, Any]) -> None:
            self._record(figures, name, found)

        if self.wants("ingest") and floor_a is not None:
            for endpoint in ingest.ENDPOINTS:
                record(f"ingest.{endpoint}", ingest.figures(ingest.single(target, endpoint, seconds)))
                record(f"floor_a.{endpoint}", ingest.figures(ingest.single(target, endpoint, seconds, floor_a.url)))
        if self.wants("processing"):
            drained = floor_b(
                self.redis.url,
                processes=topology.event_processes,
                threads=topology.event_threads,
                messages=options.drain_messages,
                timeout_s=DRAIN_TIMEOUT_S,
                logs=self.home,
            )
            record("floor_b", drained.to_json())
            record("processing", processing.drain(target, options.processing_events, DRAIN_TIMEOUT_S))
            half = figures["processing"]["rate"] / 2
            record("latency", processing.latency(target, half, options.latency_s, probes))
        if self.wants("draws"):
            found = floor_c(
                self.redis.url,
                processes=topology.draw_processes,
                threads=topology.draw_threads,
                concurrency=CLIENTS,
                seconds=seconds,
                logs=self.home,
            )
            record("floor_c", {**found, **{f"{key}_ms": found["latency_ms"].get(key) for key in ("p50", "p99")}})
            record("draws", draws(target, seconds))
        return figures

    @staticmethod
    def _record(figures: dict[str, Any], name: str, found: dict[str, Any]) -> None:
        figures[name] = found
        shown = [f"{key} {found[key]:,.1f}" for key in ("rate", "p50_ms", "p99_ms") if found.get(key) is not None]
        say(f"  {name}: {', '.join(shown)}")

    def _scale_out(self, operator: Operator) -> None:
        """Processing rate with one and with two events-worker processes, on a stack of its own with two: each
        run drains the queue with one of them set aside and with both, back to back, the order alternating from
        run to run, so that the machine's drift and the database's growth weigh on both alike."""
        found: dict[str, list[float]] = {"1": [], "2": []}
        topology = Topology(**{**vars(self.options.topology), "event_processes": 2})
        target = self._start(topology, "scaleout", operator)
        try:
            for number in range(max(1, len(self.runs))):
                if number and self.left() < self._memory_reserve() + 2 * self._drain_estimate():
                    self.notes.append(f"scale-out measured in only {number} run(s) within the time budget")
                    break
                for processes in (1, 2) if number % 2 == 0 else (2, 1):
                    with target.stack.set_aside("events", 2 - processes):
                        rate = processing.drain(target, self.options.processing_events, DRAIN_TIMEOUT_S)["rate"]
                    found[str(processes)].append(rate)
                    say(f"  scale-out, {processes} event process(es): {rate:,.1f} events/s")
        finally:
            target.stack.stop()
        self.extra["scaleout"] = found

    def _memory(self, operator: Operator) -> None:
        target = self._start(self.options.topology, "memory", operator)
        try:
            timeout = max(10.0, min(self.options.memory_timeout_s, self.left() - 10))
            chunk = self.options.memory_chunk
            say(f"memory: 3 x {chunk:,} events (at most {timeout:.0f} s)")
            result = memory(target, chunk, 3, timeout)
            for checkpoint in result["checkpoints"]:
                say(f"  {checkpoint}")
            self.extra["memory"] = result
        finally:
            target.stack.stop()


def _warm_up(target: Target, timeout_s: float = 60) -> None:
    """One event applied, one lootbox opened, a second of load: every process has connected and warmed up."""
    operator = target.operator
    tournament = operator.create_tournament("bench warm-up")
    body = {"user_id": WARM_UP_PLAYER, "source_wager_id": "warm-up", "points": 1}
    operator.http.post(f"/v1/tournaments/{tournament}/score", json=body).raise_for_status()
    opened = operator.http.post(f"/v1/lootbox/{target.engines.lootbox}/open", json={"user_id": WARM_UP_PLAYER})
    deadline = time.monotonic() + timeout_s
    if opened.status_code == 202:  # the draw outlasted the API's wait: read the operation until it is done
        url = opened.json()["url"]
        while opened.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.2)
            opened = operator.http.get(url)
    if opened.status_code not in (200, 201):
        raise RuntimeError(f"warm-up lootbox open answered {opened.status_code}: {opened.text[:200]}")
    while operator.leaderboard_points(tournament) < 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"warm-up: the events worker applied nothing within {timeout_s:.0f} s")
        time.sleep(0.1)
    warm_up = Workload("warm-up", (score(tournament),), target.players)
    hammer(warm_up, target.stack.url, operator.key, connections=8, duration_s=WARM_UP_S)
    target.stack.purge()
