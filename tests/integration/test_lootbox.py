"""Lootbox opens: the quick start's answer, exact ledger effects, costs, cooldowns and fairness."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from actors.results import RECORDED_RESULT_TTL_S, pending_key, result_key
from models.verify import verify_draw
from tests.support.api import PRIZES, Operator, grant, issue
from tests.support.stack import Stack


def test_open_answers_201_with_a_verifiable_reward_and_credits_it(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    commitment = operator.client.get(f"/v1/players/{username}/fairness").json()
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "k1"})
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert body["deduped"] is False
    assert body["server_seed_hash"] == commitment["server_seed_hash"] and body["nonce"] == 0
    assert body["client_seed"] == username
    assert body["reward"]["segment_label"] in {"small", "big"} and body["reward"]["asset"] == "WINZ"
    verify_draw(body, PRIZES)
    assert operator.balance(username) == body["reward"]["amount"]
    after = operator.client.get(f"/v1/players/{username}/fairness").json()
    assert after == {"server_seed_hash": body["next_server_seed_hash"], "client_seed": username, "nonce": 1}
    ledger = operator.client.get(f"/v1/players/{username}/ledger").json()
    assert [entry["amount"] for entry in ledger["data"]] == [body["reward"]["amount"]]


def test_replay_returns_the_original_and_never_draws_again(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    request = {"user_id": username, "idempotency_key": "same"}
    first = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=request)
    second = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=request)
    assert second.status_code == 201 and second.headers["idempotent-replayed"] == "true"
    assert second.json() == {**first.json(), "deduped": True}
    assert operator.balance(username) == first.json()["reward"]["amount"]


def test_an_answer_leaves_redis_within_minutes_and_replays_and_polls_read_it_from_the_database(
    stack: Stack, operator: Operator
) -> None:
    """Redis would otherwise keep every open's answer (about 870 bytes) for a day beside its database record,
    and its pending marker (about 150) after it was answered."""
    username = operator.player()
    box = operator.lootbox()
    request = {"user_id": username, "idempotency_key": "kept"}
    first = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=request).json()
    paid = operator.lootbox(cost_winz=60)
    refused = operator.client.post(f"/v1/lootbox/{paid['id']}/open", json={"user_id": operator.player()})
    assert refused.status_code == 402  # refused by the worker, which published the refusal
    client = redis.Redis.from_url(stack.redis_url)
    answers = {key: json.loads(client.get(key) or "{}") for key in client.scan_iter(result_key("*"))}
    owner = answers[result_key(first["open_id"]).encode()]["owner"]  # this tenant's: other tests' answers stay a day
    kept = {"error" in outcome: client.ttl(key) for key, outcome in answers.items() if outcome.get("owner") == owner}
    assert 0 < kept[False] <= RECORDED_RESULT_TTL_S < kept[True]  # a refusal is in Redis only: kept a day
    assert list(client.scan_iter(pending_key("*", first["open_id"]))) == []  # answered: no longer pending
    client.delete(result_key(first["open_id"]))  # as Redis will have forgotten it
    client.close()
    again = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=request)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == {**first, "deduped": True}
    polled = operator.client.get(f"/v1/operations/{first['open_id']}").json()
    assert polled == {"operation_id": first["open_id"], "status": "succeeded", "result": first}
    assert operator.balance(username) == first["reward"]["amount"]


def test_a_change_with_an_idempotency_key_is_made_once(operator: Operator) -> None:
    """Every write takes ``idempotency_key``, an engine's ``PATCH`` included."""
    box, other = operator.lootbox(), operator.lootbox()
    change = {"name": "Renamed", "status": "paused", "idempotency_key": "p1"}
    first = operator.client.patch(f"/v1/lootbox/{box['id']}", json=change)
    assert first.status_code == 200 and first.json()["status"] == "paused", first.text
    assert operator.client.patch(f"/v1/lootbox/{box['id']}", json={"status": "active"}).status_code == 200
    replay = operator.client.patch(f"/v1/lootbox/{box['id']}", json=change)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()  # the original answer; the later change stands
    assert operator.client.get(f"/v1/lootbox/{box['id']}").json()["status"] == "active"
    elsewhere = operator.client.patch(f"/v1/lootbox/{other['id']}", json=change)
    assert elsewhere.status_code == 422 and elsewhere.json()["type"] == "idempotency-key-reused"
    assert operator.client.get(f"/v1/lootbox/{other['id']}").json()["name"] == other["name"]


def test_a_key_that_may_only_play_reads_the_outcome_of_its_open(
    stack: Stack, admin: httpx.Client, operator: Operator
) -> None:
    """An open that outlasts the API's wait answers ``202`` with a URL: the key that opened must be able to read it."""
    username, box = operator.player(), operator.lootbox()
    player_key = issue(admin, stack.url, operator.slug, scopes=["engines:play"])
    opened = player_key.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).json()
    polled = player_key.client.get(f"/v1/operations/{opened['open_id']}")
    assert polled.status_code == 200 and polled.json()["result"] == opened, polled.text
    assert player_key.client.get(f"/v1/lootbox/{box['id']}").status_code == 403  # still no engines:read


def test_same_key_with_another_body_is_422_and_changes_nothing(operator: Operator) -> None:
    username, other = operator.player(), operator.player()
    box = operator.lootbox()
    operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": "k"})
    reused = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": other, "idempotency_key": "k"})
    assert reused.status_code == 422 and reused.json()["type"] == "idempotency-key-reused"
    assert operator.balance(other) == 0


