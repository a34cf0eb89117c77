"""Journeys: ordered steps advanced by triggers, each event counted once, rewards granted once."""

from __future__ import annotations

import json

import httpx

from tests.support.api import Operator, provision
from tests.support.processes import wait_until
from tests.support.receiver import receiver
from tests.support.stack import Stack

STEPS = [{"trigger": "login", "count": 2, "reward_winz": 10}, {"trigger": "deposit", "count": 1}]


def test_steps_advance_in_order_and_complete_once(stack: Stack, admin: httpx.Client) -> None:
    sandbox = provision(admin, stack.url, mode="test")
    with receiver() as hooks:
        sandbox.client.post("/v1/webhooks", json={"url": hooks.url, "events": ["journey.completed"]})
        username = sandbox.player()
        journey = sandbox.client.post(
            "/v1/journeys", json={"name": "Welcome", "steps": STEPS, "reward_winz": 100}
        ).json()
        progress = f"/v1/journeys/{journey['id']}/progress/{username}"

        def fire(trigger: str, source: str) -> None:
            body = {"user_id": username, "trigger": trigger, "source_event_id": source}
            assert sandbox.client.post("/v1/journeys/event", json=body).status_code == 202

        fire("deposit", "e0")  # not the current step: ignored
        fire("login", "e1")
        fire("login", "e1")  # the same event again: counted once
        wait_until(lambda: sandbox.client.get(progress).json()["steps"][0]["progress"] == 1, what="first login")
        fire("login", "e2")
        wait_until(lambda: sandbox.client.get(progress).json()["current_step"] == 1, what="step one done")
        assert sandbox.balance(username) == 10
        fire("deposit", "e3")
        wait_until(lambda: sandbox.client.get(progress).json()["completed"], what="completion")
        fire("deposit", "e4")
        event = json.loads(hooks.wait_for(1)[0].body)
        hooks.wait_for(2, timeout=1.5)
    assert len(hooks.received) == 1
    assert sandbox.balance(username) == 110
    assert event["data"] == {
        "journey_id": journey["id"],
        "journey_name": "Welcome",
        "user": username,
        "reward_winz_granted": 100,
    }


def test_unknown_player_or_bad_trigger_is_refused(operator: Operator) -> None:
    assert operator.client.post("/v1/journeys/event", json={"user_id": "ghost", "trigger": "login"}).status_code == 404
    username = operator.player()
    refused = operator.client.post("/v1/journeys/event", json={"user_id": username, "trigger": "bad trigger!"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "trigger"
    steps = operator.client.post("/v1/journeys", json={"name": "x", "steps": []})
    assert steps.status_code == 400 and steps.json()["errors"][0]["field"] == "steps"


def test_an_event_without_a_source_id_counts_once_per_idempotency_key(operator: Operator) -> None:
    """A retry with the same key is the same event, alone or in a batch; without a key each post counts."""
    username = operator.player()
    steps = [{"trigger": "spin", "count": 10}]
    journey = operator.client.post("/v1/journeys", json={"name": "Spins", "steps": steps, "reward_winz": 1}).json()
    progress = f"/v1/journeys/{journey['id']}/progress/{username}"
    keyed = {"user_id": username, "trigger": "spin", "idempotency_key": "spin-1"}
    first = operator.client.post("/v1/journeys/event", json=keyed)
    again = operator.client.post("/v1/journeys/event", json=keyed)
    assert first.json()["deduped"] is False and again.json()["deduped"] is True
    batch = [{"type": "journey.event", **keyed}, {"type": "journey.event", **keyed, "idempotency_key": "spin-2"}]
    results = operator.client.post("/v1/events/batch", json={"events": batch}).json()["results"]
    assert [item["status"] for item in results] == ["duplicate", "accepted"]
    for _ in range(2):  # no key: each post is an event of its own
        operator.client.post("/v1/journeys/event", json={"user_id": username, "trigger": "spin"})
    wait_until(lambda: operator.client.get(progress).json()["steps"][0]["progress"] == 4, what="four spins")
