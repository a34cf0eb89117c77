"""What one API process holds for its lifetime: settings, database, Redis, the result waiter, the inbox
writer, the batched jobs it queues and the players it has seen."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from litestar import Litestar
from redis.asyncio import Redis

from api.enqueue import Batches
from api.inbox import InboxWriter
from api.waiter import ResultWaiter
from config import Settings
from config.process import freeze_startup_heap
from models.db import Database
from models.redis_client import connect

KNOWN_PLAYERS = 20_000  # players remembered per process (a few MB); the oldest are forgotten first


class KnownPlayers:
    """Players seen to exist, by (brand, mode, username), bounded in size."""

    def __init__(self, size: int = KNOWN_PLAYERS) -> None:
        self.size = size
        self.seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def __contains__(self, player: tuple[str, str, str]) -> bool:
        return player in self.seen

    def add(self, player: tuple[str, str, str]) -> None:
        self.seen[player] = None
        if len(self.seen) > self.size:
            self.seen.popitem(last=False)


@dataclass
class AppState:
    settings: Settings
    db: Database
    redis: Redis
    waiter: ResultWaiter
    inbox: InboxWriter
    batches: Batches
    known_players: KnownPlayers = field(default_factory=KnownPlayers)  # players are never deleted


def lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    """Open the process's connections at start-up and close them at shutdown."""

    @asynccontextmanager
    async def manage(app: Litestar) -> AsyncIterator[None]:
        redis = connect(settings.redis_url, max_connections=256)
        listener = connect(settings.redis_url, max_connections=4, listener=True)
        waiter = ResultWaiter(redis, listener)
        db = Database(settings)
        inbox = InboxWriter(db, grace_s=settings.outbox_grace_s)
        batches = Batches(redis, inbox, settings.idempotency_ttl_s)
        state = AppState(settings=settings, db=db, redis=redis, waiter=waiter, inbox=inbox, batches=batches)
        state.waiter.start()
        app.state.wowsino = state
        freeze_startup_heap()
        try:
            yield
        finally:
            await state.waiter.stop()
            state.inbox.close()
            await state.db.dispose()
            await redis.aclose()
            await listener.aclose()

    return manage
