"""Gathering the calls of concurrent coroutines into one run: one transaction for many callers.

While a run is going, the items of the calls arriving meanwhile gather for the next one, so a busy
process pays one run (a commit) for many calls and an idle one a single small run per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
M = TypeVar("M")


def resolve(future: asyncio.Future[T], outcome: T | BaseException) -> None:
    """Give *future* its *outcome*, raised to its awaiter if it is an exception; a future already done
    (its awaiter cancelled) keeps what it has."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def per_loop(make: Callable[[], M]) -> Callable[[], M]:
    """A getter of one ``make()`` per running event loop: what gathers the calls of that loop's coroutines."""
    made: dict[int, M] = {}

    def get() -> M:
        loop = id(asyncio.get_running_loop())
        if loop not in made:
            made[loop] = make()
        return made[loop]

    return get


class Gatherer(Generic[T]):
    """Runs *run* over the items of every call waiting, one run at a time, in one event loop."""

    def __init__(self, run: Callable[[list[T]], Awaitable[None]]) -> None:
        self.run = run
        self.waiting: list[tuple[Sequence[T], asyncio.Future[None]]] = []
        self.running: asyncio.Task[None] | None = None

    async def add(self, items: Sequence[T]) -> None:
        """Return once a run holding *items* finished; raise what that run raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((items, done))
        if self.running is None:
            self.running = asyncio.get_running_loop().create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                group, self.waiting = self.waiting, []
                try:
                    await self.run([item for items, _ in group for item in items])
                except Exception as error:  # every call of the group fails with it
                    for _, done in group:
                        resolve(done, error)
                else:
                    for _, done in group:
                        resolve(done, None)
        finally:
            self.running = None
