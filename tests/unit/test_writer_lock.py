"""The SQLite writer lock: one writer at a time across open files (as across processes), no leaks."""

from __future__ import annotations

import asyncio
import fcntl
import threading
import time
from pathlib import Path

from models.sqlite import WriterLock


def test_writers_through_different_open_files_take_turns(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        locks = [WriterLock(str(tmp_path / "app.db")) for _ in range(2)]  # two files open, as two processes have
        inside = 0
        seen: list[int] = []

        async def write(lock: WriterLock) -> None:
            nonlocal inside
            async with lock.held():
                inside += 1
                seen.append(inside)
                await asyncio.sleep(0.002)
                inside -= 1

        await asyncio.gather(*(write(locks[n % 2]) for n in range(30)))
        for lock in locks:
            lock.close()
        return seen

    seen = asyncio.run(scenario())
    assert len(seen) == 30
    assert max(seen) == 1


def test_a_waiter_wakes_when_a_blocking_holder_lets_go(tmp_path: Path) -> None:
    holder, waiter = WriterLock(str(tmp_path / "app.db")), WriterLock(str(tmp_path / "app.db"))
    released: list[float] = []
    taken = threading.Event()

    def hold() -> None:
        with holder.held_blocking():
            taken.set()
            time.sleep(0.2)
            released.append(time.monotonic())

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()

    async def wait() -> float:
        async with waiter.held():
            return time.monotonic()

    got = asyncio.run(wait())
    thread.join()
    assert got >= released[0]
    holder.close()
    waiter.close()


def test_a_cancelled_wait_does_not_keep_the_lock(tmp_path: Path) -> None:
    async def scenario() -> None:
        first, second = WriterLock(str(tmp_path / "app.db")), WriterLock(str(tmp_path / "app.db"))
        async with first.held():
            waiting = asyncio.create_task(_hold(second))
            await asyncio.sleep(0.05)
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.sleep(0.1)  # the cancelled wait's thread takes the flock and lets it go
        fcntl.flock(first.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if it were kept
        first.close()
        second.close()

    asyncio.run(scenario())


async def _hold(lock: WriterLock) -> None:
    async with lock.held():
        await asyncio.sleep(0)
