"""What an actor process shares between messages: the database engines and a Redis client.

Both are made on first use inside the worker's event loop thread, where every async actor runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings, get_settings
from models import inbox
from models.db import Database
from models.gathering import Gatherer, per_loop
from models.redis_client import connect

log = logging.getLogger("wowsino.actors")
R = TypeVar("R")
SETTLE_PAUSE_S = 0.05


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis


def settle_inbox(message_ids: list[str]) -> None:
    """Mark messages carried out in the inbox, after the transaction that carried them out committed.

    The settling runs in the background (one inbox transaction for all that wait): the message's thread is
    free at once. Should it fail (or the process die first), the scheduler's sweep queues the messages
    again and the rerun changes nothing, so a failure here is logged, never raised.
    """
    if any(message_ids):
        task = asyncio.get_running_loop().create_task(_settle_logged(message_ids))
        _settlings.add(task)
        task.add_done_callback(_settlings.discard)


async def _settle_logged(message_ids: list[str]) -> None:
    try:
        await _settling().add(message_ids)
    except Exception:
        log.exception("could not settle %d inbox messages; the sweep will run them again", len(message_ids))


async def _settle(message_ids: list[str]) -> None:
    async with runtime().db.inbox() as session:
        await inbox.settle(session, message_ids)
    # The messages carried out meanwhile wait for the next settling: a busy worker pays one inbox
    # transaction per pause, not one per draw transaction. Nothing waits for a settling.
    await asyncio.sleep(SETTLE_PAUSE_S)


# Concurrent actors' messages are settled together: one inbox transaction for all that wait.
_settling = per_loop(lambda: Gatherer(_settle))
_settlings: set[asyncio.Task[None]] = set()  # the running ones, kept from the garbage collector


async def in_transaction(
    work: Callable[[AsyncSession], Awaitable[R]], *, attempts: int, rerun_on: tuple[type[Exception], ...]
) -> R:
    """Run *work* in one write transaction, rerunning it from the start (up to *attempts* times in all)
    when it fails with one of *rerun_on*: a race a concurrent transaction won, whose result the rerun sees."""
    for attempt in range(attempts):
        try:
            return await runtime().db.run(work)
        except rerun_on:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@cache
def runtime() -> Runtime:
    settings = get_settings()
    return Runtime(settings=settings, db=Database(settings, pre_ping=False), redis=connect(settings.redis_url))
