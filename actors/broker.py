"""The Dramatiq broker, configured from settings. Imported first by every process that sends or runs actors."""

from __future__ import annotations

from typing import Any

import dramatiq
import msgspec
from dramatiq.brokers.redis import RedisBroker
from dramatiq.encoder import Encoder
from dramatiq.errors import DecodeError
from dramatiq.middleware.asyncio import AsyncIO

from config import get_settings
from models.redis_client import connect_sync

QUEUE_DRAWS = "draws"
QUEUE_EVENTS = "events"
QUEUE_WEBHOOKS = "webhooks"


class MsgspecJSON(Encoder):
    """Dramatiq's JSON message format, written and read by msgspec: a batch of a thousand events is
    encoded in the API's request path, where the standard library's encoder costs several times more."""

    def encode(self, data: dict[str, Any]) -> bytes:
        return msgspec.json.encode(data)

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            decoded: dict[str, Any] = msgspec.json.decode(data)
        except msgspec.DecodeError as error:
            raise DecodeError(f"failed to decode message {data!r}", data, error) from None  # type: ignore[no-untyped-call]
        return decoded


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


dramatiq.set_encoder(MsgspecJSON())
broker = build_broker()
dramatiq.set_broker(broker)
