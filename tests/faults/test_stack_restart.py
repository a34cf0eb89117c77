"""The whole stack SIGKILLed under load and started again on the same database and Redis."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import redis

from tests.support.api import Operator
from tests.support.load import post_each_async
from tests.support.processes import wait_http, wait_until
from tests.support.receiver import Received, receiver
from tests.support.stack import Stack


def test_every_accepted_request_has_one_effect_after_a_restart(victim: Stack, tenant: Operator) -> None:
    with receiver() as hooks:
        hook = tenant.client.post("/v1/webhooks", json={"url": hooks.url, "events": ["lootbox.opened"]}).json()
        username = tenant.player()
        box = tenant.lootbox(prize_table=[{"label": "one", "asset": "WINZ", "amount": 1, "weight": 1}])
        jackpot = tenant.client.post("/v1/jackpots", json={"name": "j", "currency": "USD", "seed_amount": "0"}).json()
        base = f"http://127.0.0.1:{victim.ports[0]}"
        pool = f"/v1/jackpots/{jackpot['id']}"
        opens = [
            (f"{base}/v1/lootbox/{box['id']}/open", {"user_id": username, "idempotency_key": f"o{i}"})
            for i in range(80)
        ]
        contributions = [
            (
                f"{base}/v1/jackpots/{jackpot['id']}/contribute",
                {"user_id": username, "source_wager_id": f"w{i}", "amount": "1"},
            )
            for i in range(600)
        ]

        async def crash() -> tuple[list[int | None], list[int | None]]:
            stream = asyncio.gather(
                post_each_async(opens, tenant.key, concurrency=8),
                post_each_async(contributions, tenant.key, concurrency=8),
            )
            sending = asyncio.ensure_future(stream)
            while Decimal((await asyncio.to_thread(tenant.client.get, pool)).json()["pool"]) < 10:
                await asyncio.sleep(0.05)  # crash once the stream is well under way
            for process in victim.processes():
                if process is not victim.redis_server:
                    process.kill()
            redis.Redis.from_url(victim.redis_url).delete("wowsino:webhooks", "wowsino:webhooks.msgs")  # lost enqueues
            return await sending

        open_statuses, contribution_statuses = asyncio.run(crash())
        accepted = [
            body for (_, body), status in zip(contributions, contribution_statuses, strict=True) if status == 202
        ]
        assert accepted and len(accepted) < len(contributions)  # the crash came mid-stream
        for process in victim.processes():
            if process is not victim.redis_server:
                process.start()
        for port in victim.ports:
            wait_http(f"http://127.0.0.1:{port}/health")

        # every request, sent again, now has exactly one effect
        for _, body in opens:
            wait_until(
                lambda body=body: tenant.client.post(f"/v1/lootbox/{box['id']}/open", json=body).status_code == 201,
                timeout=60,
                what="the open",
            )
        for (_, body), status in zip(contributions, contribution_statuses, strict=True):
            if status != 202:  # only what was never acknowledged is sent again
                tenant.client.post(f"/v1/jackpots/{jackpot['id']}/contribute", json=body)
        wait_until(lambda: tenant.balance(username) == len(opens), timeout=60, what="one credit per open")
        pool = f"/v1/jackpots/{jackpot['id']}"
        wait_until(
            lambda: Decimal(tenant.client.get(pool).json()["pool"]) == len(contributions), timeout=60, what="pool"
        )
        # the outbox sweep delivered what the lost enqueues would have
        try:
            wait_until(
                lambda: len({json.loads(hit.body)["data"]["open_id"] for hit in hooks.received}) == len(opens),
                timeout=60,
                what="a webhook per open",
            )
        except TimeoutError:
            raise AssertionError(_undelivered(tenant, hook["id"], hooks.received)) from None
    assert {status for status in open_statuses + contribution_statuses} <= {201, 202, 503, None}


def _undelivered(tenant: Operator, hook_id: str, received: list[Received]) -> str:
    """What the delivery log says of the events the receiver never got, for a failure's message."""
    got = {hit.headers["webhook-id"] for hit in received}
    log = tenant.client.get(f"/v1/webhooks/{hook_id}/deliveries", params={"limit": 200}).json()["data"]
    missing = [delivery for delivery in log if delivery["event_id"] not in got]
    return f"{len(log)} deliveries, {len(received)} requests received; never received: {missing}"
