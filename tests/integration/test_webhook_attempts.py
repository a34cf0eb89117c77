"""Webhook attempts a worker process makes at the same time share their reads and their writes, on a real
database, a real Redis and a real receiver."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from actors import webhooks
from actors.runtime import Runtime
from config.settings import load_settings
from models.db import Database
from models.redis_client import connect
from models.signing import new_secret
from models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.support.receiver import receiver

ATTEMPTS = 8


def test_attempts_made_together_share_one_lookup_and_few_records(
    url: str, redis_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    begun: list[str] = []  # the transactions begun (reads and writes share one engine on PostgreSQL)
    for engine in {db.read_engine, db.write_engine}:
        event.listen(engine.sync_engine, "begin", lambda connection: begun.append("begin"))
    settings = load_settings({"DATABASE_URL": url, "REDIS_URL": redis_url})

    async def scenario(hook_url: str) -> tuple[list[str], list[WebhookDelivery], list[WebhookAttempt]]:
        redis = connect(redis_url)
        monkeypatch.setattr(webhooks, "runtime", lambda: Runtime(settings, db, redis))
        async with db.transaction() as session:
            endpoint = WebhookEndpoint(tenant_id="t", mode="test", url=hook_url, events=["*"], secret=new_secret())
            session.add(endpoint)
            events = [
                WebhookEvent(id=f"evt_{n}", tenant_id="t", mode="test", type="player.created", data={"n": n})
                for n in range(ATTEMPTS)
            ]
            session.add_all(events)
            await session.flush()
            created = [WebhookDelivery(endpoint_id=endpoint.id, event_id=e.id) for e in events]
            session.add_all(created)
        ids = [delivery.id for delivery in created]
        begun.clear()
        await asyncio.gather(*(webhooks._attempt(delivery_id, 0) for delivery_id in ids))
        made = list(begun)
        async with db.reader() as session:
            deliveries = (
                await session.execute(select(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids)))
            ).scalars()
            attempts = (await session.execute(select(WebhookAttempt))).scalars()
            found = list(deliveries), list(attempts)
        await redis.aclose()
        return made, *found

    with receiver(together=ATTEMPTS) as hooks:  # the POSTs come back together
        made, deliveries, attempts = asyncio.run(scenario(hooks.url))
        received = hooks.wait_for(ATTEMPTS)
    assert sorted(r.headers["webhook-id"] for r in received) == [f"evt_{n}" for n in range(ATTEMPTS)]
    # one read for the eight lookups, and for the records the writes of the POSTs that came back while the
    # previous write ran (one to three): each attempt on its own took a read and a write of its own (16)
    assert len(made) <= 1 + ATTEMPTS // 2, made
    assert {(d.status, d.attempt_count) for d in deliveries} == {("succeeded", 1)}
    assert sorted(a.delivery_id for a in attempts) == sorted(d.id for d in deliveries)
    assert {a.status_code for a in attempts} == {200}
