"""The Dramatiq broker, configured from settings. Imported first by every process that sends or runs actors."""

from __future__ import annotations

from typing import Any

import dramatiq
import msgspec
from dramatiq.broker import Consumer
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


class PromptRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, whose idle consumers look at their queue again within a bounded time.

    A consumer that finds its queue empty backs off exponentially up to the worker timeout (a second
    by default), so a message sent to a worker that has just emptied its queue waited up to that long:
    the draws a player waits for must not (``idle_poll_ms``). Each look is a script call on the idle
    worker's CPU, so the queues nobody waits on (pipeline events, webhooks, delayed retries) are looked
    at less often (``background_idle_poll_ms``): at ten looks a second, idle events and webhooks workers
    stop taking CPU from a busy draws worker on the same machine.
    """

    def __init__(self, *, idle_poll_ms: int, background_idle_poll_ms: int, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.idle_poll_ms = idle_poll_ms
        self.background_idle_poll_ms = background_idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        poll = self.idle_poll_ms if queue_name == QUEUE_DRAWS else self.background_idle_poll_ms
        return super().consume(queue_name, prefetch, min(timeout, poll))  # type: ignore[no-untyped-call]


def build_broker() -> RedisBroker:
    """A Redis broker whose heartbeat timeout, maintenance chance and idle polls come from settings."""
    settings = get_settings()
    broker = PromptRedisBroker(
        idle_poll_ms=max(1, round(settings.broker_idle_poll_s * 1000)),
        background_idle_poll_ms=max(1, round(settings.broker_background_idle_poll_s * 1000)),
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
