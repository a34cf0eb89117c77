"""Authentication and scopes.

A route names the scope it needs in ``opt={"scope": ...}``; the ``principal`` dependency checks the
bearer key and that scope. Resolved keys are cached in Redis (never in the process) for a minute and
the cache entry is deleted on revocation, so a revoked key fails on every API process at once.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import time
from typing import Any

from litestar import Request

from api.state import AppState
from models.errors import Forbidden, RateLimited, Unauthorized
from models.tenancy import KEY_PATTERN, Principal, find_principal, hash_key

CACHE_TTL_S = 60


def cache_key(key_hash: str) -> str:
    return f"wowsino:apikey:{key_hash}"


def app_state(request: Request[Any, Any, Any]) -> AppState:
    return request.app.state.wowsino  # type: ignore[no-any-return]


def _bearer(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    return token.strip()


async def authenticate(state: AppState, key: str) -> Principal:
    """The key's principal, counting the request against the key's per-second limit (shared by every
    API process: the count is one ``INCR`` in Redis, sent in the same round trip as the cache read)."""
    if not KEY_PATTERN.match(key):
        raise Unauthorized("malformed API key")
    digest = hash_key(key)
    window = f"wowsino:rate:{digest}:{int(time.time())}"
    async with state.redis.pipeline(transaction=False) as pipe:
        pipe.get(cache_key(digest))
        pipe.incr(window)
        pipe.expire(window, 2)
        cached, count, _ = await pipe.execute()
    if cached is not None:
        fields = json.loads(cached)
        principal = Principal(**{**fields, "scopes": tuple(fields["scopes"])})
    else:
        async with state.db.reader() as session:
            found = await find_principal(session, key)
        if found is None:
            raise Unauthorized("unknown or revoked API key")
        principal = found
        await state.redis.set(cache_key(digest), json.dumps(dataclasses.asdict(principal)), ex=CACHE_TTL_S)
    if count > (principal.rate_limit_per_second or state.settings.rate_limit_per_second):
        raise RateLimited("rate limit exceeded for this API key; retry after the indicated seconds", retry_after=1)
    return principal


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller's principal, with the route's scope checked."""
    principal = await authenticate(app_state(request), _bearer(request))
    scope = request.route_handler.opt.get("scope")
    if scope and not principal.allows(scope):
        raise Forbidden(f"this key lacks the {scope!r} scope")
    return principal


async def provide_admin(request: Request[Any, Any, Any]) -> None:
    """Refuse anything but the platform admin token."""
    expected = app_state(request).settings.admin_token or ""
    given = _bearer(request)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("admin token required")
