"""Two schedulers at once never draw, close or pay twice."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api import Operator
from tests.support.processes import Process, wait_until
from tests.support.stack import Stack


@pytest.fixture
def second_scheduler(stack: Stack) -> Iterator[Process]:
    extra = Process("scheduler-2", [sys.executable, "-m", "actors.scheduler"], stack.env, stack.logs)
    try:
        yield extra
    finally:
        extra.stop()


def test_two_schedulers_pay_each_raffle_and_tournament_once(
    stack: Stack, operator: Operator, second_scheduler: Process
) -> None:
    players = [operator.player() for _ in range(3)]
    ends = datetime.now(UTC) + timedelta(seconds=2)
    tournament = operator.client.post(
        "/v1/tournaments",
        json={
            "name": "t",
            "starts_at": (ends - timedelta(hours=1)).isoformat(),
            "ends_at": ends.isoformat(),
            "prizes": [{"rank_from": 1, "rank_to": 1, "prize_winz": 1000}],
        },
    ).json()
    scored = operator.client.post(
        f"/v1/tournaments/{tournament['id']}/score", json={"user_id": players[0], "source_wager_id": "w", "points": 1}
    )
    assert scored.status_code == 202, scored.text
    raffles = []
    for _ in range(5):  # each raffle falls due 2 s after it was made, so however long this loop takes
        draw_at = datetime.now(UTC) + timedelta(seconds=2)
        raffle = operator.client.post(
            "/v1/raffles", json={"name": "r", "ticket_cost_winz": 0, "prize_winz": 100, "draw_at": draw_at.isoformat()}
        ).json()
        for player in players:
            operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": player, "tickets": 1})
        raffles.append(raffle)

    def all_done() -> bool:
        statuses = [operator.client.get(f"/v1/raffles/{raffle['id']}").json()["status"] for raffle in raffles]
        closed = operator.client.get(f"/v1/tournaments/{tournament['id']}").json()["status"] == "closed"
        return closed and set(statuses) == {"completed"}

    wait_until(all_done, timeout=30, what="every scheduled draw and close")
    time.sleep(1.5)  # more passes of both schedulers: nothing more may be paid
    assert sum(operator.balance(player) for player in players) == 5 * 100 + 1000
    assert second_scheduler.alive()
