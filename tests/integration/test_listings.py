"""Operators' listings: newest first, filtered, cursor-paginated without repeats or gaps under writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.api import PRIZES, Operator, provision
from tests.support.stack import Stack


def _all_pages(operator: Operator, path: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = operator.client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        rows += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_opens_listing_filters_and_paginates(operator: Operator) -> None:
    alice, bob = operator.player(), operator.player()
    box = operator.lootbox()
    opened = [
        operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": user}).json()
        for user in [alice, bob] * 6
    ]
    rows = _all_pages(operator, f"/v1/lootbox/{box['id']}/opens", limit=5)
    assert [row["id"] for row in rows] == [open_["open_id"] for open_ in reversed(opened)]
    mine = _all_pages(operator, f"/v1/lootbox/{box['id']}/opens", user=alice, limit=4)
    assert {row["user_id"] for row in mine} == {alice} and len(mine) == 6
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert operator.client.get(f"/v1/lootbox/{box['id']}/opens", params={"since": future}).json()["data"] == []
    assert operator.client.get(f"/v1/lootbox/{box['id']}/opens", params={"since": "yesterday"}).status_code == 400


def test_engines_subscriptions_and_tenants_are_listed_a_page_at_a_time(
    stack: Stack, admin: httpx.Client, operator: Operator
) -> None:
    boxes = [operator.lootbox(name=f"box {n}")["id"] for n in range(5)]
    assert [row["id"] for row in _all_pages(operator, "/v1/lootbox", limit=2)] == boxes[::-1]
    first = operator.client.get("/v1/lootbox", params={"limit": 3}).json()
    assert len(first["data"]) == 3 and first["next_cursor"] is not None
    assert operator.client.get("/v1/lootbox", params={"limit": 501}).status_code == 422
    sandbox = provision(admin, stack.url, mode="test")
    made = [
        sandbox.client.post("/v1/webhooks", json={"url": f"http://127.0.0.1:9/{n}", "events": ["*"]}).json()["id"]
        for n in range(3)
    ]
    assert sandbox.client.delete(f"/v1/webhooks/{made[1]}").status_code == 204
    assert [row["id"] for row in _all_pages(sandbox, "/v1/webhooks", limit=1)] == [made[2], made[0]]
    newest = [provision(admin, stack.url).slug for _ in range(3)][::-1]
    tenants = admin.get("/tenants", params={"limit": 2}).json()
    assert [tenant["slug"] for tenant in tenants["data"]] == newest[:2]
    following = admin.get("/tenants", params={"limit": 2, "cursor": tenants["next_cursor"]}).json()
    assert following["data"][0]["slug"] == newest[2] and following["data"][0]["brands"][0]["slug"] == newest[2]


def test_stats_compare_outcomes_with_weights(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    outcomes = [
        operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).json() for _ in range(60)
    ]
    stats = operator.client.get(f"/v1/lootbox/{box['id']}/stats").json()
    observed = {segment["label"]: segment["observed"] for segment in stats["segments"]}
    assert stats["draws"] == 60 and sum(observed.values()) == 60
    assert observed["big"] == sum(1 for outcome in outcomes if outcome["reward"]["segment_label"] == "big")
    assert stats["degrees_of_freedom"] == 1 and 0 < stats["p_value"] <= 1
    assert stats["paid"] == {"WINZ": sum(outcome["reward"]["amount"] for outcome in outcomes)}
    assert [segment["weight"] for segment in stats["segments"]] == [segment["weight"] for segment in PRIZES]


def test_ledger_transactions_carry_balanced_postings(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox(cost_winz=0)
    operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    rows = operator.client.get("/v1/ledger/transactions", params={"user": username}).json()["data"]
    assert len(rows) == 1 and rows[0]["kind"] == "lootbox.open"
    assert sum(posting["amount"] for posting in rows[0]["postings"]) == 0
    assert {posting["account"]["owner_type"] for posting in rows[0]["postings"]} == {"player", "lootbox"}


def test_ledger_transactions_of_one_engine(operator: Operator) -> None:
    alice, bob = operator.player(), operator.player()
    boxes = [operator.lootbox(cost_winz=0)["id"] for _ in range(2)]
    opened = {
        box: [operator.client.post(f"/v1/lootbox/{box}/open", json={"user_id": u}).json() for u in (alice, bob)]
        for box in boxes
    }
    first = _all_pages(operator, "/v1/ledger/transactions", engine_id=boxes[0], limit=1)
    assert [row["reference"] for row in first] == [open_["open_id"] for open_ in reversed(opened[boxes[0]])]
    assert all(boxes[0] in {p["account"]["owner_id"] for p in row["postings"]} for row in first)
    both = operator.client.get("/v1/ledger/transactions", params={"engine_id": boxes[1], "user": bob}).json()["data"]
    assert [row["reference"] for row in both] == [opened[boxes[1]][1]["open_id"]]
    assert operator.client.get("/v1/ledger/transactions", params={"engine_id": "no-such-engine"}).json()["data"] == []


def test_pagination_is_stable_while_rows_arrive(operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox(cost_winz=0)
    for _ in range(30):
        operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    before = {row["id"] for row in _all_pages(operator, "/v1/ledger/transactions", limit=500)}
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})

    writer = threading.Thread(target=write)
    writer.start()
    try:
        seen = [row["id"] for row in _all_pages(operator, "/v1/ledger/transactions", limit=3)]
    finally:
        stop.set()
        writer.join()
    assert len(seen) == len(set(seen))  # nothing twice
    assert before <= set(seen)  # nothing that existed was skipped
