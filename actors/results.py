"""How an actor hands a draw's answer to the API process that waits for it, on any machine.

The answer is stored under the operation id (so a late reader finds it) and announced on a pub/sub
channel (so a waiting reader wakes at once).
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

CHANNEL = "wowsino:operations:done"
RESULT_TTL_S = 86400


def result_key(operation_id: str) -> str:
    return f"wowsino:operations:{operation_id}"


async def publish_result(redis: Redis, operation_id: str, outcome: dict[str, Any]) -> None:
    """Store and announce an outcome: ``{"status", "body", "deduped"}`` or ``{"error": {...}}``."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(result_key(operation_id), json.dumps(outcome), ex=RESULT_TTL_S)
        pipe.publish(CHANNEL, operation_id)
        await pipe.execute()
