"""Every route, taken from the OpenAPI document: no key is 401, a key without the route's scope is 403,
and another tenant's (or the other mode's) key gets 404 for this tenant's objects and never sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from config.settings import load_settings
from models.tenancy import SCOPES
from tests.support.api import Operator, grant, issue, provision
from tests.support.processes import wait_until
from tests.support.receiver import receiver
from tests.support.stack import Stack


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {name} placeholders
    scopes: tuple[str, ...]  # any one of them will do


def _routes() -> list[Route]:
    """Every operation of the OpenAPI document that takes an API key, with the scope its security names."""
    document = create_app(load_settings({"WOWSINO_ADMIN_TOKEN": "x" * 32})).openapi_schema.to_schema()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            keyed = (
                [r["apiKey"] for r in operation.get("security", []) if "apiKey" in r]
                if isinstance(operation, dict)
                else []
            )
            if keyed:
                found.append(Route(method.upper(), path, tuple(scope for scopes in keyed for scope in scopes)))
    return sorted(found, key=lambda route: (route.path, route.method))


ROUTES = _routes()
ENGINE_PREFIX = {
    "/v1/lootbox": "lootbox",
    "/v1/mini-games": "mini_game",
    "/v1/raffles": "raffle",
    "/v1/jackpots": "jackpot",
    "/v1/tournaments": "tournament",
    "/v1/journeys": "journey",
}


@dataclass
class World:
    owner: Operator
    ids: dict[str, str]
    player: str


@pytest.fixture(scope="module")
def world(stack: Stack, admin: httpx.Client) -> World:
    """A tenant with one of everything: the objects other keys must not reach."""
    owner = provision(admin, stack.url, mode="test")
    player = owner.player("owner-player")
    grant(owner, player, 1000)
    client = owner.client
    ids = {"lootbox": owner.lootbox()["id"]}
    prizes = [{"label": "a", "asset": "WINZ", "amount": 1, "weight": 1}]
    ids["mini_game"] = client.post("/v1/mini-games", json={"name": "g", "kind": "pick", "prize_table": prizes}).json()[
        "id"
    ]
    ids["raffle"] = client.post("/v1/raffles", json={"name": "r", "ticket_cost_winz": 1, "prize_winz": 1}).json()["id"]
    ids["jackpot"] = client.post("/v1/jackpots", json={"name": "j", "currency": "USD", "seed_amount": "1"}).json()["id"]
    window = {"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2999-01-01T00:00:00Z"}
    ids["tournament"] = client.post(
        "/v1/tournaments", json={"name": "t", **window, "prizes": [{"rank_from": 1, "rank_to": 1, "prize_winz": 1}]}
    ).json()["id"]
    ids["journey"] = client.post("/v1/journeys", json={"name": "j", "steps": [{"trigger": "x"}]}).json()["id"]
    with receiver() as hooks:
        ids["webhook"] = client.post("/v1/webhooks", json={"url": hooks.url, "events": ["*"]}).json()["id"]
        opened = client.post(f"/v1/lootbox/{ids['lootbox']}/open", json={"user_id": player}).json()
        hooks.wait_for(1)
    ids["operation"] = opened["open_id"]
    deliveries = f"/v1/webhooks/{ids['webhook']}/deliveries"
    wait_until(lambda: bool(client.get(deliveries).json()["data"]), what="a delivery")
    ids["delivery"] = client.get(deliveries).json()["data"][0]["id"]
    ids["player"] = client.get(f"/v1/players/{player}").json()["id"]
    return World(owner, ids, player)


def _url(route: Route, world: World) -> str:
    prefix = next((p for p in ENGINE_PREFIX if route.path.startswith(p + "/")), None)
    values = {
        "engine_id": world.ids[ENGINE_PREFIX[prefix]] if prefix else "",
        "webhook_id": world.ids["webhook"],
        "delivery_id": world.ids["delivery"],
        "operation_id": world.ids["operation"],
        "username": world.player,
    }
    return route.path.format(**values)


def _body(route: Route, world: World) -> dict[str, Any] | None:
    """A request that would succeed for the owner, so only the key decides the answer."""
    if route.method in {"GET", "DELETE"}:
        return None
    user = {"user_id": world.player}
    bodies = {
        "/v1/lootbox/{engine_id}/open": user,
        "/v1/mini-games/{engine_id}/play": user,
        "/v1/raffles/{engine_id}/enter": {**user, "tickets": 1},
        "/v1/jackpots/{engine_id}/contribute": {**user, "source_wager_id": "g1", "amount": "1"},
        "/v1/tournaments/{engine_id}/score": {**user, "source_wager_id": "g1", "points": 1},
        "/v1/journeys/event": {**user, "trigger": "x"},
        "/v1/webhooks/{webhook_id}/redeliver": {"since": "2000-01-01T00:00:00Z"},
        "/v1/webhooks/{webhook_id}": {"events": ["*"]},
        "/v1/events/batch": {"events": [{"type": "journey.event", **user, "trigger": "x"}]},
        "/v1/players": {"username": "guard-check"},
    }
    if route.method == "PATCH" and route.path.startswith(tuple(ENGINE_PREFIX)):
        return {"name": "renamed"}
    return bodies.get(route.path, {})


def _call(client: httpx.Client, route: Route, world: World) -> httpx.Response:
    return client.request(route.method, _url(route, world), json=_body(route, world))


def test_routes_were_found() -> None:
    assert len(ROUTES) > 40 and all(route.scopes for route in ROUTES if route.path != "/v1/me")
    assert next(r for r in ROUTES if r.path == "/v1/operations/{operation_id}").scopes == (
        "engines:read",
        "engines:play",
        "engines:write",
    )


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_no_key_is_401(stack: Stack, world: World, route: Route) -> None:
    response = httpx.request(route.method, stack.url + _url(route, world), json=_body(route, world))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.method in {"POST", "PATCH"}], ids=lambda route: f"{route.method} {route.path}"
)
def test_the_key_is_checked_before_the_body(stack: Stack, admin: httpx.Client, world: World, route: Route) -> None:
    """A caller without the right key learns nothing of how its body would have been validated."""
    url, broken, headers = _url(route, world), b"{not json", {"content-type": "application/json"}
    assert httpx.request(route.method, stack.url + url, content=broken, headers=headers).status_code == 401
    if route.scopes:
        lacking = issue(admin, stack.url, world.owner.slug, mode="test", scopes=sorted(SCOPES - {"*", *route.scopes}))
        assert lacking.client.request(route.method, url, content=broken, headers=headers).status_code == 403


@pytest.mark.parametrize("route", [r for r in ROUTES if r.scopes], ids=lambda route: f"{route.method} {route.path}")
def test_key_without_the_scope_is_403(stack: Stack, admin: httpx.Client, world: World, route: Route) -> None:
    others = sorted(SCOPES - {"*", *route.scopes})
    lacking = issue(admin, stack.url, world.owner.slug, mode="test", scopes=others)
    response = _call(lacking.client, route, world)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("mode", ["other tenant", "other mode"])
def test_other_tenants_and_modes_never_reach_these_objects(
    stack: Stack, admin: httpx.Client, world: World, mode: str
) -> None:
    intruder = (
        provision(admin, stack.url, mode="test")
        if mode == "other tenant"
        else issue(admin, stack.url, world.owner.slug)
    )
    intruder.client.post("/v1/players", json={"username": world.player})  # same name, its own player
    secrets = set(world.ids.values())
    for route in ROUTES:
        response = _call(intruder.client, route, world)
        assert response.status_code < 500, f"{route}: {response.text}"
        asked = _url(route, world)  # a 404 may name the id it was asked for, nothing more
        assert not any(secret in response.text and secret not in asked for secret in secrets), (
            f"{route}: {response.text}"
        )
        if "{" in route.path and route.path != "/v1/players/{username}":
            assert response.status_code == 404 or "{username}" in route.path, f"{route}: {response.status_code}"
    owner_view = world.owner.client.get(f"/v1/players/{world.player}").json()
    assert owner_view["balances"]["WINZ"] >= 1000  # nothing the intruder sent touched the owner's player


@pytest.mark.parametrize("mode", ["other tenant", "other mode"])
def test_a_batch_naming_the_engines_of_another_tenant_or_mode_reaches_none(
    stack: Stack, admin: httpx.Client, world: World, mode: str
) -> None:
    """The batch route names engines in its body, not its path: each event is refused as not found, and the
    owner's tournament and jackpot are untouched."""
    intruder = (
        provision(admin, stack.url, mode="test")
        if mode == "other tenant"
        else issue(admin, stack.url, world.owner.slug)
    )
    intruder.client.post("/v1/players", json={"username": world.player})  # same name, its own player
    wager = {"user_id": world.player, "source_wager_id": "intruder"}
    events = [
        {"type": "tournament.score", "tournament_id": world.ids["tournament"], **wager, "points": 5},
        {"type": "jackpot.contribute", "jackpot_id": world.ids["jackpot"], **wager, "amount": "1"},
    ]
    answered = intruder.client.post("/v1/events/batch", json={"events": events})
    assert answered.status_code == 202, answered.text
    assert [(result["status"], result["error"]["status"]) for result in answered.json()["results"]] == [
        ("rejected", 404),
        ("rejected", 404),
    ]
    owner = world.owner.client
    assert owner.get(f"/v1/tournaments/{world.ids['tournament']}/scores").json()["data"] == []
    assert owner.get(f"/v1/jackpots/{world.ids['jackpot']}/contributions").json()["data"] == []
