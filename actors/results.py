"""How an actor hands a draw's answer to the API process that waits for it, on any machine.

The answer is stored under the operation id (so a late reader finds it) and announced on a pub/sub
channel (so a waiting reader wakes at once): the announcement is the operation id, a space and the
answer itself, so the waiter needs no second read.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from models.redis_client import Lua

CHANNEL = "wowsino:operations:done"
RESULT_TTL_S = 86400


def result_key(operation_id: str) -> str:
    return f"wowsino:operations:{operation_id}"


# KEYS: the result key; ARGV: the outcome, its TTL, the channel, the operation id. A script, so the
# answers of the draws that one transaction carried out go to Redis in one pipeline (``Lua``).
_PUBLISH = Lua("""
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
return redis.call('publish', ARGV[3], ARGV[4] .. ' ' .. ARGV[1])
""")


async def publish_result(redis: Redis, operation_id: str, outcome: dict[str, Any]) -> None:
    """Store and announce an outcome: ``{"status", "body", "deduped"}`` or ``{"error": {...}}``."""
    await _PUBLISH(redis, [result_key(operation_id)], [json.dumps(outcome), RESULT_TTL_S, CHANNEL, operation_id])
