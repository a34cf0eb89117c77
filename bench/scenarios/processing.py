"""Processing: how fast workers apply events durably, and how long an event takes to show its effect.

The traffic alternates scores (one point each, on a fresh tournament) and contributions (one unit
each, on a fresh jackpot), so even-numbered players only score and odd ones only contribute. The
leaderboard, which a worker updates after its commit, traces progress while the queue drains: every
other event is a score. When the queue is empty, the effects are read in full through the API
(points plus the pool's growth, in exact decimals) to check that every accepted event was applied.
The rate is taken between 10 % and 90 % of the trace, leaving out the start and the tail.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx

from bench import load, workload
from bench.scenarios import Target
from bench.stats import percentiles
from bench.workload import Workload

SEED = Decimal("100")
SAMPLE_S = 0.2
PROBE_POLL_S = 0.02
PROBE_TIMEOUT_S = 10.0
PROBES_PER_S = 20.0
LEAD_S = 1.0  # background traffic runs this long before the first probe: steady state, workers awake


def _fresh_mix(target: Target, label: str) -> tuple[str, str, Workload]:
    """A fresh tournament and jackpot, and traffic alternating scores and contributions on them."""
    tournament = target.operator.create_tournament(f"bench {label}")
    jackpot = target.operator.create_jackpot(f"bench {label}", seed_amount=str(SEED))
    mix = Workload(label, (workload.score(tournament), workload.contribute(jackpot)), target.players)
    return tournament, jackpot, mix


def _pool_growth(target: Target, jackpot: str, timeout_s: float = 15) -> tuple[int | None, int]:
    """Contributions applied, read from the pool (retried: the read can fail under write load); failures."""
    failures = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return int(target.operator.jackpot_pool(jackpot) - SEED), failures
        except httpx.HTTPError:
            failures += 1
            time.sleep(0.1)
    return None, failures


def _crossing(samples: list[tuple[float, int]], level: float) -> float:
    """When the applied count first reached *level*, interpolated between samples."""
    previous = samples[0]
    for sample in samples:
        if sample[1] >= level:
            if sample[1] == previous[1]:
                return sample[0]
            return previous[0] + (sample[0] - previous[0]) * (level - previous[1]) / (sample[1] - previous[1])
        previous = sample
    return samples[-1][0]


def drain(target: Target, events: int, timeout_s: float) -> dict[str, Any]:
    """Queue *events* through the API with the events workers paused, then time the workers applying them.

    Like floor B, the queue is full before the workers run, so the rate is the workers' alone, not the
    rate at which single requests can be sent (the ingest scenarios measure that).
    """
    tournament, jackpot, mix = _fresh_mix(target, "processing")
    operator, stack = target.operator, target.stack
    with stack.paused("events"):
        sent = load.send(mix, stack.url, operator.key, connections=32, duration_s=timeout_s, count=events)
        queued = stack.backlog()
    started = time.monotonic()
    trace: list[tuple[float, int]] = [(0.0, 0)]
    while time.monotonic() - started < timeout_s:
        time.sleep(SAMPLE_S)
        scores = operator.leaderboard_points(tournament)
        trace.append((time.monotonic() - started, scores * len(mix.items)))
        if stack.backlog() == 0:
            break
    drained = time.monotonic() - started
    stack.purge()
    contributions, failed_reads = _pool_growth(target, jackpot)
    applied = operator.leaderboard_points(tournament) + (contributions or 0)
    final = trace[-1][1]
    low, high = _crossing(trace, 0.1 * final), _crossing(trace, 0.9 * final)
    return {
        "events_sent": events,
        "events_accepted": sent.events,
        "events_applied": applied,
        "complete": applied >= sent.events,
        "send_seconds": round(sent.duration_s, 2),
        "queued_before_start": queued,
        "drain_seconds": round(drained, 2),
        "failed_pool_reads": failed_reads,
        "rate": 0.8 * final / (high - low) if high > low else 0.0,
    }


async def _probe(client: httpx.AsyncClient, tournament: str, player: str, number: int) -> float | None:
    """Seconds from posting one score for *player* until the leaderboard shows them; None if never."""
    sent = time.monotonic()
    body = {"user_id": player, "source_wager_id": f"probe-{number}", "points": 1}
    response = await client.post(f"/v1/tournaments/{tournament}/score", json=body)
    if response.status_code != 202:
        return None
    path = f"/v1/tournaments/{tournament}/leaderboard"
    while time.monotonic() - sent < PROBE_TIMEOUT_S:
        shown = await client.get(path, params={"around": player, "limit": 1})
        if shown.status_code == 200 and any(row["username"] == player for row in shown.json()["data"]):
            return time.monotonic() - sent
        await asyncio.sleep(PROBE_POLL_S)
    return None


async def _probes(target: Target, tournament: str, probe_players: list[str], seconds: float) -> list[float | None]:
    headers = {"Authorization": f"Bearer {target.operator.key}"}
    async with httpx.AsyncClient(base_url=target.stack.url, headers=headers, timeout=PROBE_TIMEOUT_S) as client:
        tasks = []
        for number, player in enumerate(probe_players[: int(seconds * PROBES_PER_S)]):
            tasks.append(asyncio.create_task(_probe(client, tournament, player, number)))
            await asyncio.sleep(1 / PROBES_PER_S)
        return list(await asyncio.gather(*tasks))


def latency(target: Target, rate: float, seconds: float, probe_players: list[str]) -> dict[str, Any]:
    """Event-to-effect latency of probe scores while the stack takes *rate* events/s in all."""
    tournament, _, mix = _fresh_mix(target, "latency")
    background = max(1.0, rate - PROBES_PER_S)
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(
            load.send,
            mix,
            target.stack.url,
            target.operator.key,
            connections=16,
            duration_s=seconds + LEAD_S,
            rate=background,
        )
        time.sleep(LEAD_S)
        found = asyncio.run(_probes(target, tournament, probe_players, seconds))
        sent = sending.result()
    backlog = target.stack.backlog()  # more than a handful: the workers were not keeping up with that rate
    target.stack.purge()
    missed = sum(1 for value in found if value is None)
    latencies = sorted(PROBE_TIMEOUT_S if value is None else value for value in found)
    spread = percentiles([value * 1000 for value in latencies])
    return {
        "offered_rate": round(rate, 1),
        "background_rate": round(sent.rate, 1),
        "backlog_at_end": backlog,
        "probes": len(found),
        "missed": missed,
        "p50_ms": spread.get("p50"),
        "p99_ms": spread.get("p99"),
        "max_ms": spread.get("max"),
    }
