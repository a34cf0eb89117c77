"""Tournaments: scores counted once, an exact live leaderboard, one payout of the prize table."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import redis

from tests.support.api import Operator
from tests.support.load import post_many
from tests.support.processes import wait_until
from tests.support.stack import Stack

PRIZES = [{"rank_from": 1, "rank_to": 1, "prize_winz": 1000}, {"rank_from": 2, "rank_to": 3, "prize_winz": 300}]


def _tournament(
    operator: Operator, start: timedelta = timedelta(hours=-1), end: timedelta = timedelta(hours=1)
) -> dict[str, object]:
    now = datetime.now(UTC)
    body = {
        "name": "Spin Cup",
        "starts_at": (now + start).isoformat(),
        "ends_at": (now + end).isoformat(),
        "prizes": PRIZES,
    }
    created = operator.client.post("/v1/tournaments", json=body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _reference(stack: Stack, tournament_id: str) -> list[tuple[str, int]]:
    """The ranking computed straight from the recorded score rows: total desc, then who got there first (the
    latest acceptance among a player's scores)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def rows() -> list[tuple[str, int, int]]:
        engine = create_async_engine(stack.database_url)
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT username, points, reached FROM tournament_scores WHERE tournament_id = :t"),
                {"t": tournament_id},
            )
            result = [(row[0], row[1], row[2]) for row in found]
        await engine.dispose()
        return result

    totals: dict[str, list[int]] = {}
    for username, points, seq in asyncio.run(rows()):
        entry = totals.setdefault(username, [0, 0])
        entry[0] += points
        entry[1] = max(entry[1], seq)
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[1][1]))
    return [(username, total) for username, (total, _) in ranked]


def test_two_thousand_scores_give_the_reference_leaderboard_and_pay_once(stack: Stack, operator: Operator) -> None:
    players = [operator.player(f"t{i}") for i in range(40)]
    tournament = _tournament(operator)
    rng = random.Random(11)
    distinct = [(f"s{i}", rng.choice(players), rng.randint(1, 50)) for i in range(1800)]
    sends = distinct + [rng.choice(distinct) for _ in range(200)]

    requests = [
        (
            f"http://127.0.0.1:{stack.ports[i % 2]}/v1/tournaments/{tournament['id']}/score",
            {"user_id": user, "source_wager_id": wager, "points": points},
        )
        for i, (wager, user, points) in enumerate(sends)
    ]
    assert {response.status_code for response in post_many(requests, operator.key)} == {202}
    expected_total = sum(points for _, _, points in distinct)
    board = f"/v1/tournaments/{tournament['id']}/leaderboard"

    def board_total() -> int:
        return sum(row["points"] for row in operator.client.get(board, params={"limit": 500}).json()["data"])

    wait_until(lambda: board_total() == expected_total, timeout=60, what="every score")
    reference = _reference(stack, str(tournament["id"]))
    rows = operator.client.get(board, params={"limit": 500}).json()["data"]
    assert [(row["username"], row["points"]) for row in rows] == reference
    assert [row["rank"] for row in rows] == list(range(1, len(reference) + 1))

    redis.Redis.from_url(stack.redis_url).flushall()  # the live copy is lost: rebuilt from the database
    rebuilt = operator.client.get(board, params={"limit": 500}).json()["data"]
    assert rebuilt == rows
    around = operator.client.get(board, params={"limit": 5, "around": reference[10][0]}).json()["data"]
    assert [row["rank"] for row in around] == [9, 10, 11, 12, 13] and around[2]["username"] == reference[10][0]

    before = {name: operator.balance(name) for name, _ in reference[:4]}
    closed = operator.client.post(f"/v1/tournaments/{tournament['id']}/close")
    assert closed.status_code == 201, closed.text
    payouts = closed.json()["payouts"]
    assert payouts == [
        {"rank": 1, "username": reference[0][0], "prize_winz": 1000},
        {"rank": 2, "username": reference[1][0], "prize_winz": 300},
        {"rank": 3, "username": reference[2][0], "prize_winz": 300},
    ]
    assert closed.json()["total_paid"] == 1600
    again = operator.client.post(f"/v1/tournaments/{tournament['id']}/close")
    assert again.status_code == 201 and again.json()["payouts"] == payouts
    after = {name: operator.balance(name) for name, _ in reference[:4]}
    assert [after[name] - before[name] for name, _ in reference[:4]] == [1000, 300, 300, 0]
    late = operator.client.post(
        f"/v1/tournaments/{tournament['id']}/score",
        json={"user_id": players[0], "source_wager_id": "late", "points": 1},
    )
    assert late.status_code == 409


def test_scores_outside_the_window_are_409(operator: Operator) -> None:
    username = operator.player()
    future = _tournament(operator, start=timedelta(hours=1), end=timedelta(hours=2))
    refused = operator.client.post(
        f"/v1/tournaments/{future['id']}/score", json={"user_id": username, "source_wager_id": "w", "points": 5}
    )
    assert refused.status_code == 409


def test_scheduler_closes_at_ends_at(operator: Operator) -> None:
    username = operator.player()
    tournament = _tournament(operator, end=timedelta(seconds=2))
    operator.client.post(
        f"/v1/tournaments/{tournament['id']}/score", json={"user_id": username, "source_wager_id": "w", "points": 5}
    )
    wait_until(
        lambda: operator.client.get(f"/v1/tournaments/{tournament['id']}").json()["status"] == "closed", what="close"
    )
    assert operator.balance(username) == 1000


def test_a_window_still_ahead_moves_and_one_passed_does_not(operator: Operator) -> None:
    username = operator.player()
    tournament = _tournament(operator, start=timedelta(hours=1), end=timedelta(hours=2))
    path = f"/v1/tournaments/{tournament['id']}"

    def soon(seconds: float) -> str:
        return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()

    assert operator.client.patch(path, json={"ends_at": soon(-1)}).json()["errors"][0]["field"] == "ends_at"
    backwards = operator.client.patch(path, json={"starts_at": soon(2), "ends_at": soon(1)})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "ends_at"
    assert operator.client.patch(path, json={"prizes": PRIZES}).status_code == 400
    moved = operator.client.patch(path, json={"starts_at": soon(1)})
    assert moved.status_code == 200 and moved.json()["ends_at"] == tournament["ends_at"]
    score = {"user_id": username, "source_wager_id": "w", "points": 5}
    wait_until(lambda: operator.client.post(f"{path}/score", json=score).status_code == 202, what="the moved start")
    assert operator.client.patch(path, json={"starts_at": soon(60)}).status_code == 409  # it has begun
    assert operator.client.patch(path, json={"ends_at": soon(2)}).status_code == 200
    wait_until(lambda: operator.client.get(path).json()["status"] == "closed", what="the close at the moved end")
    assert operator.balance(username) == 1000
    closed = operator.client.patch(path, json={"ends_at": soon(3600)})
    assert closed.status_code == 409 and closed.json()["errors"][0]["field"] == "ends_at"


def test_bad_tournament_config_is_refused(operator: Operator) -> None:
    now = datetime.now(UTC)
    backwards = {
        "name": "x",
        "starts_at": now.isoformat(),
        "ends_at": (now - timedelta(hours=1)).isoformat(),
        "prizes": PRIZES,
    }
    assert operator.client.post("/v1/tournaments", json=backwards).json()["errors"][0]["field"] == "ends_at"
    overlap = {
        **backwards,
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "prizes": [*PRIZES, {"rank_from": 3, "rank_to": 4, "prize_winz": 1}],
    }
    refused = operator.client.post("/v1/tournaments", json=overlap)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].startswith("prizes[")
