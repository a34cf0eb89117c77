"""Cheap existence checks for the ``202`` paths.

Pipeline events are answered before a worker sees them, so the API checks that the engine and the
player exist (and, for tournaments, the window) to give clear 404s and 409s. Engine facts are cached
in Redis (never in the process) for a minute and deleted by whatever changes the engine, so a paused
engine refuses events on every API process at once. Players are never deleted, so a player once
seen is remembered in the process too, and the next event for that player asks nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NotRequired, TypedDict

import msgspec
from litestar import Request
from sqlmodel import col, select

from api.auth import app_state
from api.state import AppState
from models.base import iso
from models.engines import EngineColumns, engine_cache_key, engine_rows
from models.errors import DomainError, NotFound
from models.players import Player, get_player
from models.tenancy import Principal

ENGINE_TTL_S = 60
PLAYER_TTL_S = 3600


class _Facts(TypedDict):
    """What the cache holds of an engine; an entry of another shape (an older version's) is read again."""

    kind: str
    scope: list[str]
    status: str
    starts_at: NotRequired[str]
    ends_at: NotRequired[str]
    currency: NotRequired[str]


_FACTS = msgspec.json.Decoder(_Facts)
_NEEDED = {"tournament": ("starts_at", "ends_at"), "jackpot": ("currency",)}  # what the routes read


async def engine_facts(
    request: Request[Any, Any, Any], principal: Principal, model: type[EngineColumns], noun: str, engine_id: str
) -> dict[str, Any]:
    """``{status, starts_at?, ends_at?, currency?}`` of an engine in the key's scope, or ``NotFound``.
    The cache entry was read with the key (``api.auth``) when the route names the engine."""
    state = app_state(request)
    read_with_key = request.scope["state"].get("engine_facts")
    if read_with_key is not None and read_with_key[0] == engine_id:
        cached = read_with_key[1]
    else:
        cached = await state.redis.get(engine_cache_key(engine_id))
    facts = _cached_facts(cached, principal, noun)
    if facts is not None:
        return facts
    loaded = (await _load_facts(state, principal, [(model, noun, engine_id)]))[noun, engine_id]
    if isinstance(loaded, DomainError):
        raise loaded
    return loaded


async def many_engine_facts(
    state: AppState, principal: Principal, wanted: Iterable[tuple[type[EngineColumns], str, str]]
) -> dict[tuple[str, str], dict[str, Any] | DomainError]:
    """``engine_facts`` of each distinct ``(model, noun, engine_id)``, keyed ``(noun, engine_id)``, with one
    ``MGET`` for all of them; an engine that cannot be used maps to its refusal instead of raising."""
    engines = sorted(set(wanted), key=lambda engine: (engine[1], engine[2]))
    if not engines:
        return {}
    cached = await state.redis.mget([engine_cache_key(engine_id) for _, _, engine_id in engines])
    found: dict[tuple[str, str], dict[str, Any] | DomainError] = {}
    missing = []
    for (model, noun, engine_id), raw in zip(engines, cached, strict=True):
        facts = _cached_facts(raw, principal, noun)
        if facts is None:
            missing.append((model, noun, engine_id))
        else:
            found[noun, engine_id] = facts
    return found | (await _load_facts(state, principal, missing) if missing else {})


def _cached_facts(cached: bytes | str | None, principal: Principal, noun: str) -> dict[str, Any] | None:
    """The cached facts, unless absent, cached for another scope or kind of engine, or of another shape."""
    if cached is None:
        return None
    try:
        facts = _FACTS.decode(cached)
    except msgspec.DecodeError:  # of another shape, so read again
        return None
    if (
        facts["scope"] == [principal.tenant_id, principal.mode, principal.brand_id]
        and facts["kind"] == noun
        and all(name in facts for name in _NEEDED.get(noun, ()))
    ):
        return dict(facts)
    return None


async def _load_facts(
    state: AppState, principal: Principal, engines: Sequence[tuple[type[EngineColumns], str, str]]
) -> dict[tuple[str, str], dict[str, Any] | DomainError]:
    """The facts of *engines* (``(model, noun, engine_id)``) read from the database, one statement per kind
    however many a batch names, and cached; ``NotFound`` for an engine not in the key's scope."""
    scope = [principal.tenant_id, principal.mode, principal.brand_id]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    async with state.db.reader() as session:
        for model, noun in sorted({(model, noun) for model, noun, _ in engines}, key=lambda kind: kind[1]):
            ids = [engine_id for _, kind, engine_id in engines if kind == noun]
            for engine in await engine_rows(
                session,
                model,
                tenant_id=principal.tenant_id,
                mode=principal.mode,
                brand_id=principal.brand_id,
                engine_ids=ids,
            ):
                facts: dict[str, Any] = {"kind": noun, "scope": scope, "status": engine.status}
                for name in ("starts_at", "ends_at", "currency"):
                    value = getattr(engine, name, None)
                    if value is not None:
                        facts[name] = value if isinstance(value, str) else iso(value)
                found[noun, engine.id] = facts
    async with state.redis.pipeline(transaction=False) as cache:
        for (_, engine_id), facts in found.items():
            cache.set(engine_cache_key(engine_id), msgspec.json.encode(facts), ex=ENGINE_TTL_S)
        await cache.execute()
    return {
        (noun, engine_id): found.get((noun, engine_id)) or NotFound(f"no {noun} {engine_id!r}")
        for _, noun, engine_id in engines
    }


async def require_player(state: AppState, principal: Principal, username: str, *, field: str = "user_id") -> None:
    """``NotFound`` (naming *field*) unless the player exists in the key's brand and mode."""
    player = (principal.brand_id, principal.mode, username)
    if player in state.known_players:
        return
    key = f"wowsino:player:{principal.brand_id}:{principal.mode}:{username}"
    if not await state.redis.exists(key):
        async with state.db.reader() as session:
            await get_player(session, principal, username, field=field)
        await state.redis.set(key, "1", ex=PLAYER_TTL_S)
    state.known_players.add(player)


async def existing_players(state: AppState, principal: Principal, usernames: set[str]) -> set[str]:
    """Which of *usernames* exist in the key's brand and mode: one Redis round trip, one query for misses."""
    names = sorted(name for name in usernames if (principal.brand_id, principal.mode, name) not in state.known_players)
    known = set(usernames) - set(names)
    if not names:
        return known
    keys = [f"wowsino:player:{principal.brand_id}:{principal.mode}:{name}" for name in names]
    cached = await state.redis.mget(keys)
    found = {name for name, hit in zip(names, cached, strict=True) if hit is not None}
    missing = [name for name in names if name not in found]
    if missing:
        async with state.db.reader() as session:
            rows = await session.execute(
                select(Player.username).where(
                    Player.brand_id == principal.brand_id,
                    Player.mode == principal.mode,
                    col(Player.username).in_(missing),
                )
            )
            fresh = set(rows.scalars())
        if fresh:
            async with state.redis.pipeline(transaction=False) as pipe:
                for name in fresh:
                    pipe.set(f"wowsino:player:{principal.brand_id}:{principal.mode}:{name}", "1", ex=PLAYER_TTL_S)
                await pipe.execute()
        found |= fresh
    for name in found:
        state.known_players.add((principal.brand_id, principal.mode, name))
    return found | known
