"""Signed webhooks: Standard Webhooks headers, retries with the same id, the delivery log, the URL guard."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text
from sqlmodel import col, select, update
from standardwebhooks.webhooks import Webhook

from config.settings import load_settings
from models.db import Database
from models.webhooks import WebhookDelivery, WebhookEndpoint
from tests.support.api import Operator, provision
from tests.support.processes import wait_until
from tests.support.receiver import receiver
from tests.support.stack import FAST_SETTINGS, Stack


@pytest.fixture
def sandbox(stack: Stack, admin: httpx.Client) -> Operator:
    return provision(admin, stack.url, mode="test")


def _subscribe(operator: Operator, url: str, events: list[str] | None = None) -> dict[str, object]:
    created = operator.client.post("/v1/webhooks", json={"url": url, "events": events or ["lootbox.opened"]})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_opened_event_is_signed_and_retried_with_the_same_id(sandbox: Operator) -> None:
    with receiver(script=[500]) as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        assert str(subscription["signing_secret"]).startswith("whsec_")
        username = sandbox.player()
        box = sandbox.lootbox()
        opened = sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).json()
        first, retry = hooks.wait_for(2)[:2]
    assert first.answered == 500 and retry.answered == 200
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    event = Webhook(str(subscription["signing_secret"])).verify(retry.body, retry.headers)
    assert event["type"] == "lootbox.opened" and event["id"] == retry.headers["webhook-id"]
    assert event["data"] == {
        "lootbox_id": box["id"],
        "lootbox_name": "Friday Daily",
        "user": username,
        "open_id": opened["open_id"],
        "reward": opened["reward"],
        "server_seed_hash": opened["server_seed_hash"],
        "opened_at": opened["opened_at"],
    }
    assert event["delivered_at"].endswith("Z")
    deliveries = sandbox.client.get(f"/v1/webhooks/{subscription['id']}/deliveries").json()["data"]
    wait_until(
        lambda: (
            sandbox.client.get(f"/v1/webhooks/{subscription['id']}/deliveries").json()["data"][0]["status"]
            == "succeeded"
        ),
        what="the delivery log",
    )
    deliveries = sandbox.client.get(f"/v1/webhooks/{subscription['id']}/deliveries").json()["data"]
    assert [attempt["status_code"] for attempt in deliveries[0]["attempts"]] == [500, 200]
    assert all(attempt["latency_ms"] >= 0 for attempt in deliveries[0]["attempts"])


def test_a_draw_whose_outbox_row_cannot_be_written_writes_nothing(stack: Stack, sandbox: Operator) -> None:
    """The outbox row is written in the draw's own transaction: while the database refuses the delivery row
    (a trigger on this subscription's rows), the open changes nothing, neither balance nor seed; once it
    takes it, the retried open is drawn once and announced once."""
    with receiver() as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        username = sandbox.player()
        box = sandbox.lootbox(prize_table=[{"label": "ten", "asset": "WINZ", "amount": 10, "weight": 1}])
        refuse, allow = _refusing_trigger(stack, "webhook_deliveries", f"endpoint_id = '{subscription['id']}'")
        _execute(stack, refuse)
        path, body = f"/v1/lootbox/{box['id']}/open", {"user_id": username, "idempotency_key": "outbox"}
        try:
            with pytest.raises(httpx.ReadTimeout):  # the draw keeps failing and being retried
                sandbox.client.post(path, json=body, timeout=2)
            time.sleep(1)
            assert sandbox.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 0
            assert sandbox.balance(username) == 0
        finally:
            _execute(stack, allow)
        wait_until(lambda: sandbox.client.post(path, json=body).status_code == 201, what="the retried open")
        opened = sandbox.client.post(path, json=body).json()
        received = hooks.wait_for(1)
        time.sleep(0.5)  # a second announcement would arrive by now
    assert [json.loads(hook.body)["data"]["open_id"] for hook in hooks.received] == [opened["open_id"]]
    assert len(received) == 1 and sandbox.balance(username) == 10


def _execute(stack: Stack, statements: list[str]) -> None:
    """*statements* in one transaction on the stack's database."""
    db = Database(load_settings({"DATABASE_URL": stack.database_url}))

    async def run() -> None:
        try:
            async with db.transaction() as session:
                for statement in statements:
                    await session.execute(text(statement))
        finally:
            await db.dispose()

    asyncio.run(run())


def _refusing_trigger(stack: Stack, table: str, when: str) -> tuple[list[str], list[str]]:
    """Statements making the database refuse the rows of *table* for which *when* holds, and undoing that."""
    if stack.database_url.startswith("sqlite"):
        refusing = (
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table} WHEN NEW.{when} BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        return [refusing], ["DROP TRIGGER refuse"]
    refusing = "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
    return (
        [
            refusing,
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table} FOR EACH ROW WHEN (NEW.{when}) EXECUTE FUNCTION refuse()",
        ],
        [f"DROP TRIGGER refuse ON {table}", "DROP FUNCTION refuse()"],
    )


