"""Jackpots: exact decimal pools, contributions counted once per wager, drops that reseed."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import httpx
import redis

from models.engines import engine_cache_key
from tests.support.api import Operator, provision
from tests.support.load import post_many
from tests.support.processes import wait_until
from tests.support.receiver import receiver
from tests.support.stack import Stack


def _jackpot(operator: Operator, **config: object) -> dict[str, object]:
    created = operator.client.post(
        "/v1/jackpots", json={"name": "Mega", "currency": "USD", "seed_amount": "100.00", **config}
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _pool(operator: Operator, jackpot_id: object) -> Decimal:
    return Decimal(operator.client.get(f"/v1/jackpots/{jackpot_id}").json()["pool"])


def test_contributions_grow_the_pool_exactly_once_per_wager(operator: Operator) -> None:
    username = operator.player()
    jackpot = _jackpot(operator)
    assert jackpot["pool"] == "100"
    for wager, amount in [("w1", "0.10"), ("w2", 0.2), ("w1", "0.10"), ("w3", "1.005")]:
        accepted = operator.client.post(
            f"/v1/jackpots/{jackpot['id']}/contribute",
            json={"user_id": username, "source_wager_id": wager, "amount": amount},
        )
        assert accepted.status_code == 202, accepted.text
    wait_until(lambda: _pool(operator, jackpot["id"]) == Decimal("101.305"), what="contributions")
    rows = operator.client.get(f"/v1/jackpots/{jackpot['id']}/contributions").json()["data"]
    assert sorted(row["source_wager_id"] for row in rows) == ["w1", "w2", "w3"]


def test_a_page_of_jackpots_shows_each_its_own_pool(operator: Operator) -> None:
    username = operator.player()
    made = [_jackpot(operator, currency=currency, seed_amount=seed) for currency, seed in [("USD", "5"), ("EUR", "7")]]
    made.append(_jackpot(operator, currency="WINZ", seed_amount="11"))
    body = {"user_id": username, "source_wager_id": "w1", "amount": "0.25"}
    assert operator.client.post(f"/v1/jackpots/{made[1]['id']}/contribute", json=body).status_code == 202
    wait_until(lambda: _pool(operator, made[1]["id"]) == Decimal("7.25"), what="the contribution")
    pages = [operator.client.get("/v1/jackpots", params={"limit": 2}).json()]
    pages.append(operator.client.get("/v1/jackpots", params={"limit": 2, "cursor": pages[0]["next_cursor"]}).json())
    pools = {row["id"]: row["pool"] for page in pages for row in page["data"]}
    assert pools == {made[0]["id"]: "5", made[1]["id"]: "7.25", made[2]["id"]: 11}


def test_cached_facts_in_a_shape_this_version_does_not_read_are_looked_up_again(
    stack: Stack, operator: Operator
) -> None:
    """As after an upgrade that changed what the API caches of an engine: the entry is read again."""
    username = operator.player()
    jackpot = _jackpot(operator)
    cache = redis.Redis.from_url(stack.redis_url)
    entry = engine_cache_key(str(jackpot["id"]))

    def contribute(wager: str) -> httpx.Response:
        body = {"user_id": username, "source_wager_id": wager, "amount": "1.00"}
        return operator.client.post(f"/v1/jackpots/{jackpot['id']}/contribute", json=body)

    assert contribute("w0").status_code == 202
    facts = json.loads(cache.get(entry) or b"null")
    assert facts["currency"] == "USD"
    shapes = [{name: value for name, value in facts.items() if name != "currency"}, {"engine": "old"}, [1, 2]]
    for number, shape in enumerate(shapes, 1):
        cache.set(entry, json.dumps(shape), ex=60)
        accepted = contribute(f"w{number}")
        assert accepted.status_code == 202, accepted.text
        assert json.loads(cache.get(entry) or b"null") == facts  # cached again, in this version's shape
    wait_until(lambda: _pool(operator, jackpot["id"]) == Decimal("104.00"), what="contributions")


def test_thousand_concurrent_contributions_with_replays_are_exact(stack: Stack, operator: Operator) -> None:
    """1,000 contributions from 50 players, 10% replayed: pool = seed + the sum of distinct contributions."""
    players = [operator.player(f"jp{i}") for i in range(50)]
    jackpot = _jackpot(operator)
    rng = random.Random(7)
    distinct = [(f"wager-{i}", players[i % 50], Decimal(rng.randint(1, 10_000)) / 100) for i in range(900)]
    sends = distinct + [rng.choice(distinct) for _ in range(100)]
    rng.shuffle(sends)

    requests = [
        (
            f"http://127.0.0.1:{stack.ports[i % 2]}/v1/jackpots/{jackpot['id']}/contribute",
            {"user_id": user, "source_wager_id": wager, "amount": str(amount)},
        )
        for i, (wager, user, amount) in enumerate(sends)
    ]
    assert {response.status_code for response in post_many(requests, operator.key)} == {202}
    expected = Decimal("100") + sum(amount for _, _, amount in distinct)
    wait_until(lambda: _pool(operator, jackpot["id"]) == expected, timeout=60, what="every contribution")
    assert "ledger balanced" in stack.cli(["audit"])


def test_must_drop_pays_the_contributor_who_reaches_it_and_reseeds(stack: Stack, admin: httpx.Client) -> None:
    sandbox = provision(admin, stack.url, mode="test")
    with receiver() as hooks:
        sandbox.client.post("/v1/webhooks", json={"url": hooks.url, "events": ["jackpot.dropped"]})
        alice, bob = sandbox.player(), sandbox.player()
        jackpot = _jackpot(sandbox, must_drop_at="150")
        contribute = f"/v1/jackpots/{jackpot['id']}/contribute"
        sandbox.client.post(contribute, json={"user_id": alice, "source_wager_id": "a", "amount": "30"})
        wait_until(lambda: _pool(sandbox, jackpot["id"]) == 130, what="first contribution")
        sandbox.client.post(contribute, json={"user_id": bob, "source_wager_id": "b", "amount": "25.5"})
        wait_until(lambda: sandbox.balance(bob, "USD") == "155.5", what="the drop")
        event = json.loads(hooks.wait_for(1)[0].body)
    assert _pool(sandbox, jackpot["id"]) == 100
    assert sandbox.balance(alice, "USD") == 0
    assert event["type"] == "jackpot.dropped"
    assert {
        k: event["data"][k] for k in ("winner_username", "amount", "pool_before", "pool_after", "trigger_reason")
    } == {
        "winner_username": bob,
        "amount": "155.5",
        "pool_before": "155.5",
        "pool_after": "100",
        "trigger_reason": "must_drop",
    }


def test_manual_drop_defaults_to_the_last_contributor(operator: Operator) -> None:
    alice = operator.player()
    jackpot = _jackpot(operator)
    assert operator.client.post(f"/v1/jackpots/{jackpot['id']}/drop").status_code == 409
    operator.client.post(
        f"/v1/jackpots/{jackpot['id']}/contribute", json={"user_id": alice, "source_wager_id": "x", "amount": "5"}
    )
    wait_until(lambda: _pool(operator, jackpot["id"]) == 105, what="contribution")
    dropped = operator.client.post(f"/v1/jackpots/{jackpot['id']}/drop", json={"idempotency_key": "d1"})
    assert dropped.status_code == 201
    assert {
        k: dropped.json()[k] for k in ("winner_username", "amount", "pool_before", "pool_after", "trigger_reason")
    } == {
        "winner_username": alice,
        "amount": "105",
        "pool_before": "105",
        "pool_after": "100",
        "trigger_reason": "manual",
    }
    again = operator.client.post(f"/v1/jackpots/{jackpot['id']}/drop", json={"idempotency_key": "d1"})
    assert again.json()["drop_id"] == dropped.json()["drop_id"]
    assert operator.balance(alice, "USD") == "105"


def test_bad_contributions_are_refused_and_change_nothing(operator: Operator) -> None:
    username = operator.player()
    jackpot = _jackpot(operator)
    contribute = f"/v1/jackpots/{jackpot['id']}/contribute"
    for body, field in [
        ({"user_id": username, "source_wager_id": "n", "amount": "-1"}, "amount"),
        ({"user_id": username, "source_wager_id": "n", "amount": "0.000000001"}, "amount"),
        ({"user_id": username, "source_wager_id": "n", "amount": "NaN"}, "amount"),
        ({"user_id": "ghost", "source_wager_id": "n", "amount": "1"}, "user_id"),
        ({"user_id": username, "amount": "1"}, "source_wager_id"),
    ]:
        refused = operator.client.post(contribute, json=body)
        assert 400 <= refused.status_code < 500, refused.text
        assert field in {error["field"] for error in refused.json()["errors"]}
    assert (
        operator.client.post(
            "/v1/jackpots/nope/contribute", json={"user_id": username, "source_wager_id": "n", "amount": "1"}
        ).status_code
        == 404
    )
    assert _pool(operator, jackpot["id"]) == 100


def test_drops_are_listed_newest_first(operator: Operator) -> None:
    alice = operator.player()
    jackpot = _jackpot(operator)
    for _ in range(2):
        operator.client.post(f"/v1/jackpots/{jackpot['id']}/drop", json={"winner_user_id": alice})
    rows = operator.client.get(f"/v1/jackpots/{jackpot['id']}/drops").json()["data"]
    assert [row["trigger_reason"] for row in rows] == ["manual", "manual"]
    assert [row["amount"] for row in rows] == ["100", "100"]  # each drop pays the reseeded pool
    assert operator.balance(alice, "USD") == "200"
