"""``POST /v1/events/batch``: each event validated and deduplicated on its own, exactly as if posted alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.support.api import Operator
from tests.support.processes import wait_until


def _engines(operator: Operator) -> tuple[str, str, str]:
    now = datetime.now(UTC)
    tournament = operator.client.post(
        "/v1/tournaments",
        json={
            "name": "Cup",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "prizes": [{"rank_from": 1, "rank_to": 1, "prize_winz": 10}],
        },
    ).json()
    jackpot = operator.client.post("/v1/jackpots", json={"name": "J", "currency": "EUR", "seed_amount": "10"}).json()
    journey = operator.client.post(
        "/v1/journeys", json={"name": "Onboard", "steps": [{"trigger": "login", "count": 2}], "reward_winz": 50}
    ).json()
    return tournament["id"], jackpot["id"], journey["id"]


def test_mixed_batch_answers_per_event_and_applies_each_once(operator: Operator) -> None:
    alice = operator.player()
    tournament, jackpot, journey = _engines(operator)
    events = [
        {
            "type": "tournament.score",
            "tournament_id": tournament,
            "user_id": alice,
            "source_wager_id": "w1",
            "points": 7,
        },
        {
            "type": "jackpot.contribute",
            "jackpot_id": jackpot,
            "user_id": alice,
            "source_wager_id": "w1",
            "amount": "0.5",
        },
        {"type": "journey.event", "user_id": alice, "trigger": "login", "source_event_id": "l1"},
        {"type": "journey.event", "user_id": alice, "trigger": "login", "source_event_id": "l2"},
        {
            "type": "tournament.score",
            "tournament_id": tournament,
            "user_id": alice,
            "source_wager_id": "w1",
            "points": 7,
        },
        {"type": "bonus.granted", "user_id": alice},
        {
            "type": "jackpot.contribute",
            "jackpot_id": jackpot,
            "user_id": alice,
            "source_wager_id": "w2",
            "amount": "-1",
        },
        {"type": "tournament.score", "tournament_id": "nope", "user_id": alice, "source_wager_id": "w3", "points": 1},
        {
            "type": "tournament.score",
            "tournament_id": tournament,
            "user_id": "ghost",
            "source_wager_id": "w4",
            "points": 1,
        },
        {
            "type": "tournament.score",
            "tournament_id": tournament,
            "user_id": alice,
            "source_wager_id": "w5",
            "points": 1.5,
        },
    ]
    response = operator.client.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [result["index"] for result in results] == list(range(len(events)))
    assert [result["status"] for result in results] == ["accepted"] * 4 + ["duplicate"] + ["rejected"] * 5
    assert [result["error"]["field"] for result in results[5:]] == ["type", "amount", None, "user_id", "points"]
    assert [result["error"]["status"] for result in results[5:]] == [422, 422, 404, 404, 422]

    wait_until(lambda: operator.balance(alice) == 50, what="the journey reward")
    board = operator.client.get(f"/v1/tournaments/{tournament}/leaderboard").json()["data"]
    assert board == [{"rank": 1, "username": alice, "points": 7}]
    assert Decimal(operator.client.get(f"/v1/jackpots/{jackpot}").json()["pool"]) == Decimal("10.5")

    replay = operator.client.post("/v1/events/batch", json={"events": events[:2]}).json()["results"]
    assert [result["status"] for result in replay] == ["duplicate", "duplicate"]
    assert operator.client.get(f"/v1/journeys/{journey}/progress/{alice}").json()["completed"] is True


def test_a_thousand_events_in_one_batch_are_exact(operator: Operator) -> None:
    players = [operator.player(f"b{i}") for i in range(20)]
    tournament, jackpot, _ = _engines(operator)
    events = []
    for i in range(500):
        user = players[i % 20]
        events.append(
            {
                "type": "tournament.score",
                "tournament_id": tournament,
                "user_id": user,
                "source_wager_id": f"s{i}",
                "points": i % 7 + 1,
            }
        )
        events.append(
            {
                "type": "jackpot.contribute",
                "jackpot_id": jackpot,
                "user_id": user,
                "source_wager_id": f"c{i}",
                "amount": "0.01",
            }
        )
    results = operator.client.post("/v1/events/batch", json={"events": events}).json()["results"]
    assert {result["status"] for result in results} == {"accepted"}
    wait_until(
        lambda: Decimal(operator.client.get(f"/v1/jackpots/{jackpot}").json()["pool"]) == Decimal("15"), what="pool"
    )
    board = operator.client.get(f"/v1/tournaments/{tournament}/leaderboard", params={"limit": 50}).json()["data"]
    assert sum(row["points"] for row in board) == sum(i % 7 + 1 for i in range(500))
    too_many = operator.client.post("/v1/events/batch", json={"events": events + events[:1]})
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "events"
