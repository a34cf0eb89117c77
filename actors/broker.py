"""The Dramatiq broker, configured from settings. Imported first by every process that sends or runs actors."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO

from config import get_settings
from models.redis_client import connect_sync

QUEUE_DRAWS = "draws"
QUEUE_EVENTS = "events"
QUEUE_WEBHOOKS = "webhooks"


def build_broker() -> RedisBroker:
    """A Redis broker whose heartbeat timeout and maintenance chance come from settings (tests shrink them)."""
    settings = get_settings()
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        client=connect_sync(settings.redis_url),
        namespace="wowsino",
        heartbeat_timeout=int(settings.broker_heartbeat_timeout_s * 1000),
        maintenance_chance=settings.broker_maintenance_chance,
    )
    broker.add_middleware(AsyncIO())
    return broker


broker = build_broker()
dramatiq.set_broker(broker)
