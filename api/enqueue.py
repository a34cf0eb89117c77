"""Enqueueing Dramatiq messages from the async API in one Redis round trip, with an idempotency claim.

The Redis broker's enqueue is two commands (``HSET`` the message, ``RPUSH`` its id). Running them in
a Lua script together with ``SET NX`` of the claim makes "claimed" and "queued" one atomic fact: a
key can never be claimed without its message (which would lose the event for good) nor queued twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from redis.asyncio import Redis

NAMESPACE = "wowsino"

# KEYS: claim, queue hash, queue list, [pending marker]; ARGV: claim value, ttl, message id, message data.
_CLAIM_AND_ENQUEUE = """
if KEYS[1] ~= '' and not redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 0
end
redis.call('hset', KEYS[2], ARGV[3], ARGV[4])
redis.call('rpush', KEYS[3], ARGV[3])
if KEYS[4] then redis.call('set', KEYS[4], '1', 'EX', ARGV[2]) end
return 1
"""


# KEYS: queue hash, queue list, claims...; ARGV: ttl, message id, message data. Returns 1/0 per claim;
# the message is queued when at least one claim was new (its other events are duplicates, no-ops).
_CLAIM_MANY_AND_ENQUEUE = """
local fresh = {}
local any = false
for i = 3, #KEYS do
  local new = redis.call('set', KEYS[i], '1', 'NX', 'EX', ARGV[1])
  fresh[i - 2] = new and 1 or 0
  any = any or new
end
if any then
  redis.call('hset', KEYS[1], ARGV[2], ARGV[3])
  redis.call('rpush', KEYS[2], ARGV[2])
end
return fresh
"""


@dataclass(frozen=True)
class Job:
    """One actor call, as ids and primitives."""

    actor: dramatiq.Actor[Any, Any]
    args: Sequence[Any]

    def encode(self) -> tuple[str, bytes]:
        message_id = str(uuid.uuid4())
        message = self.actor.message_with_options(args=tuple(self.args), kwargs={})
        message = message.copy(options={**message.options, "redis_message_id": message_id})
        return message_id, message.encode()


async def claim_and_enqueue(
    redis: Redis, job: Job, *, claim: str = "", value: str = "", ttl_s: int = 86400, pending: str | None = None
) -> bool:
    """Claim *claim* (if given) and enqueue *job* atomically; False when the claim was already taken."""
    message_id, data = job.encode()
    queue = f"{NAMESPACE}:{job.actor.queue_name}"
    keys = [claim, f"{queue}.msgs", queue, *([pending] if pending else [])]
    done = await redis.eval(_CLAIM_AND_ENQUEUE, len(keys), *keys, value, ttl_s, message_id, data)  # type: ignore[misc]
    return bool(done)


async def claim_many_and_enqueue(redis: Redis, job: Job, claims: Sequence[str], *, ttl_s: int) -> list[bool]:
    """Claim every business id and queue *job* once, atomically; which claims were new, in order."""
    message_id, data = job.encode()
    queue = f"{NAMESPACE}:{job.actor.queue_name}"
    fresh = await redis.eval(  # type: ignore[misc]
        _CLAIM_MANY_AND_ENQUEUE, 2 + len(claims), f"{queue}.msgs", queue, *claims, ttl_s, message_id, data
    )
    return [bool(flag) for flag in fresh]
