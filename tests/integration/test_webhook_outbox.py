"""The webhook outbox: an event is stored with a delivery for each subscription that matches it, and only then."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from models.db import Database
from models.webhooks import Announcement, WebhookDelivery, WebhookEvent, create_endpoint, emit_events


def test_events_are_stored_for_the_subscriptions_that_match_them_and_no_others(db: Database) -> None:
    async def scenario() -> tuple[list[str], list[WebhookEvent], list[WebhookDelivery], list[str]]:
        async with db.transaction() as session:
            lootboxes = await create_endpoint(
                session, tenant_id="t", mode="live", url="https://hooks.example/a", events=["lootbox.*"]
            )
            everything = await create_endpoint(
                session, tenant_id="t", mode="live", url="https://hooks.example/b", events=["*"]
            )
            await create_endpoint(session, tenant_id="t", mode="test", url="https://hooks.example/c", events=["*"])
            announced = await emit_events(
                session,
                [
                    Announcement("t", "live", "lootbox.opened", {"n": 1}),  # both live endpoints
                    Announcement("t", "live", "raffle.drawn", {"n": 2}),  # the catch-all one
                    Announcement("u", "live", "lootbox.opened", {"n": 3}),  # a tenant without subscriptions
                ],
            )
        async with db.reader() as session:
            events = list((await session.execute(select(WebhookEvent))).scalars())
            deliveries = list((await session.execute(select(WebhookDelivery))).scalars())
        return announced, events, deliveries, [lootboxes.id, everything.id]

    announced, events, deliveries, (lootboxes, everything) = asyncio.run(scenario())
    assert sorted((event.tenant_id, event.type, event.data["n"]) for event in events) == [
        ("t", "lootbox.opened", 1),
        ("t", "raffle.drawn", 2),
    ]
    received = {(delivery.endpoint_id, delivery.event_id) for delivery in deliveries}
    by_n = {event.data["n"]: event.id for event in events}
    assert received == {(lootboxes, by_n[1]), (everything, by_n[1]), (everything, by_n[2])}
    assert sorted(announced) == sorted(delivery.id for delivery in deliveries)