def test_cost_is_debited_and_a_short_balance_gets_402(operator: Operator) -> None:
    username = operator.player()
    free = operator.lootbox(prize_table=[{"label": "only", "asset": "WINZ", "amount": 100, "weight": 1}])
    paid = operator.lootbox(cost_winz=60, prize_table=[{"label": "xp", "asset": "XP", "amount": 5, "weight": 1}])
    operator.client.post(f"/v1/lootbox/{free['id']}/open", json={"user_id": username})
    assert operator.client.post(f"/v1/lootbox/{paid['id']}/open", json={"user_id": username}).status_code == 201
    short = operator.client.post(f"/v1/lootbox/{paid['id']}/open", json={"user_id": username, "idempotency_key": "s"})
    assert short.status_code == 402 and short.json()["type"] == "insufficient-balance"
    assert operator.balance(username) == 40 and operator.balance(username, "XP") == 5
    operator.client.post(f"/v1/lootbox/{free['id']}/open", json={"user_id": username})
    retried = operator.client.post(f"/v1/lootbox/{paid['id']}/open", json={"user_id": username, "idempotency_key": "s"})
    assert retried.status_code == 201  # a refusal leaves the key free for a retry


def test_opens_arriving_together_each_pay_or_are_refused_on_their_own(operator: Operator) -> None:
    """Concurrent opens are drawn together, in one transaction; a player short of the cost is refused alone."""
    table = [{"label": "xp", "asset": "XP", "amount": 7, "weight": 1}]
    paid = operator.lootbox(cost_winz=50, prize_table=table)
    players = [operator.player() for _ in range(24)]
    funded = set(players[::2])
    for username in funded:
        grant(operator, username, 50)

    def open_box(username: str) -> httpx.Response:
        return operator.client.post(f"/v1/lootbox/{paid['id']}/open", json={"user_id": username})

    with ThreadPoolExecutor(len(players)) as pool:
        answers = dict(zip(players, pool.map(open_box, players), strict=True))
    for username, answer in answers.items():
        if username in funded:
            assert answer.status_code == 201, answer.text
            assert answer.json()["user_id"] == username and answer.json()["nonce"] == 1  # the grant was the first
            verify_draw(answer.json(), table)
            assert (operator.balance(username), operator.balance(username, "XP")) == (0, 7)
        else:
            assert answer.status_code == 402 and answer.json()["type"] == "insufficient-balance"
            assert (operator.balance(username), operator.balance(username, "XP")) == (0, 0)


def test_cooldown_answers_429_with_retry_after(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox(cooldown_s=3600)
    assert operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).status_code == 201
    again = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    assert again.status_code == 429 and again.json()["type"] == "cooldown"
    assert 3500 < int(again.headers["retry-after"]) <= 3600


def test_decimal_rewards_are_exact(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox(prize_table=[{"label": "cash", "asset": "USD", "amount": "0.10", "weight": 1}])
    for _ in range(3):
        operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    assert operator.balance(username, "USD") == "0.3"


def test_unknown_lootbox_or_player_is_404_naming_the_field(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    missing_box = operator.client.post(
        "/v1/lootbox/00000000-0000-0000-0000-000000000000/open", json={"user_id": username}
    )
    assert missing_box.status_code == 404
    missing_player = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": "ghost"})
    assert missing_player.status_code == 404 and missing_player.json()["errors"][0]["field"] == "user_id"


def test_paused_lootbox_refuses_opens(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    assert operator.client.patch(f"/v1/lootbox/{box['id']}", json={"status": "paused"}).json()["status"] == "paused"
    assert operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).status_code == 409
    assert [b["id"] for b in operator.client.get("/v1/lootbox").json()["data"]] == [box["id"]]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"prize_table": []}, "prize_table"),
        ({"prize_table": [{"label": "a", "asset": "WINZ", "amount": 1, "weight": 0}]}, "prize_table[0].weight"),
        ({"prize_table": [{"label": "a", "asset": "WINZ", "amount": 1.5, "weight": 1}]}, "prize_table[0].amount"),
        ({"prize_table": [{"label": "a", "asset": "WINZ", "amount": -1, "weight": 1}]}, "prize_table[0].amount"),
        ({"prize_table": [{"label": "a", "asset": "wat", "amount": 1, "weight": 1}]}, "prize_table[0].asset"),
        ({"cost_winz": -5}, "cost_winz"),
        ({"cooldown_s": "soon"}, "cooldown_s"),
    ],
)
def test_bad_lootbox_config_names_the_field(operator: Operator, config: dict[str, object], field: str) -> None:
    response = operator.client.post("/v1/lootbox", json={"name": "x", "prize_table": PRIZES, **config})
    assert response.status_code in (400, 422), response.text
    assert field in {error["field"] for error in response.json()["errors"]}
    assert operator.client.get("/v1/lootbox").json()["data"] == []


def test_verify_command_recomputes_an_open(stack: Stack, operator: Operator, tmp_path: Path) -> None:
    username = operator.player()
    box = operator.lootbox()
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "client_seed": "lucky"})
    (tmp_path / "open.json").write_text(json.dumps(opened.json()))
    (tmp_path / "box.json").write_text(json.dumps(box))
    assert "verified" in stack.cli(["verify", str(tmp_path / "open.json"), "--prize-table", str(tmp_path / "box.json")])
    tampered = {**opened.json(), "server_seed": "0" * 64}
    (tmp_path / "open.json").write_text(json.dumps(tampered))
    out = stack.cli(["verify", str(tmp_path / "open.json"), "--prize-table", str(tmp_path / "box.json")], check=False)
    assert "NOT VERIFIED" in out
