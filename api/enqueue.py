"""Enqueueing Dramatiq messages from the async API in one Redis round trip, with an idempotency claim.

The Redis broker's enqueue is two commands (``HSET`` the message, ``RPUSH`` its id). Running them in
a Lua script together with ``SET NX`` of the claim makes "claimed" and "queued" one atomic fact: a
key can never be claimed without its message nor queued twice. A queued message is then written to
the database inbox before the request is answered, so a Redis that forgets it (flushed, lost) does
not lose it: the scheduler's sweep queues it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq

from actors.broker import NAMESPACE, bell_key
from api.state import AppState
from models.inbox import Queued
from models.redis_client import Lua

# KEYS: claim, queue hash, queue list, queue bell, [pending marker]; ARGV: claim value, ttl, message id,
# message data. The bell wakes an idle consumer (``actors.broker``): one item is enough, however many
# messages came.
_CLAIM_AND_ENQUEUE = Lua("""
if KEYS[1] ~= '' and not redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 0
end
redis.call('hset', KEYS[2], ARGV[3], ARGV[4])
redis.call('rpush', KEYS[3], ARGV[3])
redis.call('lpush', KEYS[4], '1')
redis.call('ltrim', KEYS[4], 0, 0)
if KEYS[5] then redis.call('set', KEYS[5], '1', 'EX', ARGV[2]) end
return 1
""")


# KEYS: queue hash, queue list, queue bell; ARGV: ttl, message id, message data, the claims one per line
# (sent as one argument: a thousand separate keys cost more to pack than the whole script takes to run).
# Returns a string with a "1" (new) or "0" per claim, one bulk reply. The message is queued when at
# least one claim was new (its other events are duplicates, no-ops).
_CLAIM_MANY_AND_ENQUEUE = Lua("""
local fresh = {}
local any = false
for claim in string.gmatch(ARGV[4], '[^\\n]+') do
  local new = redis.call('set', claim, '1', 'NX', 'EX', ARGV[1])
  fresh[#fresh + 1] = new and '1' or '0'
  any = any or new
end
if any then
  redis.call('hset', KEYS[1], ARGV[2], ARGV[3])
  redis.call('rpush', KEYS[2], ARGV[2])
  redis.call('lpush', KEYS[3], '1')
  redis.call('ltrim', KEYS[3], 0, 0)
end
return table.concat(fresh)
""")


@dataclass(frozen=True)
class Job:
    """One actor call, as ids and primitives; the actor takes ``inbox_id``, settling its inbox row."""

    actor: dramatiq.Actor[Any, Any]
    args: Sequence[Any]

    def encode(self) -> Queued:
        message_id = str(uuid.uuid4())  # the message's id, its id in the Redis queue and its inbox row's
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=self.actor.queue_name,
            actor_name=self.actor.actor_name,
            args=tuple(self.args),
            kwargs={"inbox_id": message_id},
            options={"redis_message_id": message_id},
            message_id=message_id,
        )
        return Queued(id=message_id, queue=f"{NAMESPACE}:{self.actor.queue_name}", data=message.encode())


async def claim_and_enqueue(
    state: AppState, job: Job, *, claim: str = "", value: str = "", pending: str | None = None
) -> bool:
    """Claim *claim* (if given) and enqueue *job* atomically, then keep it; False when the claim was taken."""
    queued = job.encode()
    keys = [claim, f"{queued.queue}.msgs", queued.queue, bell_key(queued.queue), *([pending] if pending else [])]
    ttl_s = state.settings.idempotency_ttl_s
    if not await _CLAIM_AND_ENQUEUE(state.redis, keys, [value, ttl_s, queued.id, queued.data]):
        return False
    await state.inbox.keep([queued])
    return True


async def claim_many_and_enqueue(state: AppState, job: Job, claims: Sequence[str]) -> list[bool]:
    """Claim every business id and queue *job* once, atomically, then keep it; which claims were new."""
    queued = job.encode()
    keys = [f"{queued.queue}.msgs", queued.queue, bell_key(queued.queue)]
    lines = "\n".join(claims)  # claim keys hold printable characters only (validated ids)
    flags = await _CLAIM_MANY_AND_ENQUEUE(
        state.redis, keys, [state.settings.idempotency_ttl_s, queued.id, queued.data, lines]
    )
    fresh = [flag == ord("1") for flag in flags]
    if any(fresh):
        await state.inbox.keep([queued])
    return fresh
