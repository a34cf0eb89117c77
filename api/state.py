"""What one API process holds for its lifetime: settings, database, Redis and the result waiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from litestar import Litestar
from redis.asyncio import Redis

from api.inbox import InboxWriter
from api.waiter import ResultWaiter
from config import Settings
from models.db import Database
from models.redis_client import connect


@dataclass
class AppState:
    settings: Settings
    db: Database
    redis: Redis
    waiter: ResultWaiter
    inbox: InboxWriter


def lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    """Open the process's connections at start-up and close them at shutdown."""

    @asynccontextmanager
    async def manage(app: Litestar) -> AsyncIterator[None]:
        redis = connect(settings.redis_url, max_connections=256)
        listener = connect(settings.redis_url, max_connections=4, listener=True)
        waiter = ResultWaiter(redis, listener)
        db = Database(settings)
        inbox = InboxWriter(db, grace_s=settings.outbox_grace_s)
        state = AppState(settings=settings, db=db, redis=redis, waiter=waiter, inbox=inbox)
        state.waiter.start()
        app.state.wowsino = state
        try:
            yield
        finally:
            await state.waiter.stop()
            await state.db.dispose()
            await redis.aclose()
            await listener.aclose()

    return manage
