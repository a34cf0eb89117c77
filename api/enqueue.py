"""Enqueueing Dramatiq messages from the async API in one Redis round trip, with an idempotency claim.

The Redis broker's enqueue is two commands (``HSET`` the message, ``RPUSH`` its id). Running them in
a Lua script together with ``SET NX`` of the claim makes "claimed" and "queued" one atomic fact: a
key can never be claimed without its message nor queued twice. A queued message is then written to
the database inbox before the request is answered, so a Redis that forgets it (flushed, lost) does
not lose it: the scheduler's sweep queues it again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dramatiq
import msgspec
from redis.asyncio import Redis

from actors.broker import NAMESPACE, bell_key, encoded, queue_lua
from models.gathering import Gatherer
from models.inbox import Queued
from models.redis_client import Lua

if TYPE_CHECKING:
    from api.inbox import InboxWriter
    from api.state import AppState

# KEYS: claim, queue hash, queue list, queue bell, [pending marker]; ARGV: claim value, ttl, message id,
# message data. The bell wakes an idle consumer (``actors.broker``).
_CLAIM_AND_ENQUEUE = Lua(
    """
if KEYS[1] ~= '' and not redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 0
end
"""
    + queue_lua(2, "ARGV[3]", "ARGV[4]")
    + """
if KEYS[5] then redis.call('set', KEYS[5], '1', 'EX', ARGV[2]) end
return 1
"""
)


# KEYS: queue hash, queue list, queue bell; ARGV: ttl, message id, message data, the claims one per line
# (sent as one argument: a thousand separate keys cost more to pack than the whole script takes to run).
# Returns a string with a "1" (new) or "0" per claim, one bulk reply. The message is queued when at
# least one claim was new (its other events are duplicates, no-ops).
_CLAIM_MANY_AND_ENQUEUE = Lua(
    """
