"""Keys: exact format, hashed at rest, scopes enforced, revocation effective at once on every API process."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from api.auth import _CACHE_UNLESS_REVOKED, CACHE_TTL_S, REVOKED, cache_key
from models.tenancy import hash_key
from tests.support.api import issue, provision
from tests.support.load import post_many
from tests.support.stack import ADMIN_TOKEN, Stack


def test_me_describes_the_key(stack: Stack, admin: httpx.Client) -> None:
    operator = provision(admin, stack.url, mode="test")
    assert operator.key.startswith("wsk_test_") and len(operator.key) == 9 + 48
    me = operator.client.get("/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "tenant": {"slug": operator.slug, "service_mode": "plug_in", "key_mode": "test", "scopes": ["*"]},
        "brand": {"slug": operator.slug},
    }


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic abc", "Bearer wsk_live_123", "Bearer wsk_live_" + "0" * 48, "Bearer wsk_prod_" + "0" * 48],
)
def test_missing_malformed_or_unknown_keys_get_401(stack: Stack, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{stack.url}/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_revoked_key_fails_at_once_on_every_api_process(stack: Stack, admin: httpx.Client) -> None:
    operator = provision(admin, stack.url)
    headers = {"Authorization": f"Bearer {operator.key}"}
    for port in stack.ports:  # warm each process's path (and the shared cache)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/me", headers=headers).status_code == 200
    entry = cache_key(hash_key(operator.key))
    principal = redis.Redis.from_url(stack.redis_url).get(entry)
    assert principal is not None
    assert admin.delete(f"/tenants/{operator.slug}/keys/{operator.key_id}").status_code == 204
    for port in stack.ports:
        assert httpx.get(f"http://127.0.0.1:{port}/v1/me", headers=headers).status_code == 401

    async def late_fill() -> None:  # a request that read the key from the database just before the revocation
        client = aioredis.Redis.from_url(stack.redis_url)
        await _CACHE_UNLESS_REVOKED(client, [entry], [principal, REVOKED, CACHE_TTL_S])
        await client.aclose()

    asyncio.run(late_fill())
    for port in stack.ports:
        assert httpx.get(f"http://127.0.0.1:{port}/v1/me", headers=headers).status_code == 401


def test_a_cached_key_in_a_shape_this_version_does_not_read_is_looked_up_again(
    stack: Stack, admin: httpx.Client
) -> None:
    """As after an upgrade that changed what a principal holds: the cache entry is not a principal any more."""
    operator = provision(admin, stack.url)
    assert operator.client.get("/v1/me").status_code == 200  # cached
    cache = redis.Redis.from_url(stack.redis_url)
    entry = cache_key(hash_key(operator.key))
    assert cache.get(entry) is not None
    cache.set(entry, b'{"key_id": "old", "scope": "*"}', ex=60)
    me = operator.client.get("/v1/me")
    assert me.status_code == 200 and me.json()["tenant"]["slug"] == operator.slug
    assert b'"tenant_slug"' in (cache.get(entry) or b"")  # cached again, in this version's shape


def test_scopes_are_enforced(stack: Stack, admin: httpx.Client) -> None:
    operator = provision(admin, stack.url, scopes=["players:read"])
    assert operator.client.post("/v1/players", json={"username": "nope"}).status_code == 403
    assert operator.client.get("/v1/lootbox").status_code == 403
    assert operator.client.get("/v1/players/nobody").status_code == 404
    writer = issue(admin, stack.url, operator.slug, scopes=["players:write"])
    assert writer.client.post("/v1/players", json={"username": "yes"}).status_code == 201


def test_admin_routes_need_the_admin_token(stack: Stack, admin: httpx.Client) -> None:
    operator = provision(admin, stack.url)
    assert operator.client.get("/tenants").status_code == 401
    assert httpx.get(f"{stack.url}/tenants").status_code == 401
    listed = admin.get("/tenants").json()["data"]
    assert operator.slug in {tenant["slug"] for tenant in listed}
    assert admin.get(f"/tenants/{operator.slug}").json()["brands"][0]["slug"] == operator.slug


def test_tenant_admin_refuses_duplicates_and_bad_input(stack: Stack, admin: httpx.Client) -> None:
    operator = provision(admin, stack.url)
    again = admin.post("/tenants", json={"slug": operator.slug, "service_mode": "plug_in", "brand": {"slug": "b"}})
    assert again.status_code == 409
    bad = admin.post("/tenants", json={"slug": "Bad Slug", "service_mode": "plug_in", "brand": {"slug": "b"}})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "slug"
    mode = admin.post(f"/tenants/{operator.slug}/keys", json={"brand": operator.slug, "mode": "prod"})
    assert mode.status_code == 400 and mode.json()["errors"][0]["field"] == "mode"
    brand = admin.post(f"/tenants/{operator.slug}/keys", json={"brand": "ghost", "mode": "live"})
    assert brand.status_code == 404
    assert admin.post(f"/tenants/{operator.slug}/brands", json={"slug": "second"}).status_code == 201
    assert admin.post(f"/tenants/{operator.slug}/brands", json={"slug": "second"}).status_code == 409
    assert issue(admin, stack.url, operator.slug).client.get("/v1/me").status_code == 200


def test_concurrent_creates_of_one_slug_make_one_tenant_and_one_brand(stack: Stack, admin: httpx.Client) -> None:
    bases = [f"http://127.0.0.1:{port}" for port in stack.ports]
    slug = "race-" + secrets.token_hex(4)
    tenant = {"slug": slug, "service_mode": "plug_in", "brand": {"slug": slug}}
    for path, body in (("/tenants", tenant), (f"/tenants/{slug}/brands", {"slug": "second"})):
        answers = post_many([(bases[i % 2] + path, body) for i in range(16)], ADMIN_TOKEN)
        assert sorted(answer.status_code for answer in answers) == [201] + [409] * 15, [a.text for a in answers]
        assert {answer.json()["errors"][0]["field"] for answer in answers if answer.status_code == 409} == {"slug"}
    assert [brand["slug"] for brand in admin.get(f"/tenants/{slug}").json()["brands"]] == [slug, "second"]


def test_keys_are_stored_hashed(stack: Stack, admin: httpx.Client) -> None:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    operator = provision(admin, stack.url)

    async def stored() -> list[str]:
        engine = create_async_engine(stack.database_url)
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT key_hash, prefix FROM api_keys"))
            values = [value for row in rows for value in row]
        await engine.dispose()
        return values

    values = asyncio.run(stored())
    assert operator.key not in values and operator.key[9:] not in " ".join(values)
