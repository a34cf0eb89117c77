"""A receiver that fails every attempt for the whole retry horizon: its subscription becomes ``failed`` and
holds later events, which go out once it is set ``active`` again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import Operator, provision
from tests.support.processes import fresh_database, wait_until
from tests.support.receiver import receiver
from tests.support.stack import Stack

HORIZON = {"WEBHOOK_RETRY_SCHEDULE": "0.3,0.6", "WEBHOOK_RETRY_REPEAT": "0.6", "WEBHOOK_RETRY_HORIZON": "3"}


@pytest.fixture(scope="module")
def short_horizon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("horizon")
    database_url, drop = fresh_database(tmp)
    started = Stack(database_url, tmp, settings=HORIZON)
    try:
        yield started
    finally:
        started.stop()
        drop()


def test_a_subscription_failing_for_the_whole_horizon_is_failed_and_holds_events(short_horizon: Stack) -> None:
    with short_horizon.admin() as admin:
        tenant: Operator = provision(admin, short_horizon.url, mode="test")
    username = tenant.player()
    box = tenant.lootbox()
    with receiver(script=[500] * 1000) as hooks:
        subscription = tenant.client.post("/v1/webhooks", json={"url": hooks.url, "events": ["lootbox.opened"]})
        path = f"/v1/webhooks/{subscription.json()['id']}"
        tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        wait_until(lambda: tenant.client.get(path).json()["status"] == "failed", what="the subscription failed")
        [given_up] = tenant.client.get(f"{path}/deliveries").json()["data"]
        assert given_up["status"] == "failed" and len(given_up["attempts"]) >= 4
        tenant.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        wait_until(lambda: len(tenant.client.get(f"{path}/deliveries").json()["data"]) == 2, what="a held delivery")
        held = tenant.client.get(f"{path}/deliveries").json()["data"][0]
        assert held["status"] == "pending" and held["attempts"] == []
        hooks.script.clear()  # the receiver is fixed
        assert tenant.client.patch(path, json={"status": "active"}).json()["status"] == "active"
        wait_until(
            lambda: tenant.client.get(f"{path}/deliveries").json()["data"][0]["status"] == "succeeded",
            what="the held delivery sent",
        )
