"""Whatever a client sends, the answer is a 4xx problem naming the field, never a 500, and nothing changes."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support.api import Operator
from tests.support.stack import Stack


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"username": "a", "username": 5}', "username"),
        (b'{"username": NaN}', "body"),
        (b'{"username": "a", "email": Infinity}', "body"),
        (b'{"username": "a", "country_code": 1e999}', "body"),
        (b'{"username": "a", "external_ref": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body"),
        ('{"username": "\u00e9l\u00e8ve"}'.encode(), "username"),
    ],
)
def test_malformed_bodies_get_a_problem(operator: Operator, raw: bytes, field: str) -> None:
    response = operator.client.post("/v1/players", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == response.status_code and {"type", "title", "detail"} <= set(problem)
    assert field in {error["field"] for error in problem.get("errors", [{"field": "body"}])}


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "x", "idempotency_key": ""},
        {"user_id": "x", "idempotency_key": "k" * 256},
        {"user_id": "x", "idempotency_key": "tab\tkey"},
        {"user_id": "x", "client_seed": ""},
        {"user_id": "x", "surprise": 1},
        {"user_id": 12},
        {},
    ],
)
def test_bad_open_requests_name_the_field(operator: Operator, body: dict[str, object]) -> None:
    username = operator.player("x")
    box = operator.lootbox()
    response = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] in {"idempotency_key", "client_seed", "surprise", "user_id"}
    assert operator.balance(username) == 0


def test_a_write_without_a_body_is_told_it_needs_one(operator: Operator) -> None:
    for path in ("/v1/players", "/v1/lootbox", "/v1/events/batch"):
        response = operator.client.post(path, content=b"", headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["errors"] == [{"field": "body", "message": "a JSON body is required"}]


def test_oversized_body_is_413(operator: Operator) -> None:
    response = operator.client.post("/v1/players", content=b'{"username": "' + b"a" * 2_000_000 + b'"}')
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


def test_unknown_routes_and_methods_are_problems(stack: Stack, operator: Operator) -> None:
    missing = operator.client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["type"] == "not-found"
    wrong = operator.client.put("/v1/players")
    assert wrong.status_code == 405 and wrong.headers["content-type"].startswith("application/problem+json")


def test_pagination_parameters_are_checked(operator: Operator) -> None:
    username = operator.player()
    assert operator.client.get(f"/v1/players/{username}/ledger", params={"limit": 0}).status_code == 422
    assert operator.client.get(f"/v1/players/{username}/ledger", params={"limit": "many"}).status_code == 400
    assert operator.client.get(f"/v1/players/{username}/ledger", params={"cursor": "!!"}).status_code == 422


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_this_api_did_not_return_is_refused(operator: Operator) -> None:
    """Postings are keyed by number, transactions by id: a key of the other type is refused too."""
    username = operator.player()
    postings, transactions = f"/v1/players/{username}/ledger", "/v1/ledger/transactions"
    moment = "2025-05-19T20:14:33Z"
    forged = [(listing, ["2025-05-19T20:14:33", 7]) for listing in (postings, transactions)]  # no time zone
    forged += [(listing, [moment, key]) for listing in (postings, transactions) for key in (True, {"id": 7}, None)]
    forged += [(listing, value) for listing in (postings, transactions) for value in ([moment], moment, 7)]
    forged += [(postings, [moment, "7"]), (postings, [moment, 10**30]), (transactions, [moment, 7])]
    for listing, value in forged:
        refused = operator.client.get(listing, params={"cursor": _cursor(value)})
        assert refused.status_code == 422, (listing, value, refused.text)
        assert refused.json()["errors"][0]["field"] == "cursor"
    for listing, value in ((postings, [moment, 7]), (transactions, [moment, "7"])):
        assert operator.client.get(listing, params={"cursor": _cursor(value)}).status_code == 200


def test_a_nul_character_is_refused_wherever_it_comes(stack: Stack, admin: httpx.Client, operator: Operator) -> None:
    """PostgreSQL's text cannot hold one: in a body, a path or a query it is a 4xx naming its field, on
    either database, and nothing is written."""
    nul = "a\x00b"
    prizes = [{"label": "small", "asset": "WINZ", "amount": 1, "weight": 1}]
    sent = [
        ("POST", "/v1/lootbox", {"name": nul, "prize_table": prizes}, "name"),
        ("POST", "/v1/lootbox", {"name": "box", "prize_table": [{**prizes[0], "label": nul}]}, "prize_table"),
        ("POST", "/v1/jackpots", {"name": nul, "currency": "USD", "seed_amount": "1"}, "name"),
        ("POST", "/v1/players", {"username": "nul1", "email": f"{nul}@example.com"}, "email"),
        ("POST", "/v1/players", {"username": "nul2", "external_ref": nul}, "external_ref"),
        ("POST", "/v1/webhooks", {"url": f"https://93.184.215.14/{nul}", "events": ["*"]}, "url"),
        ("GET", "/v1/players/a%00b", None, "username"),
        ("GET", "/v1/lootbox/a%00b", None, "engine_id"),
        ("GET", "/v1/ledger/transactions?kind=a%00b", None, "kind"),
    ]
    for method, path, body, field in sent:
        refused = operator.client.request(method, path, json=body)
        assert 400 <= refused.status_code < 500, (path, body, refused.text)
        assert field in refused.text, (path, body, refused.text)
    refused = admin.get("/tenants/a%00b")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "slug", refused.text
    for listing in ("/v1/lootbox", "/v1/jackpots", "/v1/webhooks"):
        assert operator.client.get(listing).json()["data"] == []
    assert operator.client.get("/v1/players/nul1").status_code == 404


def test_a_moment_outside_the_years_utc_can_hold_is_refused(operator: Operator) -> None:
    """Year 1 at +14:00 and year 9999 at -14:00 have a zone, but no UTC time to be stored or compared as."""
    early, late, now = "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2025-01-01T00:00:00Z"
    tournament = {"name": "t", "prizes": [{"rank_from": 1, "rank_to": 1, "prize_winz": 10}]}
    sent = [
        ("/v1/tournaments", {**tournament, "starts_at": early, "ends_at": now}, "starts_at"),
        ("/v1/tournaments", {**tournament, "starts_at": now, "ends_at": late}, "ends_at"),
        ("/v1/raffles", {"name": "r", "ticket_cost_winz": 1, "prize_winz": 10, "draw_at": late}, "draw_at"),
        ("/v1/webhooks/unknown/redeliver", {"since": early}, "since"),  # the body is read before the lookup
    ]
    for path, body, field in sent:
        refused = operator.client.post(path, json=body)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, (body, refused.text)
    for name, moment in (("since", early), ("until", late)):
        refused = operator.client.get("/v1/ledger/transactions", params={name: moment})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == name, refused.text
    refused = operator.client.get("/v1/ledger/transactions", params={"cursor": _cursor([early, "x"])})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "cursor", refused.text
    for listing in ("/v1/raffles", "/v1/tournaments"):
        assert operator.client.get(listing).json()["data"] == []


def test_an_amount_or_url_the_parsers_would_choke_on_is_refused(operator: Operator) -> None:
    """Exponents a decimal keeps but no rail holds (scaled, they overflowed: a 500), and a URL that
    ``urlsplit`` cannot split (a 500)."""
    huge = {"name": "J", "currency": "USD", "seed_amount": "1e999999999"}
    created = operator.client.post("/v1/jackpots", json=huge)
    assert created.status_code == 422 and created.json()["errors"][0]["field"] == "seed_amount", created.text
    jackpot = operator.client.post("/v1/jackpots", json={**huge, "seed_amount": "1"}).json()["id"]
    username = operator.player()
    event = {"type": "jackpot.contribute", "jackpot_id": jackpot, "user_id": username, "source_wager_id": "w"}
    batch = [{**event, "amount": "1e999999999"}, {**event, "amount": "1e-999999999", "source_wager_id": "v"}]
    results = operator.client.post("/v1/events/batch", json={"events": batch}).json()["results"]
    assert [(item["status"], item["error"]["field"]) for item in results] == [("rejected", "amount")] * 2
    single_body = {"user_id": username, "source_wager_id": "u", "amount": "-1e999999999"}
    single = operator.client.post(f"/v1/jackpots/{jackpot}/contribute", json=single_body)
    assert single.status_code == 422 and single.json()["errors"][0]["field"] == "amount", single.text
    refused = operator.client.post("/v1/webhooks", json={"url": "https://[abc/hook", "events": ["*"]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url", refused.text
    assert operator.client.get("/v1/webhooks").json()["data"] == []
    assert operator.client.get(f"/v1/jackpots/{jackpot}").json()["pool"] == "1"


def test_health_and_readiness(stack: Stack) -> None:
    assert httpx.get(f"{stack.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{stack.url}/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    schema = httpx.get(f"{stack.url}/schema/openapi.json").json()
    assert {"/v1/lootbox/{engine_id}/open", "/v1/mini-games/{engine_id}/play"} <= set(schema["paths"])