def test_a_subscription_made_after_opens_receives_the_next(sandbox: Operator) -> None:
    username = sandbox.player()
    box = sandbox.lootbox()
    for _ in range(8):  # each draws process has most likely read the tenant's endpoints, none, and kept them
        assert sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).status_code == 201
    with receiver() as hooks:
        _subscribe(sandbox, hooks.url)
        opened = sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).json()
        (hit,) = hooks.wait_for(1)
    assert json.loads(hit.body)["data"]["open_id"] == opened["open_id"]


def test_player_created_and_wildcard_subscriptions(sandbox: Operator) -> None:
    with receiver() as hooks:
        _subscribe(sandbox, hooks.url, ["player.*"])
        sandbox.client.post("/v1/players", json={"username": "newbie", "external_ref": "pam-9"})
        sandbox.client.post("/v1/players", json={"username": "newbie"})  # exists: no second event
        hooks.wait_for(1)
        box = sandbox.lootbox()
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": "newbie"})
        hooks.wait_for(2, timeout=2)
    events = [json.loads(hit.body) for hit in hooks.received]
    assert [(event["type"], event["data"]) for event in events] == [
        ("player.created", {"user": "newbie", "external_ref": "pam-9"})
    ]


def test_client_errors_fail_without_retry_and_410_pauses(sandbox: Operator) -> None:
    with receiver(script=[400, 410]) as hooks:
        bad = _subscribe(sandbox, hooks.url)
        username = sandbox.player()
        box = sandbox.lootbox()
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        hooks.wait_for(1)
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        hooks.wait_for(2)
        hooks.wait_for(3, timeout=2)
    assert [hit.answered for hit in hooks.received] == [400, 410]
    wait_until(lambda: sandbox.client.get(f"/v1/webhooks/{bad['id']}").json()["status"] == "paused", what="pause")
    statuses = {d["status"] for d in sandbox.client.get(f"/v1/webhooks/{bad['id']}/deliveries").json()["data"]}
    assert statuses == {"failed"}


