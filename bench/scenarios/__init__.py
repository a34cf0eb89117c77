"""The scenarios run against the stack; each takes a :class:`Target` and returns plain figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.provision import Operator
from bench.stack import Stack


@dataclass(frozen=True)
class Engines:
    """The engines the ingestion and draw scenarios post to (processing makes fresh ones per run)."""

    tournament: str
    jackpot: str
    journey: str
    lootbox: str


@dataclass(frozen=True)
class Target:
    """A running, provisioned stack: where to send, with which key, players and engines."""

    stack: Stack
    operator: Operator
    players: tuple[str, ...]
    engines: Engines
    logs: Path


WARM_UP_PLAYER = "warm-up"  # a player no scenario uses, so no lock a stopped stack left behind delays it


def provision_target(stack: Stack, operator: Operator, players: int, logs: Path) -> Target:
    """Players ``p0000…`` (and the warm-up's) and one engine of each kind the scenarios use."""
    names = tuple(f"p{index:04d}" for index in range(players))
    operator.create_players([*names, WARM_UP_PLAYER])
    engines = Engines(
        tournament=operator.create_tournament("bench ingest"),
        jackpot=operator.create_jackpot("bench ingest"),
        journey=operator.create_journey("bench ingest"),
        lootbox=operator.create_lootbox("bench draws"),
    )
    return Target(stack=stack, operator=operator, players=names, engines=engines, logs=logs)
