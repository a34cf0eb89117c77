"""The operators' quick start, walked over HTTP against the stack that ``make run`` starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.launch import wowsino_run
from tests.support.processes import Process
from tests.support.receiver import receiver


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Process]]:
    """``wowsino run`` in an empty folder, with no Redis at REDIS_URL and no admin token set."""
    home = tmp_path_factory.mktemp("home")
    with wowsino_run(home) as (url, stack):
        yield url, home, stack


def test_quick_start_as_written(launched: tuple[str, Path, Process]) -> None:
    url, home, stack = launched
    assert "private Redis" in stack.tail() and f"API listening on {url}" in stack.tail()
    assert (home / "var" / "admin-token").stat().st_mode & 0o777 == 0o600  # the owner's alone
    admin_token = (home / "var" / "admin-token").read_text().strip()
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)

    # 1 · Get an API key
    tenant = admin.post(
        "/tenants", json={"slug": "acme-casino", "service_mode": "plug_in", "brand": {"slug": "acme-casino"}}
    )
    assert tenant.status_code == 201
    issued = admin.post("/tenants/acme-casino/keys", json={"brand": "acme-casino", "mode": "live"}).json()
    assert issued["key"].startswith("wsk_live_") and len(issued["key"]) == 57
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {issued['key']}"}, timeout=30)

    # 2 · Identify yourself
    me = api.get("/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "tenant": {"slug": "acme-casino", "service_mode": "plug_in", "key_mode": "live", "scopes": ["*"]},
        "brand": {"slug": "acme-casino"},
    }

    # 3 · Mirror a player
    player = {
        "username": "StarlordV7",
        "email": "sv7@example.com",
        "external_ref": "your-pam-user-uuid",
        "country_code": "US",
    }
    assert api.post("/v1/players", json=player).status_code == 201
    assert api.post("/v1/players", json=player).status_code == 200

    # 4 · Open a lootbox
    prize_table = [
        {"label": "small", "asset": "WINZ", "amount": 100, "weight": 60},
        {"label": "big", "asset": "WINZ", "amount": 1500, "weight": 40},
    ]
    box = api.post("/v1/lootbox", json={"name": "Friday Daily", "prize_table": prize_table}).json()
    request = {"user_id": "StarlordV7", "idempotency_key": "open-2025-05-19-uniq-abc"}
    opened = api.post(f"/v1/lootbox/{box['id']}/open", json=request)
    assert opened.status_code == 201
    body = opened.json()
    assert {"open_id", "reward", "server_seed", "server_seed_hash", "deduped"} <= set(body)
    assert body["reward"]["asset"] == "WINZ" and body["deduped"] is False
    assert len(body["server_seed"]) == 64 and len(body["server_seed_hash"]) == 64
    assert api.get("/v1/players/StarlordV7").json()["balances"] == {"WINZ": body["reward"]["amount"]}
    replay = api.post(f"/v1/lootbox/{box['id']}/open", json=request)
    assert replay.status_code == 201 and replay.json() == {**body, "deduped": True}
    assert api.get("/v1/players/StarlordV7").json()["balances"] == {"WINZ": body["reward"]["amount"]}


def test_subscribed_webhook_arrives_signed_after_a_failed_attempt(launched: tuple[str, Path, Process]) -> None:
    url, home, _ = launched
    admin_token = (home / "var" / "admin-token").read_text().strip()
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    admin.post(
        "/tenants", json={"slug": "sandbox-casino", "service_mode": "plug_in", "brand": {"slug": "sandbox-casino"}}
    )
    key = admin.post("/tenants/sandbox-casino/keys", json={"brand": "sandbox-casino", "mode": "test"}).json()["key"]
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    with receiver(script=[500]) as hooks:
        subscription = api.post("/v1/webhooks", json={"url": hooks.url, "events": ["lootbox.opened"]}).json()
        api.post("/v1/players", json={"username": "StarlordV7"})
        prize_table = [{"label": "big", "asset": "WINZ", "amount": 1500, "weight": 1}]
        box = api.post("/v1/lootbox", json={"name": "Friday Daily", "prize_table": prize_table}).json()
        api.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": "StarlordV7", "idempotency_key": "open-1"})
        failed, delivered = hooks.wait_for(2, timeout=30)[:2]
    assert failed.answered == 500 and delivered.answered == 200
    assert failed.headers["webhook-id"] == delivered.headers["webhook-id"]
    event = Webhook(subscription["signing_secret"]).verify(delivered.body, delivered.headers)
    assert event["type"] == "lootbox.opened" and event["delivered_at"].endswith("Z")
    assert {key: event["data"][key] for key in ("lootbox_id", "lootbox_name", "user")} == {
        "lootbox_id": box["id"],
        "lootbox_name": "Friday Daily",
        "user": "StarlordV7",
    }
    assert event["data"]["reward"]["asset"] == "WINZ" and event["data"]["reward"]["amount"] == 1500
    assert json.loads(delivered.body)["id"] == delivered.headers["webhook-id"]
