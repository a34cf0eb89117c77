"""Redis stopped, restarted and flushed: 503 problems while it is gone, recovery by itself after."""

from __future__ import annotations

import signal

import httpx
import redis

from tests.support.api import Operator
from tests.support.processes import wait_until
from tests.support.stack import Stack


def test_api_answers_503_while_redis_is_gone_and_recovers(victim: Stack, tenant: Operator) -> None:
    username = tenant.player()
    box = tenant.lootbox()
    before = tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "pre"})
    assert before.status_code == 201
    victim.redis_server.send(signal.SIGSTOP)  # unreachable: connections hang, then time out
    victim.redis_server.stop()
    try:
        down = tenant.client.get("/v1/me")
        assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
        ready = httpx.get(f"{victim.url}/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("unavailable")
        opened = tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        assert opened.status_code == 503
    finally:
        victim.redis_server.start()
    wait_until(lambda: tenant.client.get("/v1/me").status_code == 200, timeout=30, what="API recovery")
    wait_until(lambda: httpx.get(f"{victim.url}/ready").status_code == 200, timeout=30, what="readiness")
    # Redis came back empty: the replay still finds the first open in the database
    replay = tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "pre"})
    assert replay.status_code == 201 and replay.json()["open_id"] == before.json()["open_id"]
    # and workers consume again
    after = tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    assert after.status_code == 201
    assert tenant.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 2


def test_flush_rebuilds_leaderboards_and_keeps_deduplication(victim: Stack, tenant: Operator) -> None:
    """After a flush a replayed wager is accepted again (its claim is gone) and counted once: the database's
    unique business ids hold. The replay and a new wager go in one batch, one transaction: once the new one
    shows, the replay has been applied too."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    username = tenant.player()
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
    score = {"type": "tournament.score", "tournament_id": tournament, "user_id": username, "points": 5}
    contribution = {"type": "jackpot.contribute", "jackpot_id": jackpot, "user_id": username, "amount": "2.5"}
    first = [{**score, "source_wager_id": "w1"}, {**contribution, "source_wager_id": "w1"}]
    assert tenant.client.post("/v1/events/batch", json={"events": first}).status_code == 202
    board, pool = f"/v1/tournaments/{tournament}/leaderboard", f"/v1/jackpots/{jackpot}"
    wait_until(lambda: tenant.client.get(board).json()["data"] != [], what="the score")
    wait_until(lambda: Decimal(tenant.client.get(pool).json()["pool"]) == Decimal("2.5"), what="the contribution")
    redis.Redis.from_url(victim.redis_url).flushall()
    again = [*first, {**score, "source_wager_id": "w2"}, {**contribution, "source_wager_id": "w2"}]
    replayed = tenant.client.post("/v1/events/batch", json={"events": again}).json()["results"]
    assert [result["status"] for result in replayed] == ["accepted"] * 4  # the claims were forgotten

    def wagers(path: str) -> list[str]:
        return sorted(row["source_wager_id"] for row in tenant.client.get(path).json()["data"])

    wait_until(lambda: "w2" in wagers(f"/v1/tournaments/{tournament}/scores"), what="the second batch")
    assert wagers(f"/v1/tournaments/{tournament}/scores") == wagers(f"{pool}/contributions") == ["w1", "w2"]
    assert tenant.client.get(board).json()["data"] == [{"rank": 1, "username": username, "points": 10}]
    assert Decimal(tenant.client.get(pool).json()["pool"]) == 5


def test_queued_events_survive_a_redis_crash(victim: Stack, tenant: Operator) -> None:
    """Accepted events wait in Redis; with its append-only file they outlive a SIGKILL of Redis."""
    from decimal import Decimal

    username = tenant.player()
    jackpot = tenant.client.post("/v1/jackpots", json={"name": "j", "currency": "USD", "seed_amount": "0"}).json()["id"]
    victim.events.send(signal.SIGSTOP)  # nothing is applied: every accepted event is only queued
    try:
        for i in range(40):
            body = {"user_id": username, "source_wager_id": f"q{i}", "amount": "2.5"}
            assert tenant.client.post(f"/v1/jackpots/{jackpot}/contribute", json=body).status_code == 202
        victim.redis_server.kill()
        victim.redis_server.start()
        wait_until(lambda: redis.Redis.from_url(victim.redis_url).ping(), what="Redis back")
    finally:
        victim.events.send(signal.SIGCONT)
    pool = f"/v1/jackpots/{jackpot}"
    wait_until(lambda: Decimal(tenant.client.get(pool).json()["pool"]) == 100, timeout=60, what="every queued event")


def test_accepted_work_survives_a_flush(victim: Stack, tenant: Operator) -> None:
    """Everything answered 202 while the workers were frozen outlives a FLUSHALL: the inbox queues it again."""
    import threading
    from decimal import Decimal

    username = tenant.player()
    box = tenant.lootbox()
    jackpot = tenant.client.post("/v1/jackpots", json={"name": "j", "currency": "USD", "seed_amount": "0"}).json()["id"]
    broker = redis.Redis.from_url(victim.redis_url)
    victim.events.send(signal.SIGSTOP)
    victim.draws.send(signal.SIGSTOP)
    opened: list[httpx.Response] = []
    try:
        opener = threading.Thread(
            target=lambda: opened.append(
                tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "f"})
            )
        )
        opener.start()
        for i in range(30):
            body = {"user_id": username, "source_wager_id": f"s{i}", "amount": "2.5"}
            assert tenant.client.post(f"/v1/jackpots/{jackpot}/contribute", json=body).status_code == 202
        item = {"type": "jackpot.contribute", "jackpot_id": jackpot, "user_id": username, "amount": "2.5"}
        batch = [{**item, "source_wager_id": f"b{i}"} for i in range(10)]
        answer = tenant.client.post("/v1/events/batch", json={"events": batch})
        assert [item["status"] for item in answer.json()["results"]] == ["accepted"] * 10
        wait_until(lambda: broker.llen("wowsino:draws") > 0, what="the open queued")
        broker.flushall()  # every queued message and every claim is gone
    finally:
        victim.events.send(signal.SIGCONT)
        victim.draws.send(signal.SIGCONT)
    pool = f"/v1/jackpots/{jackpot}"
    wait_until(lambda: Decimal(tenant.client.get(pool).json()["pool"]) == 100, timeout=60, what="every accepted event")
    fairness = f"/v1/players/{username}/fairness"
    wait_until(lambda: tenant.client.get(fairness).json()["nonce"] == 1, timeout=60, what="the accepted open")
    opener.join(timeout=60)
    assert opened and opened[0].status_code in (201, 202)
    replay = tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "f"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert tenant.client.get(fairness).json()["nonce"] == 1 and Decimal(tenant.client.get(pool).json()["pool"]) == 100
