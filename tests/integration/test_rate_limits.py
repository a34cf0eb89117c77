"""Per-key rate limits, shared by every API process through Redis: 429 with Retry-After, then recovery."""

from __future__ import annotations

import time

import httpx

from tests.support.api import issue
from tests.support.load import post_many
from tests.support.stack import Stack


def test_limit_is_shared_across_api_processes_and_recovers(stack: Stack, admin: httpx.Client) -> None:
    created = admin.post(
        "/tenants",
        json={
            "slug": "tiny-casino",
            "service_mode": "plug_in",
            "brand": {"slug": "tiny-casino"},
            "rate_limit_per_second": 20,
        },
    )
    assert created.status_code == 201 and created.json()["rate_limit_per_second"] == 20
    operator = issue(admin, stack.url, "tiny-casino")
    time.sleep(1 - time.time() % 1)  # start at the beginning of a one-second window
    requests = [(f"http://127.0.0.1:{stack.ports[i % 2]}/v1/players", {"username": f"r{i}"}) for i in range(60)]
    responses = post_many(requests, operator.key, concurrency=30)
    statuses = [response.status_code for response in responses]
    assert set(statuses) == {201, 429}
    assert 20 <= statuses.count(201) <= 40  # 20 a window; a burst may straddle two windows
    limited = next(response for response in responses if response.status_code == 429)
    assert limited.headers["retry-after"] == "1" and limited.json()["type"] == "rate-limited"
    time.sleep(1.1)
    assert operator.client.get("/v1/me").status_code == 200


def test_admin_can_raise_a_tenants_limit(stack: Stack, admin: httpx.Client) -> None:
    admin.post(
        "/tenants",
        json={
            "slug": "grow-casino",
            "service_mode": "plug_in",
            "brand": {"slug": "grow-casino"},
            "rate_limit_per_second": 1,
        },
    )
    operator = issue(admin, stack.url, "grow-casino")
    time.sleep(1 - time.time() % 1)
    assert [operator.client.get("/v1/me").status_code for _ in range(3)][1:] == [429, 429]
    changed = admin.patch("/tenants/grow-casino", json={"rate_limit_per_second": 1000})
    assert changed.status_code == 200 and changed.json()["rate_limit_per_second"] == 1000
    time.sleep(1.05)
    assert {operator.client.get("/v1/me").status_code for _ in range(10)} == {200}
