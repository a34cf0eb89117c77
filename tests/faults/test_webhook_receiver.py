"""A receiver that is down, then slow (past the timeout), then up: every event is acknowledged,
each id processed once by a deduplicating receiver, every attempt logged, the backoff followed."""

from __future__ import annotations

import json
import time
from datetime import datetime
from itertools import pairwise

from tests.support.api import Operator
from tests.support.processes import free_port, wait_until
from tests.support.receiver import receiver
from tests.support.stack import FAST_SETTINGS, Stack

SCHEDULE = [float(step) for step in FAST_SETTINGS["WEBHOOK_RETRY_SCHEDULE"].split(",")]
REPEAT = float(FAST_SETTINGS["WEBHOOK_RETRY_REPEAT"])
TIMEOUT = float(FAST_SETTINGS["WEBHOOK_TIMEOUT"])


def test_down_then_slow_then_up(victim: Stack, tenant: Operator) -> None:
    port = free_port()
    subscription = tenant.client.post(
        "/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hooks", "events": ["lootbox.opened"]}
    ).json()
    username = tenant.player()
    box = tenant.lootbox()
    opens = [tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).json() for _ in range(5)]
    time.sleep(1.5)  # down: connections refused
    with receiver(port=port, delay_s=TIMEOUT + 1) as hooks:
        time.sleep(TIMEOUT * 2)  # slow: every attempt times out
        hooks.delay_s = 0  # up
        deliveries = f"/v1/webhooks/{subscription['id']}/deliveries"
        wait_until(
            lambda: {d["status"] for d in tenant.client.get(deliveries).json()["data"]} == {"succeeded"},
            timeout=60,
            what="every delivery acknowledged",
        )
    processed = {json.loads(hit.body)["id"] for hit in hooks.received}  # the receiver deduplicates on the id
    rows = tenant.client.get(deliveries).json()["data"]
    assert len(rows) == len(opens) and processed == {row["event_id"] for row in rows}
    assert {json.loads(hit.body)["data"]["open_id"] for hit in hooks.received} == {o["open_id"] for o in opens}
    for row in rows:
        attempts = row["attempts"]
        assert attempts[-1]["status_code"] == 200 and row["attempt_count"] == len(attempts)
        assert any(a["error"] and "Connect" in a["error"] for a in attempts)  # down was logged
        moments = [datetime.fromisoformat(a["attempted_at"]) for a in attempts]
        for number, (earlier, later) in enumerate(pairwise(moments)):
            planned = SCHEDULE[number] if number < len(SCHEDULE) else REPEAT
            assert (later - earlier).total_seconds() >= planned * 0.9 - 0.05  # never sooner than the backoff
