"""Operators' listings: newest first, filtered, cursor-paginated without repeats or gaps under writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.api import PRIZES, Operator


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
