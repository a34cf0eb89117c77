"""A tenant, its live key, players and engines, made through the public API like an operator would."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

JOURNEY_TRIGGER = "spin"


class Operator:
    """One tenant's live key on the stack; the key stays inside this object (never printed)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def at(self, base_url: str) -> Operator:
        """The same key, on another stack sharing the database."""
        return Operator(base_url, self.key)

    def _post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        if response.status_code != expect:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()  # type: ignore[no-any-return]

    def create_players(self, usernames: list[str], concurrency: int = 8) -> None:
        async def create_all() -> None:
            gate = asyncio.Semaphore(concurrency)
            headers = {"Authorization": f"Bearer {self.key}"}
            async with httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30) as client:

                async def one(username: str) -> None:
                    async with gate:
                        response = await client.post("/v1/players", json={"username": username})
                    if response.status_code not in (200, 201):
                        raise RuntimeError(f"POST /v1/players answered {response.status_code}: {response.text[:300]}")

                await asyncio.gather(*(one(name) for name in usernames))

        asyncio.run(create_all())

    def create_tournament(self, name: str) -> str:
        now = datetime.now(UTC)
        body = {
            "name": name,
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
            "prizes": [{"rank_from": 1, "rank_to": 3, "prize_winz": 1000}],
        }
        return str(self._post("/v1/tournaments", body)["id"])

    def create_jackpot(self, name: str, seed_amount: str = "100") -> str:
        body = {"name": name, "currency": "USD", "seed_amount": seed_amount}
        return str(self._post("/v1/jackpots", body)["id"])

    def create_journey(self, name: str) -> str:
        body = {"name": name, "steps": [{"trigger": JOURNEY_TRIGGER, "count": 1_000_000}], "reward_winz": 10}
        return str(self._post("/v1/journeys", body)["id"])

    def create_lootbox(self, name: str) -> str:
        table = [
            {"label": "small", "asset": "WINZ", "amount": 100, "weight": 70},
            {"label": "big", "asset": "WINZ", "amount": 1500, "weight": 30},
        ]
        return str(self._post("/v1/lootbox", {"name": name, "prize_table": table})["id"])

    def leaderboard_points(self, tournament_id: str) -> int:
        """The sum of every player's points on the first 500 rows."""
        response = self.http.get(f"/v1/tournaments/{tournament_id}/leaderboard", params={"limit": 500})
        response.raise_for_status()
        return sum(int(row["points"]) for row in response.json()["data"])

    def jackpot_pool(self, jackpot_id: str) -> Decimal:
        response = self.http.get(f"/v1/jackpots/{jackpot_id}")
        response.raise_for_status()
        return Decimal(response.json()["pool"])

    def close(self) -> None:
        self.http.close()


def provision(base_url: str, admin_token: str) -> Operator:
    """A fresh tenant with one brand, and a live key for it."""
    slug = f"bench-{secrets.token_hex(3)}"
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30) as admin:
        tenant = admin.post("/tenants", json={"slug": slug, "service_mode": "plug_in", "brand": {"slug": slug}})
        if tenant.status_code != 201:
            raise RuntimeError(f"POST /tenants answered {tenant.status_code}: {tenant.text[:300]}")
        issued = admin.post(f"/tenants/{slug}/keys", json={"brand": slug, "mode": "live"})
        if issued.status_code != 201:
            raise RuntimeError(f"POST /tenants/{slug}/keys answered {issued.status_code}")
        return Operator(base_url, str(issued.json()["key"]))
