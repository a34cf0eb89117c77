"""The live leaderboard of a tournament in a Redis sorted set, rebuilt exactly from the database.

Each player is one member ``"{reached_seq:020d}|{username}"`` scored ``-points``: ascending order is
most points first, and among equal totals the lower ``reached_seq`` (who got there first), because
Redis orders equal scores by member. Writes carry absolute totals and apply only when their total is
higher than the stored one: a player's total only grows (points are at least 1), so a late write or a
rebuild from an older read never moves a player backwards. (``reached_seq`` cannot order writes: two
transactions scoring one player at once may leave the later total with the earlier one's seq.) A
``ready`` flag marks a complete copy; without it, readers rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from redis.asyncio import Redis

# KEYS: zset, hash (username -> member); ARGV: username, member, score (-points)
_SET = """
local old = redis.call('hget', KEYS[2], ARGV[1])
if old then
  local score = redis.call('zscore', KEYS[1], old)
  if score and tonumber(score) <= tonumber(ARGV[3]) then return 0 end
  redis.call('zrem', KEYS[1], old)
end
redis.call('zadd', KEYS[1], ARGV[3], ARGV[2])
redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


def _keys(tournament_id: str) -> tuple[str, str, str]:
    base = f"wowsino:leaderboard:{tournament_id}"
    return f"{base}:ranks", f"{base}:members", f"{base}:ready"


def _member(username: str, seq: int) -> str:
    return f"{seq:020d}|{username}"


async def record(redis: Redis, tournament_id: str, standings: Iterable[tuple[str, int, int]]) -> None:
    """Apply ``(username, points, reached_seq)`` totals, the highest total winning per player."""
    ranks, members, _ = _keys(tournament_id)
    async with redis.pipeline(transaction=False) as pipe:
        for username, points, seq in standings:
            pipe.eval(_SET, 2, ranks, members, username, _member(username, seq), -points)
        await pipe.execute()


async def is_ready(redis: Redis, tournament_id: str) -> bool:
    return bool(await redis.exists(_keys(tournament_id)[2]))


async def mark_ready(redis: Redis, tournament_id: str) -> None:
    await redis.set(_keys(tournament_id)[2], "1")


async def page(redis: Redis, tournament_id: str, *, limit: int, around: str | None) -> list[dict[str, Any]] | None:
    """Ranked rows ``{rank, username, points}``; around a player if asked (None if they have no score)."""
    ranks, members, _ = _keys(tournament_id)
    start = 0
    if around is not None:
        member = await redis.hget(members, around)
        if member is None:
            return None
        rank = cast(int | None, await redis.zrank(ranks, member))
        if rank is None:
            return None
        start = max(0, rank - limit // 2)
    rows = cast(list[tuple[bytes, float]], await redis.zrange(ranks, start, start + limit - 1, withscores=True))
    return [
        {"rank": start + offset + 1, "username": member.decode().split("|", 1)[1], "points": int(-score)}
        for offset, (member, score) in enumerate(rows)
    ]
