"""What an actor process shares between messages: the database engines and a Redis client.

Both are made on first use inside the worker's event loop thread, where every async actor runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from redis.asyncio import Redis

from config import Settings, get_settings
from models.db import Database
from models.redis_client import connect


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis


@cache
def runtime() -> Runtime:
    settings = get_settings()
    return Runtime(settings=settings, db=Database(settings), redis=connect(settings.redis_url))
