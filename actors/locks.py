"""A Redis mutex that is owned: a random token, a short TTL renewed while held, compare-and-delete release.

A holder that dies stops renewing, so its lock expires within one TTL; a holder that stalls past the
TTL loses the lock, which is why the database (unique keys, guarded balance updates, the commitment's
compare-and-set) stays the last guard.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis

from models.redis_client import Lua

# Locks taken, renewed or released together, for one token: KEYS are the locks; ARGV the token (and the
# TTL in ms). Scripts, so that the calls of one event loop turn go to Redis in one write (``Lua``).
_TAKE_EACH = Lua("""
local taken = {}
for i, key in ipairs(KEYS) do taken[i] = redis.call('set', key, ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0 end
return taken
""")
_RELEASE_EACH = Lua("""
for _, key in ipairs(KEYS) do if redis.call('get', key) == ARGV[1] then redis.call('del', key) end end
return 0
""")
_RENEW_EACH = Lua("""
for _, key in ipairs(KEYS) do if redis.call('get', key) == ARGV[1] then redis.call('pexpire', key, ARGV[2]) end end
return 0
""")


class LockTimeout(Exception):
    """The lock stayed taken for longer than the caller would wait; the message is retried later."""


@asynccontextmanager
async def hold(redis: Redis, name: str, *, ttl_s: float, wait_s: float) -> AsyncIterator[None]:
    """Hold the lock *name* for the body of the ``async with``, waiting up to *wait_s* for it."""
    token = secrets.token_hex(16)
    ttl_ms = int(ttl_s * 1000)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    pause = 0.002
    while not (await take_each(redis, [name], token, ttl_ms))[0]:
        if loop.time() >= deadline:
            raise LockTimeout(name)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.01)  # a hot player hands the lock on within ~10 ms
    renewer = asyncio.create_task(renew_each(redis, [name], token, ttl_ms))
    try:
        yield
    finally:
        renewer.cancel()
        with suppress(asyncio.CancelledError):
            await renewer
        await release_each(redis, [name], token)


def lock_key(name: str) -> str:
    return f"wowsino:lock:{name}"


async def take_each(redis: Redis, names: Sequence[str], token: str, ttl_ms: int) -> list[bool]:
    """Try once to take each lock of *names* for *token*, in one script call; which were taken."""
    if not names:
        return []
    taken = await _TAKE_EACH(redis, [lock_key(name) for name in names], [token, ttl_ms])
    return [bool(answer) for answer in taken]


async def release_each(redis: Redis, names: Sequence[str], token: str) -> None:
    """Release each lock of *names* that *token* still holds, in one script call."""
    await _RELEASE_EACH(redis, [lock_key(name) for name in names], [token])


async def renew_each(redis: Redis, names: Sequence[str], token: str, ttl_ms: int) -> None:
    """Keep renewing the locks of *names* that *token* holds until cancelled."""
    keys = [lock_key(name) for name in names]
    while True:
        await asyncio.sleep(ttl_ms / 3000)
        await _RENEW_EACH(redis, keys, [token, ttl_ms])