local fresh = {}
local any = false
for claim in string.gmatch(ARGV[4], '[^\\n]+') do
  local new = redis.call('set', claim, '1', 'NX', 'EX', ARGV[1])
  fresh[#fresh + 1] = new and '1' or '0'
  any = any or new
end
if any then
"""
    + queue_lua(1, "ARGV[2]", "ARGV[3]")
    + """
end
return table.concat(fresh)
"""
)


# KEYS: queue hash, queue list, queue bell, then each job's claim and pending marker (or ''); ARGV: ttl,
# message id, the message's text before and after its list of jobs, then each job's claim value and
# arguments (JSON). The message carries the jobs whose claims were new, if any. Returns a "1" (new) or "0"
# per job.
_CLAIM_EACH_AND_ENQUEUE = Lua(
    """
local chosen, fresh = {}, {}
for j = 1, (#KEYS - 3) / 2 do
  if redis.call('set', KEYS[2 + 2 * j], ARGV[3 + 2 * j], 'NX', 'EX', ARGV[1]) then
    if KEYS[3 + 2 * j] ~= '' then redis.call('set', KEYS[3 + 2 * j], '1', 'EX', ARGV[1]) end
    chosen[#chosen + 1] = ARGV[4 + 2 * j]
    fresh[j] = '1'
  else
    fresh[j] = '0'
  end
end
if #chosen > 0 then
"""
    + queue_lua(1, "ARGV[2]", "ARGV[3] .. table.concat(chosen, ',') .. ARGV[4]")
    + """
end
return table.concat(fresh)
"""
)
_SLOT = "(the batched jobs)"  # stands for the list of jobs in a batched message's text
MAX_JOBS_PER_MESSAGE = 64  # bounds a batched message's size, and what a worker runs again should it fail


@dataclass(frozen=True)
class Job:
    """One actor call, as ids and primitives; the actor takes ``inbox_id``, settling its inbox row.

    A batched job's *args* are one item of its actor's first and only argument, a list: the jobs waiting to be
    queued together go in one message (``Batches``). A batched job is always claimed (its idempotency key).
    """

    actor: dramatiq.Actor[Any, Any]
    args: Sequence[Any]
    batched: bool = False

    def encode(self) -> Queued:
        message_id = str(uuid.uuid4())  # the message's id, its id in the Redis queue and its inbox row's
        data = encoded(self.actor, message_id, tuple(self.args), {"inbox_id": message_id})
        return Queued(id=message_id, queue=f"{NAMESPACE}:{self.actor.queue_name}", data=data)


async def claim_and_enqueue(
    state: AppState, job: Job, *, claim: str = "", value: str = "", pending: str | None = None
) -> bool:
    """Claim *claim* (if given) and enqueue *job* atomically, then keep it; False when the claim was taken."""
    if job.batched:
        return await state.batches.claim_and_enqueue(job, claim, value, pending or "")
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


@dataclass
class _Claimed:
    job: Job
    claim: str
    value: str
    pending: str
    fresh: bool = False
    kept: asyncio.Future[None] | None = None  # its message's inbox commit


class Batches:
    """Queues this API process's batched jobs (``Job.batched``): the jobs submitted while one message is being
    queued share the next message (``models.gathering``), one script call for their claims and the message.

    A busy process sends a worker one message for several draws (up to ``MAX_JOBS_PER_MESSAGE``), so the
    worker's cost per message (fetching, handing it to a thread and to the event loop, acknowledging it) is
    shared; an idle one queues each at once. The next message need not wait for this one's inbox commit: each
    request waits for its own.
    """

    def __init__(self, redis: Redis, inbox: InboxWriter, ttl_s: int) -> None:
        self.redis = redis
        self.inbox = inbox
        self.ttl_s = ttl_s
        self.gatherer: Gatherer[_Claimed] = Gatherer(self._queue)
        self.keeping: set[asyncio.Task[None]] = set()  # inbox commits under way, kept from the garbage collector

    async def claim_and_enqueue(self, job: Job, claim: str, value: str, pending: str) -> bool:
        """Claim *claim* and queue *job* in the next message, atomically, then keep it; False when taken."""
        claimed = _Claimed(job, claim, value, pending)
        await self.gatherer.add([claimed])
        if claimed.kept is not None:
            await asyncio.shield(claimed.kept)  # a request given up leaves the commit to the others
        return claimed.fresh

    async def _queue(self, claims: list[_Claimed]) -> None:
        by_actor: dict[str, list[_Claimed]] = {}
        for claimed in claims:
            by_actor.setdefault(claimed.job.actor.actor_name, []).append(claimed)
        queued = [
            await self._queue_one(group[start : start + MAX_JOBS_PER_MESSAGE])
            for group in by_actor.values()
            for start in range(0, len(group), MAX_JOBS_PER_MESSAGE)
        ]
        if kept := [message for message in queued if message is not None]:
            keeping = asyncio.create_task(self.inbox.keep(kept))
            self.keeping.add(keeping)
            keeping.add_done_callback(self._kept)
            for claimed in claims:
                claimed.kept = keeping

    def _kept(self, task: asyncio.Task[None]) -> None:
        self.keeping.discard(task)
        if not task.cancelled():
            task.exception()  # raised in the requests still waiting; retrieved here for those given up

    async def _queue_one(self, claims: list[_Claimed]) -> Queued | None:
        """One message for *claims* (jobs of one actor), holding those whose claims were new."""
        template = Job(claims[0].job.actor, (_SLOT,)).encode()
        head, _, tail = template.data.partition(msgspec.json.encode(_SLOT))
        head, tail = head + b"[", b"]" + tail
        jobs = [msgspec.json.encode(list(claimed.job.args)) for claimed in claims]
        keys = [f"{template.queue}.msgs", template.queue, bell_key(template.queue)]
        args: list[Any] = [self.ttl_s, template.id, head, tail]
        for claimed, text in zip(claims, jobs, strict=True):
            keys += [claimed.claim, claimed.pending]
            args += [claimed.value, text]
        flags = await _CLAIM_EACH_AND_ENQUEUE(self.redis, keys, args)
        for claimed, flag in zip(claims, flags, strict=True):
            claimed.fresh = flag == ord("1")
        chosen = [text for claimed, text in zip(claims, jobs, strict=True) if claimed.fresh]
        if not chosen:
            return None
        return Queued(id=template.id, queue=template.queue, data=head + b",".join(chosen) + tail)
