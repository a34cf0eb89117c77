"""How an actor hands a draw's answer to the API process that waits for it, on any machine.

The answer is stored under the operation id (so a late reader finds it) and announced on a pub/sub
channel (so a waiting reader wakes at once): an announcement holds a line per operation answered
together, its id, a space and the answer itself (JSON, on one line), so the waiter needs no second read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis

from models.redis_client import Lua

CHANNEL = "wowsino:operations:done"
RESULT_TTL_S = 86400
RECORDED_RESULT_TTL_S = 600  # an outcome the database holds too: Redis keeps it for those waiting meanwhile


def result_key(operation_id: str) -> str:
    return f"wowsino:operations:{operation_id}"


def pending_key(owner: str, operation_id: str) -> str:
    """Marks an operation id as issued to *owner* (``tenant:mode``) until it is answered, so that polling it
    before then answers "pending" rather than "not found"."""
    return f"wowsino:pending:{owner}:{operation_id}"


# KEYS: the result keys, then as many pending markers; ARGV: the channel, then each operation's id, outcome
# and TTL. A script, so the answers of the draws that one transaction carried out go to Redis in one call,
# and out in one announcement: every API process reads every announcement, so one per draw would cost each
# of them a pub/sub message per draw of every process. An answered operation's pending marker goes.
_PUBLISH = Lua("""
local lines = {}
local count = #KEYS / 2
for i = 1, count do
  local id, outcome = ARGV[3 * i - 1], ARGV[3 * i]
  redis.call('set', KEYS[i], outcome, 'EX', ARGV[3 * i + 1])
  redis.call('del', KEYS[count + i])
  lines[i] = id .. ' ' .. outcome
end
redis.call('publish', ARGV[1], table.concat(lines, '\\n'))
return 0
""")


async def publish_result(redis: Redis, operation_id: str, outcome: dict[str, Any]) -> None:
    """Store and announce an outcome, ``{"owner", "status", "body", "deduped"}`` or ``{"owner", "error": {...}}``,
    whose owner (``tenant:mode``) names the operation's pending marker."""
    await publish_results(redis, [(operation_id, outcome)])


async def publish_results(
    redis: Redis, outcomes: Sequence[tuple[str, dict[str, Any]]], *, recorded: bool = False
) -> None:
    """``publish_result`` for many operations, in one script call. *recorded* says that the database holds
    each new answer among them under its operation id (a prize draw's idempotency record): Redis then keeps
    those for ``RECORDED_RESULT_TTL_S`` only, not a day (about 870 bytes each), and replays and polls read
    them from the database. Refusals, and answers found from an earlier operation, are kept a day."""
    if not outcomes:
        return
    args: list[Any] = [CHANNEL]
    for operation_id, outcome in outcomes:
        fresh = "error" not in outcome and not outcome.get("deduped")
        ttl_s = RECORDED_RESULT_TTL_S if recorded and fresh else RESULT_TTL_S
        args += [operation_id, msgspec.json.encode(outcome), ttl_s]
    keys = [result_key(operation_id) for operation_id, _ in outcomes]
    keys += [pending_key(outcome["owner"], operation_id) for operation_id, outcome in outcomes]
    await _PUBLISH(redis, keys, args)
