"""Mirroring players: idempotent on username, validated field by field, scoped to brand and mode."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.support.api import Operator, grant, issue
from tests.support.load import post_many
from tests.support.stack import Stack


def test_create_then_same_username_returns_the_existing_player(operator: Operator) -> None:
    body = {"username": "StarlordV7", "email": "sv7@example.com", "external_ref": "pam-1", "country_code": "US"}
    created = operator.client.post("/v1/players", json=body)
    assert created.status_code == 201
    again = operator.client.post("/v1/players", json={"username": "StarlordV7"})
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"] and again.json()["email"] == "sv7@example.com"
    shown = operator.client.get("/v1/players/StarlordV7").json()
    assert shown["balances"] == {} and shown["country_code"] == "US"
    grant(operator, "StarlordV7", 25)
    known = operator.client.post("/v1/players", json={"username": "StarlordV7"})
    assert known.status_code == 200 and known.json()["balances"] == {"WINZ": 25}, known.text


def test_concurrent_creates_of_one_username_on_both_api_processes_make_one_player(
    stack: Stack, operator: Operator
) -> None:
    bases = [f"http://127.0.0.1:{port}" for port in stack.ports]
    plain = {"username": "racer_" + secrets.token_hex(4)}
    answers = post_many([(f"{bases[i % 2]}/v1/players", plain) for i in range(20)], operator.key)
    assert sorted(answer.status_code for answer in answers) == [200] * 19 + [201], [a.text for a in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1

    keyed = {"username": "racer_" + secrets.token_hex(4), "idempotency_key": secrets.token_hex(8)}
    answers = post_many([(f"{bases[i % 2]}/v1/players", keyed) for i in range(20)], operator.key)
    assert {answer.status_code for answer in answers} == {201}, [a.text for a in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert sum(answer.headers.get("Idempotent-Replayed") != "true" for answer in answers) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "bad name"}, "username"),
        ({"username": "x" * 65}, "username"),
        ({"username": "ok", "email": "not-an-email"}, "email"),
        ({"username": "ok", "country_code": "us"}, "country_code"),
        ({"username": "ok", "country_code": "XX"}, "country_code"),
        ({"username": "ok", "role": "admin"}, "role"),
        ({"email": "a@b.co"}, "username"),
        ({"username": 7}, "username"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_created(operator: Operator, body: dict[str, object], field: str) -> None:
    response = operator.client.post("/v1/players", json=body)
    assert response.status_code in (400, 422)
    problem = response.json()
    assert problem["status"] == response.status_code and problem["title"] and problem["detail"]
    assert field in {error["field"] for error in problem["errors"]}
    assert operator.client.get("/v1/players/ok").status_code == 404


def test_players_are_per_brand_and_mode(stack: Stack, admin: httpx.Client, operator: Operator) -> None:
    operator.player("shared-name")
    sandbox = issue(admin, stack.url, operator.slug, mode="test")
    assert sandbox.client.get("/v1/players/shared-name").status_code == 404
    assert sandbox.client.post("/v1/players", json={"username": "shared-name"}).status_code == 201


def test_an_idempotency_key_another_brand_used_never_replays_its_player(
    stack: Stack, admin: httpx.Client, operator: Operator
) -> None:
    """Keys are scoped to the tenant: the same key from another brand's API key is another request."""
    assert admin.post(f"/tenants/{operator.slug}/brands", json={"slug": f"{operator.slug}-b"}).status_code == 201
    issued = admin.post(f"/tenants/{operator.slug}/keys", json={"brand": f"{operator.slug}-b", "mode": "live"}).json()
    other = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {issued['key']}"})
    body = {"username": "bob", "email": "bob@brand-a.example", "idempotency_key": "create-bob"}
    assert operator.client.post("/v1/players", json=body).status_code == 201
    reused = other.post("/v1/players", json=body)
    assert reused.status_code == 422 and reused.json()["type"] == "idempotency-key-reused", reused.text
    assert other.get("/v1/players/bob").status_code == 404
    assert other.post("/v1/players", json={**body, "idempotency_key": "b-bob"}).status_code == 201
    other.close()


def test_fairness_shows_the_next_commitment(operator: Operator) -> None:
    username = operator.player()
    fairness = operator.client.get(f"/v1/players/{username}/fairness").json()
    assert set(fairness) == {"server_seed_hash", "client_seed", "nonce"}
    assert fairness["nonce"] == 0 and fairness["client_seed"] == username and len(fairness["server_seed_hash"]) == 64


def test_unknown_player_is_404_problem(operator: Operator) -> None:
    response = operator.client.get("/v1/players/ghost")
    assert response.status_code == 404 and response.json()["type"] == "not-found"
    assert operator.client.get("/v1/players/ghost/ledger").status_code == 404
