"""Authentication and scopes.

A route names the scope it needs in ``opt={"scope": ...}``; the ``principal`` dependency checks the
bearer key and that scope. Resolved keys are cached in Redis (never in the process) for a minute; on
revocation the entry becomes a mark that the key is revoked (``revoked_mark``), so a revoked key fails
on every API process at once, and a request that read the key from the database just before the
revocation committed cannot cache it again afterwards.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from api.state import AppState
from models.engines import engine_cache_key
from models.errors import Forbidden, RateLimited, Unauthorized
from models.redis_client import Lua
from models.tenancy import KEY_PATTERN, Principal, find_principal, hash_key

CACHE_TTL_S = 60
# KEYS: the key's cache entry, this second's request counter, [the cached facts of the route's engine].
# Returns {cached principal or nil, count, cached engine facts or nil}: a request on an engine's route
# learns in this one round trip everything its checks read from Redis.
_COUNT_AND_READ = Lua("""
local count = redis.call('incr', KEYS[2])
if count == 1 then redis.call('expire', KEYS[2], 2) end
local engine = false
if KEYS[3] then engine = redis.call('get', KEYS[3]) end
return {redis.call('get', KEYS[1]), count, engine}
""")
_PRINCIPAL = msgspec.json.Decoder(Principal)
REVOKED = b"revoked"
# KEYS: the key's cache entry. ARGV: the principal, the revoked mark, the TTL. Caches the principal unless
# the key was revoked since the request read it.
_CACHE_UNLESS_REVOKED = Lua("""
if redis.call('get', KEYS[1]) == ARGV[2] then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
""")


def cache_key(key_hash: str) -> str:
    return f"wowsino:apikey:{key_hash}"


def app_state(request: Request[Any, Any, Any]) -> AppState:
    return request.app.state.wowsino  # type: ignore[no-any-return]


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    return token.strip()


async def authenticate(state: AppState, key: str, engine_id: str | None = None) -> tuple[Principal, bytes | None]:
    """The key's principal, counting the request against the key's per-second limit (shared by every
    API process: the count is one ``INCR`` in Redis, in the same script as the cache read), and the
    cached facts of *engine_id* read in the same script (``api.lookups.engine_facts``)."""
    if not KEY_PATTERN.match(key):
        raise Unauthorized("malformed API key")
    digest = hash_key(key)
    window = f"wowsino:rate:{digest}:{int(time.time())}"
    keys = [cache_key(digest), window, *([engine_cache_key(engine_id)] if engine_id else [])]
    cached, count, engine = await _COUNT_AND_READ(state.redis, keys, [])
    if cached == REVOKED:
        raise Unauthorized("unknown or revoked API key")
    if (principal := _cached_principal(cached)) is None:
        async with state.db.reader() as session:
            found = await find_principal(session, key)
        if found is None:
            raise Unauthorized("unknown or revoked API key")
        principal = found
        await _CACHE_UNLESS_REVOKED(
            state.redis, [cache_key(digest)], [msgspec.json.encode(principal), REVOKED, CACHE_TTL_S]
        )
    if count > (principal.rate_limit_per_second or state.settings.rate_limit_per_second):
        raise RateLimited("rate limit exceeded for this API key; retry after the indicated seconds", retry_after=1)
    return principal, engine


def revoked_mark(key_hash: str) -> tuple[str, bytes, int]:
    """``SET`` arguments marking a revoked key's cache entry (name, value, seconds): the mark outlives any
    request that read the key before its revocation, which then leaves the mark in place."""
    return cache_key(key_hash), REVOKED, CACHE_TTL_S


def _cached_principal(cached: bytes | None) -> Principal | None:
    """The principal cached for a key, unless there is none or it is cached in a shape this version does
    not read (then the key is looked up again)."""
    if cached is None:
        return None
    try:
        return _PRINCIPAL.decode(cached)
    except msgspec.ValidationError:
        return None


def scopes_of(handler: Any) -> tuple[str, ...]:
    """The scopes a route takes, any one of them enough: ``opt={"scope": ...}`` names one, or a tuple of them."""
    named = handler.opt.get("scope")
    return (named,) if isinstance(named, str) else tuple(named or ())


async def require_key(request: Request[Any, Any, Any]) -> None:
    """Run before every route that takes a ``principal``: authenticate, count, check the route's scope.

    It runs before the body is read, so a caller without the right key never learns how its request
    would have been validated. (A ``before_request`` hook rather than a guard: Litestar copies the
    route handler for every guard it calls, about a fifth of what the guard cost in all.)
    """
    handler = request.route_handler
    if "principal" not in handler.parsed_fn_signature.parameters:
        return
    engine_id = request.path_params.get("engine_id")
    principal, engine = await authenticate(request.app.state.wowsino, _bearer(request), engine_id)
    scopes = scopes_of(handler)
    if scopes and not any(principal.allows(scope) for scope in scopes):
        raise Forbidden(f"this key lacks the {' or '.join(map(repr, scopes))} scope")
    state = request.scope["state"]  # the dict behind ``request.state``, without a wrapper built per access
    state["principal"] = principal
    if engine_id:
        state["engine_facts"] = (engine_id, engine)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal ``require_key`` authenticated."""
    principal: Principal = request.scope["state"]["principal"]
    return principal


async def require_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the platform administration routes: only the admin token passes."""
    expected = connection.app.state.wowsino.settings.admin_token or ""
    given = _bearer(connection)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("admin token required")
