"""The Redis copy of a leaderboard: the highest total wins per player, whatever order the writes arrive in."""

from __future__ import annotations

import asyncio
from typing import Any

from models import leaderboard
from models.redis_client import connect


def test_a_total_raised_without_a_newer_seq_still_shows_and_late_writes_never_move_back(redis_url: str) -> None:
    async def scenario() -> list[dict[str, Any]] | None:
        client = connect(redis_url)
        # Two transactions scored alice at once: the one that committed second raised her total to 70
        # but kept the first one's seq (the higher score row id), and its write arrives last.
        await leaderboard.record(client, "t1", [("alice", 60, 101), ("bob", 70, 120)])
        await leaderboard.record(client, "t1", [("alice", 70, 101)])
        await leaderboard.record(client, "t1", [("alice", 50, 100), ("bob", 40, 90)])  # late writes
        rows = await leaderboard.page(client, "t1", limit=10, around=None)
        await client.aclose()
        return rows

    assert asyncio.run(scenario()) == [
        {"rank": 1, "username": "alice", "points": 70},  # reached 70 first (seq 101 < 120)
        {"rank": 2, "username": "bob", "points": 70},
    ]
