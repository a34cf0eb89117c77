"""Redis clients that ride out a restart: bounded timeouts, and commands retried on a fresh connection.

After Redis restarts, every pooled connection is dead; without a retry the first command on each
fails. With it, a command that meets a closed connection reconnects and runs again (three tries,
short backoff), and a Redis that is really gone surfaces as an error within seconds, never a hang.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError

RETRIES = 3
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.5, base=0.02), RETRIES)


def connect(url: str, *, max_connections: int = 64, listener: bool = False) -> Redis:
    """An asyncio client; a *listener* (pub/sub) client has no read timeout, since it waits by design."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=None if listener else COMMAND_TIMEOUT_S,
        retry=_retry(),
        health_check_interval=15,
    )
    return Redis(connection_pool=pool)


def connect_sync(url: str) -> redis.Redis:
    """The blocking client the Dramatiq broker uses, with the same retry and timeouts."""
    pool = redis.ConnectionPool.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S * 2,
        retry=redis.retry.Retry(ExponentialBackoff(cap=0.5, base=0.02), RETRIES),
        health_check_interval=15,
    )
    return redis.Redis(connection_pool=pool)


class Lua:
    """A Lua script sent by its digest (``EVALSHA``), and in full only when Redis does not know it yet."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:  # a restarted or flushed Redis forgot it: EVAL loads it again
            return await client.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]
