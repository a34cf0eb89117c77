"""Small helpers to talk to a running stack as an operator would."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.processes import wait_until

PRIZES = [
    {"label": "small", "asset": "WINZ", "amount": 100, "weight": 70},
    {"label": "big", "asset": "WINZ", "amount": 1500, "weight": 30},
]


@dataclass
class Operator:
    """A tenant with one brand and a key, and an HTTP client that sends the key."""

    slug: str
    key: str
    key_id: str
    client: httpx.Client

    def player(self, username: str | None = None) -> str:
        username = username or "p_" + secrets.token_hex(4)
        response = self.client.post("/v1/players", json={"username": username})
        assert response.status_code in (200, 201), response.text
        return username

    def lootbox(self, **config: Any) -> dict[str, Any]:
        body = {"name": "Friday Daily", "prize_table": PRIZES, **config}
        response = self.client.post("/v1/lootbox", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def balance(self, username: str, asset: str = "WINZ") -> Any:
        return self.client.get(f"/v1/players/{username}").json()["balances"].get(asset, 0)

    def outcome(self, response: httpx.Response) -> int:
        """The status of a draw's outcome: a 202 (the API stopped waiting for the worker, as it may on a
        busy machine) is followed to its operation, whose 200 stands for the 201 it would have answered."""
        if response.status_code != 202:
            return response.status_code
        url = response.json()["url"]
        wait_until(lambda: self.client.get(url).status_code != 202, what="the operation's outcome")
        polled = self.client.get(url)
        return 201 if polled.status_code == 200 else polled.status_code


def provision(admin: httpx.Client, base_url: str, *, mode: str = "live", scopes: list[str] | None = None) -> Operator:
    slug = "op-" + secrets.token_hex(4)
    created = admin.post("/tenants", json={"slug": slug, "service_mode": "plug_in", "brand": {"slug": slug}})
    assert created.status_code == 201, created.text
    return issue(admin, base_url, slug, mode=mode, scopes=scopes)


def issue(
    admin: httpx.Client, base_url: str, slug: str, *, mode: str = "live", scopes: list[str] | None = None
) -> Operator:
    body: dict[str, Any] = {"brand": slug, "mode": mode}
    if scopes is not None:
        body["scopes"] = scopes
    issued = admin.post(f"/tenants/{slug}/keys", json=body)
    assert issued.status_code == 201, issued.text
    key = issued.json()["key"]
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return Operator(slug=slug, key=key, key_id=issued.json()["id"], client=client)


def grant(operator: Operator, username: str, winz: int) -> None:
    """Give a player WINZ through a lootbox that always pays *winz* (the ledger has no other faucet)."""
    box = operator.lootbox(prize_table=[{"label": "grant", "asset": "WINZ", "amount": winz, "weight": 1}])
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    assert opened.status_code == 201, opened.text