def test_redeliver_sends_the_same_event_again(sandbox: Operator) -> None:
    with receiver() as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        username = sandbox.player()
        box = sandbox.lootbox()
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        hooks.wait_for(1)
        wait_until(
            lambda: (
                sandbox.client.get(f"/v1/webhooks/{subscription['id']}/deliveries").json()["data"][0]["status"]
                == "succeeded"
            ),
            what="first delivery",
        )
        delivery = sandbox.client.get(f"/v1/webhooks/{subscription['id']}/deliveries").json()["data"][0]
        again = sandbox.client.post(f"/v1/webhooks/{subscription['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 202
        hooks.wait_for(2)
    assert hooks.received[0].headers["webhook-id"] == hooks.received[1].headers["webhook-id"]
    missing = sandbox.client.post(f"/v1/webhooks/{subscription['id']}/deliveries/nope/redeliver")
    assert missing.status_code == 404


def test_paused_subscriptions_hold_deliveries_until_resumed(sandbox: Operator) -> None:
    with receiver() as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        assert sandbox.client.patch(f"/v1/webhooks/{subscription['id']}", json={"status": "paused"}).status_code == 200
        username = sandbox.player()
        box = sandbox.lootbox()
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        assert hooks.wait_for(1, timeout=1.5) == []
        sandbox.client.patch(f"/v1/webhooks/{subscription['id']}", json={"status": "active"})
        assert len(hooks.wait_for(1)) == 1


def test_subscription_lifecycle(sandbox: Operator) -> None:
    subscription = _subscribe(sandbox, "http://127.0.0.1:9/hook", ["*"])
    shown = sandbox.client.get(f"/v1/webhooks/{subscription['id']}").json()
    assert "signing_secret" not in shown and shown["events"] == ["*"]
    changed = sandbox.client.patch(f"/v1/webhooks/{subscription['id']}", json={"events": ["lootbox.*"]}).json()
    assert changed["events"] == ["lootbox.*"]
    assert [w["id"] for w in sandbox.client.get("/v1/webhooks").json()["data"]] == [subscription["id"]]
    assert sandbox.client.delete(f"/v1/webhooks/{subscription['id']}").status_code == 204
    assert sandbox.client.get(f"/v1/webhooks/{subscription['id']}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/h",
        "https://169.254.169.254/",
        "https://nothing.invalid/hook",
    ],
)
def test_live_subscriptions_refuse_unsafe_urls(operator: Operator, url: str) -> None:
    refused = operator.client.post("/v1/webhooks", json={"url": url, "events": ["*"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    assert operator.client.get("/v1/webhooks").json()["data"] == []


def test_a_live_subscription_cannot_be_moved_to_an_unsafe_url(operator: Operator) -> None:
    subscription = _subscribe(operator, "https://93.184.215.14/hook", ["*"])
    for url in ("https://localhost/hook", "https://10.1.2.3/h", "http://93.184.215.14/hook"):
        refused = operator.client.patch(f"/v1/webhooks/{subscription['id']}", json={"url": url})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url"
    assert operator.client.get(f"/v1/webhooks/{subscription['id']}").json()["url"] == "https://93.184.215.14/hook"


def test_before_each_attempt_a_host_that_does_not_resolve_is_retried_and_a_private_one_refused(
    stack: Stack, operator: Operator
) -> None:
    """Their DNS changed since they subscribed, played by changing their URLs in the database (the API
    would refuse both): a name gone from DNS may come back, a private address will not turn public."""
    unresolved, private = "https://nothing.invalid/hook", "https://10.1.2.3/hook"
    subscriptions = {url: _subscribe(operator, "https://93.184.215.14/hook") for url in (unresolved, private)}
    db = Database(load_settings({"DATABASE_URL": stack.database_url}))

    async def move() -> None:
        async with db.transaction() as session:
            for url, subscription in subscriptions.items():
                moved = update(WebhookEndpoint).where(col(WebhookEndpoint.id) == subscription["id"]).values(url=url)
                await session.execute(moved)
        await db.dispose()

    def log(url: str) -> list[dict[str, Any]]:
        return operator.client.get(f"/v1/webhooks/{subscriptions[url]['id']}/deliveries").json()["data"]  # type: ignore[no-any-return]

    asyncio.run(move())
    box = operator.lootbox()
    assert operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": operator.player()}).status_code == 201
    try:
        wait_until(lambda: len(log(unresolved)[0]["attempts"]) >= 2, what="a second attempt")
        wait_until(lambda: log(private)[0]["status"] == "failed", what="the refused delivery")
        (retried,), (refused,) = log(unresolved), log(private)
    finally:
        for subscription in subscriptions.values():
            operator.client.delete(f"/v1/webhooks/{subscription['id']}")
    assert retried["status"] == "pending" and retried["next_attempt_at"] is not None
    errors = {(attempt["status_code"], attempt["error"]) for attempt in retried["attempts"]}
    assert errors == {(None, "ConnectError: host 'nothing.invalid' does not resolve")}
    assert [attempt["error"] for attempt in refused["attempts"]] == [
        "refused: live webhooks cannot target loopback, private, link-local or reserved addresses"
    ]


def test_unknown_event_types_are_refused(sandbox: Operator) -> None:
    refused = sandbox.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["lootbox.exploded"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "events"


def test_sweep_delivers_events_whose_message_was_lost(stack: Stack, sandbox: Operator) -> None:
    """A crash between commit and enqueue, played by freezing the webhook worker and flushing Redis."""
    with receiver() as hooks:
        _subscribe(sandbox, hooks.url)
        username = sandbox.player()
        box = sandbox.lootbox()
        stack.webhooks.send(signal.SIGSTOP)
        try:
            sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
            redis.Redis.from_url(stack.redis_url).flushall()  # the delivery message is gone
        finally:
            stack.webhooks.send(signal.SIGCONT)
        received = hooks.wait_for(1, timeout=20)
    assert len(received) >= 1 and json.loads(received[0].body)["type"] == "lootbox.opened"


def test_the_deliveries_of_a_deleted_subscription_are_not_queued_again(stack: Stack, sandbox: Operator) -> None:
    """A delivery retried when its subscription was deleted stays pending; the sweep sent it again every grace
    period for ever (each time to no effect), and such deliveries took places in its batch."""
    with receiver(script=[500] * 20) as hooks:
        subscription = _subscribe(sandbox, hooks.url, ["player.created"])
        sandbox.player()
        hooks.wait_for(1)
        assert sandbox.client.delete(f"/v1/webhooks/{subscription['id']}").status_code == 204
    db = Database(load_settings({"DATABASE_URL": stack.database_url}))

    async def due() -> list[object]:
        async with db.reader() as session:
            found = await session.execute(
                select(WebhookDelivery.next_attempt_at).where(WebhookDelivery.endpoint_id == subscription["id"])
            )
            return list(found.scalars())

    async def twice() -> tuple[list[object], list[object]]:
        try:
            await asyncio.sleep(1)  # an attempt begun before the deletion records its answer
            before = await due()
            await asyncio.sleep(float(FAST_SETTINGS["OUTBOX_GRACE"]) * 2.5)  # overdue, then the sweep's passes
            return before, await due()
        finally:
            await db.dispose()

    before, after = asyncio.run(twice())
    assert len(before) == 1 and after == before


def test_a_delivery_waiting_behind_a_stalled_worker_is_sent_again_once_per_grace_period(
    stack: Stack, sandbox: Operator
) -> None:
    """The sweep re-sends a delivery that waited past the grace period (2 s here), then waits another grace
    period: not a message at each pass (every 0.2 s here) into the queue it is waiting in. Sent once."""
    queue = redis.Redis.from_url(stack.redis_url)

    def queued(delivery_id: str) -> int:
        """The messages waiting in the webhooks queue for this delivery (other tests' may be there too)."""
        found = [
            queue.hget("wowsino:webhooks.msgs", message_id) for message_id in queue.lrange("wowsino:webhooks", 0, -1)
        ]
        return sum(json.loads(data)["args"][0] == delivery_id for data in found if data is not None)

    with receiver() as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        box = sandbox.lootbox()
        stack.webhooks.send(signal.SIGSTOP)
        try:
            opened = sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": sandbox.player()})
            assert opened.status_code == 201, opened.text
            (delivery,) = sandbox.client.get(f"/v1/webhooks/{subscription['id']}/deliveries").json()["data"]
            wait_until(lambda: queued(delivery["id"]) >= 2, what="the sweep to send the delivery again")
            time.sleep(1.5)  # seven more passes, within the next grace period
            assert queued(delivery["id"]) == 2  # the first message and the one sent again
        finally:
            stack.webhooks.send(signal.SIGCONT)
        assert len(hooks.wait_for(1)) == 1
        time.sleep(1)
        assert len(hooks.received) == 1  # the message sent again finds the attempt made


def test_rotated_secret_sends_both_signatures_for_a_day(sandbox: Operator) -> None:
    with receiver() as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        rotate = f"/v1/webhooks/{subscription['id']}/rotate-secret"
        rotated = sandbox.client.post(rotate, json={"idempotency_key": "r1"})
        assert rotated.status_code == 201
        retried = sandbox.client.post(rotate, json={"idempotency_key": "r1"})  # a retry must not rotate again
        assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
        assert retried.json() == rotated.json()
        new_secret = str(rotated.json()["signing_secret"])
        assert new_secret != subscription["signing_secret"] and "previous_secret_expires_at" in rotated.json()
        username = sandbox.player()
        box = sandbox.lootbox()
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        delivered = hooks.wait_for(1)[0]
    assert len(delivered.headers["webhook-signature"].split()) == 2
    Webhook(new_secret).verify(delivered.body, delivered.headers)  # receivers on the new secret
    Webhook(str(subscription["signing_secret"])).verify(delivered.body, delivered.headers)  # and still on the old
    assert "signing_secret" not in sandbox.client.get(f"/v1/webhooks/{subscription['id']}").json()


def test_redeliver_every_failed_delivery_since_a_time(sandbox: Operator) -> None:
    with receiver(script=[400, 400]) as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        username = sandbox.player()
        box = sandbox.lootbox()
        for _ in range(2):
            sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        hooks.wait_for(2)
        deliveries = f"/v1/webhooks/{subscription['id']}/deliveries"
        wait_until(
            lambda: {d["status"] for d in sandbox.client.get(deliveries).json()["data"]} == {"failed"}, what="failures"
        )
        redeliver = f"/v1/webhooks/{subscription['id']}/redeliver"
        request = {"since": "2000-01-01T00:00:00Z", "idempotency_key": "once"}
        again = sandbox.client.post(redeliver, json=request)
        assert again.status_code == 202 and again.json() == {"redelivered": 2}
        retried = sandbox.client.post(redeliver, json=request)  # replayed: nothing is queued again
        assert retried.headers["idempotent-replayed"] == "true" and retried.json() == {"redelivered": 2}
        hooks.wait_for(4)
        wait_until(
            lambda: {d["status"] for d in sandbox.client.get(deliveries).json()["data"]} == {"succeeded"},
            what="redelivery",
        )
    assert sorted(hit.answered for hit in hooks.received) == [200, 200, 400, 400]


def test_redirects_are_not_followed(sandbox: Operator) -> None:
    """A receiver that redirects (here to a metadata address) gets the delivery failed, never followed."""
    with receiver(script=[302]) as hooks:
        subscription = _subscribe(sandbox, hooks.url)
        username = sandbox.player()
        box = sandbox.lootbox()
        sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
        hooks.wait_for(1)
        deliveries = f"/v1/webhooks/{subscription['id']}/deliveries"
        wait_until(lambda: sandbox.client.get(deliveries).json()["data"][0]["status"] == "failed", what="failure")
        hooks.wait_for(2, timeout=1.5)
    assert [hit.answered for hit in hooks.received] == [302]


def test_deliveries_keep_their_connection_open_and_send_no_cookie(sandbox: Operator) -> None:
    """A worker posts one receiver's deliveries over one kept connection (one client per process, not one
    per delivery), and never sends back the cookie a receiver set."""
    with receiver() as hooks:
        _subscribe(sandbox, hooks.url)
        box = sandbox.lootbox()
        for count in range(1, 4):
            opened = sandbox.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": sandbox.player()})
            assert opened.status_code == 201, opened.text
            received = hooks.wait_for(count)
            assert len(received) == count
    assert len({delivered.peer for delivered in received}) == 1
    assert all("cookie" not in delivered.headers for delivered in received)
