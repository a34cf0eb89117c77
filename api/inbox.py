"""Writing accepted messages to the database inbox before answering, many requests per commit.

Each request waits for the commit holding its messages; the messages of the requests arriving while
one commit runs gather for the next (``models.gathering``), so a busy API process pays one commit for
many requests and an idle one adds a single small write to a request. A failed commit fails every
request of its group (a 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from models import inbox
from models.db import Database
from models.gathering import Gatherer
from models.inbox import Queued


class InboxWriter:
    def __init__(self, db: Database, *, grace_s: float) -> None:
        self.db = db
        self.grace_s = grace_s
        self.gatherer = Gatherer(self._write)
        self.file = inbox.InboxFile(db.inbox_file) if db.inbox_file else None  # SQLite

    async def keep(self, messages: Sequence[Queued]) -> None:
        """Return once *messages* are committed to the inbox; raise what the commit raised."""
        await self.gatherer.add(messages)

    async def _write(self, messages: list[Queued]) -> None:
        if self.file is not None:
            await asyncio.to_thread(self.file.keep, messages, grace_s=self.grace_s)
            return
        await inbox.keep(self.db, messages, grace_s=self.grace_s)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
