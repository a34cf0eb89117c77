"""Cheap existence checks for the ``202`` paths.

Pipeline events are answered before a worker sees them, so the API checks that the engine and the
player exist (and, for tournaments, the window) to give clear 404s and 409s. Engine facts are cached
in Redis (never in the process) for a minute and deleted by whatever changes the engine, so a paused
engine refuses events on every API process at once. Players are never deleted, so a player once
seen is remembered in the process too, and the next event for that player asks nobody.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from api.state import AppState
from models.base import iso
from models.engines import EngineColumns, engine_cache_key, get_engine_row
from models.players import Player, get_player
from models.tenancy import Principal

ENGINE_TTL_S = 60
PLAYER_TTL_S = 3600


async def engine_facts(
    state: AppState, principal: Principal, model: type[EngineColumns], noun: str, engine_id: str
) -> dict[str, Any]:
    """``{status, starts_at?, ends_at?, currency?}`` of an engine in the key's scope, or ``NotFound``."""
    key = engine_cache_key(engine_id)
    cached = await state.redis.get(key)
    if cached is not None:
        facts: dict[str, Any] = json.loads(cached)
        if facts["scope"] == [principal.tenant_id, principal.mode, principal.brand_id] and facts["kind"] == noun:
            return facts
    async with state.db.reader() as session:
        engine = await get_engine_row(
            session,
            model,
            noun,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            brand_id=principal.brand_id,
            engine_id=engine_id,
        )
    facts = {"kind": noun, "scope": [principal.tenant_id, principal.mode, principal.brand_id], "status": engine.status}
    for name in ("starts_at", "ends_at", "currency"):
        value = getattr(engine, name, None)
        if value is not None:
            facts[name] = value if isinstance(value, str) else iso(value)
    await state.redis.set(key, json.dumps(facts), ex=ENGINE_TTL_S)
    return facts


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
    async with state.redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.exists(key)
        cached = await pipe.execute()
    found = {name for name, hit in zip(names, cached, strict=True) if hit}
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
