"""Pipeline workers SIGKILLed mid-stream: every accepted event has exactly one effect once new workers run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.support.api import Operator
from tests.support.load import post_many_async
from tests.support.processes import wait_until
from tests.support.stack import Stack


def test_events_survive_killed_workers(victim: Stack, tenant: Operator) -> None:
    players = [tenant.player(f"k{i}") for i in range(20)]
    now = datetime.now(UTC)
    tournament = tenant.client.post(
        "/v1/tournaments",
        json={
            "name": "t",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "prizes": [{"rank_from": 1, "rank_to": 1, "prize_winz": 1}],
        },
    ).json()["id"]
    jackpot = tenant.client.post("/v1/jackpots", json={"name": "j", "currency": "USD", "seed_amount": "0"}).json()["id"]
    base = f"http://127.0.0.1:{victim.ports[0]}"
    singles = [
        (
            f"{base}/v1/jackpots/{jackpot}/contribute",
            {"user_id": players[i % 20], "source_wager_id": f"c{i}", "amount": "0.01"},
        )
        for i in range(500)
    ] + [
        (
            f"{base}/v1/tournaments/{tournament}/score",
            {"user_id": players[i % 20], "source_wager_id": f"s{i}", "points": 2},
        )
        for i in range(500)
    ]

    async def attack() -> list[int]:
        stream = asyncio.ensure_future(post_many_async(singles, tenant.key, concurrency=32))
        await asyncio.sleep(0.5)
        victim.events.kill()
        await asyncio.sleep(0.5)
        victim.events.start()
        return [response.status_code for response in await stream]

    assert set(asyncio.run(attack())) == {202}
    pool = f"/v1/jackpots/{jackpot}"
    wait_until(
        lambda: Decimal(tenant.client.get(pool).json()["pool"]) == Decimal("5"), timeout=60, what="contributions"
    )
    board = f"/v1/tournaments/{tournament}/leaderboard"
    wait_until(
        lambda: sum(row["points"] for row in tenant.client.get(board, params={"limit": 50}).json()["data"]) == 1000,
        timeout=60,
        what="scores",
    )
    assert len(tenant.client.get(f"/v1/tournaments/{tournament}/scores", params={"limit": 500}).json()["data"]) == 500
