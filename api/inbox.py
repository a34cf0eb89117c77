"""Writing accepted messages to the database inbox before answering, many requests per transaction.

Each request waits for the commit holding its messages. While one commit runs, the messages of the
requests arriving meanwhile gather for the next, so a busy API process pays one commit for many
requests and an idle one adds a single small write to a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from models import inbox
from models.db import Database
from models.inbox import Queued


class InboxWriter:
    def __init__(self, db: Database, *, grace_s: float) -> None:
        self.db = db
        self.grace_s = grace_s
        self.waiting: list[tuple[Sequence[Queued], asyncio.Future[None]]] = []
        self.running = False
        self.file = inbox.InboxFile(db.inbox_file) if db.inbox_file else None  # SQLite

    async def keep(self, messages: Sequence[Queued]) -> None:
        """Return once *messages* are committed to the inbox; raise what the commit raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((messages, done))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                group, self.waiting = self.waiting, []
                try:
                    await self._write([m for messages, _ in group for m in messages])
                except Exception as error:  # every request of the group answers with the failure (a 503)
                    for _, done in group:
                        done.set_exception(error)
                else:
                    for _, done in group:
                        done.set_result(None)
        finally:
            self.running = False

    async def _write(self, messages: list[Queued]) -> None:
        if self.file is not None:
            await asyncio.to_thread(self.file.keep, messages, grace_s=self.grace_s)
            return
        async with self.db.inbox() as session:
            await inbox.keep(session, messages, grace_s=self.grace_s)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
