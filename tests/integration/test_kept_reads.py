"""Engines and webhook endpoints kept across a PostgreSQL draws process's transactions (``KeptReads``): a
draw lent a kept row checks it in its write, and a row changed since makes the draw run again from fresh
reads, so that a paused lootbox refuses and a new subscription receives as if nothing had been kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func
from sqlmodel import select

from models.base import new_id, utcnow
from models.db import Database
from models.engines import change_engine
from models.errors import Conflict
from models.lootbox import LOOTBOX
from models.players import create_player
from models.prize_engines import Drawn, DrawRequest, KeptReads, LootboxOpen, create_engine, draw_prizes, get_engine
from models.statements import StaleRead
from models.tenancy import Principal
from models.webhooks import WebhookEndpoint, create_endpoint, get_endpoint, update_endpoint

PRINCIPAL = Principal("key", "tenant", "tenant", "live", "brand", "brand", "live", ())
PRIZES = [{"label": "ten", "asset": "WINZ", "amount": 10, "weight": 1}]


@pytest.fixture
def pg(db: Database) -> Database:
    if db.write_engine.dialect.name != "postgresql":
        pytest.skip("rows are kept across transactions on PostgreSQL only")
    return db


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


async def _lootbox(db: Database) -> str:
    async with db.transaction() as session:
        box = await create_engine(session, LOOTBOX, PRINCIPAL, config={"name": "box", "prize_table": PRIZES})
        await create_player(session, PRINCIPAL, username="ada", email=None, external_ref=None, country_code=None)
        return box.id


async def _open(db: Database, kept: KeptReads, box_id: str) -> Drawn:
    request = DrawRequest(box_id, "ada", None, new_id(), "fingerprint", new_id())
    return await db.run(
        lambda session: draw_prizes(
            session, LOOTBOX, tenant_id="tenant", mode="live", brand_id="brand", requests=[request], kept=kept
        )
    )


async def _opens(db: Database) -> int:
    async with db.reader() as session:
        return int((await session.execute(select(func.count()).select_from(LootboxOpen))).scalar_one())


def test_unchanged_rows_are_lent_instead_of_read(pg: Database, statements: list[str]) -> None:
    async def scenario() -> None:
        box_id = await _lootbox(pg)
        kept = KeptReads()
        reads: list[list[str]] = []
        for _ in range(2):
            statements.clear()
            assert (await _open(pg, kept, box_id)).outcomes[0][0] == 201  # type: ignore[index]
            reads.append(
                [table for table in ("lootboxes", "webhook_endpoints") for sql in statements if _reads(sql, table)]
            )
        assert reads == [["lootboxes", "webhook_endpoints"], []]
        assert await _opens(pg) == 2

    _run(scenario)


def _reads(sql: str, table: str) -> bool:
    return sql.startswith("SELECT") and f"FROM {table}" in sql


def test_a_lootbox_paused_since_it_was_kept_refuses_after_a_fresh_read(pg: Database) -> None:
    async def scenario() -> None:
        box_id = await _lootbox(pg)
        kept = KeptReads()
        await _open(pg, kept, box_id)
        async with pg.transaction() as session:
            box = await get_engine(
                session, LOOTBOX, tenant_id="tenant", mode="live", brand_id="brand", engine_id=box_id
            )
            change_engine(box, name=None, status="paused")
        with pytest.raises(StaleRead):
            await _open(pg, kept, box_id)
        assert kept.engines == {} and kept.subscribers == {}
        refused = (await _open(pg, kept, box_id)).outcomes[0]
        assert isinstance(refused, Conflict) and "paused" in str(refused)
        assert await _opens(pg) == 1

    _run(scenario)


async def _subscribe(db: Database, events: list[str]) -> str:
    async with db.transaction() as session:
        endpoint = await create_endpoint(
            session, tenant_id="tenant", mode="live", url="https://hooks.example.com/a", events=events
        )
        return endpoint.id


async def _change_endpoint(db: Database, endpoint_id: str, change: str) -> None:
    async with db.transaction() as session:
        endpoint = await get_endpoint(session, tenant_id="tenant", mode="live", endpoint_id=endpoint_id)
        if change == "deleted":
            endpoint.deleted_at = utcnow()
        else:
            await update_endpoint(session, endpoint, url=None, events=["player.*"], status=None)


def test_an_endpoint_subscribed_since_they_were_kept_receives_the_next_draw(pg: Database) -> None:
    async def scenario() -> None:
        box_id = await _lootbox(pg)
        kept = KeptReads()
        assert (await _open(pg, kept, box_id)).deliveries == []
        await _subscribe(pg, ["lootbox.*"])
        with pytest.raises(StaleRead):
            await _open(pg, kept, box_id)
        assert len((await _open(pg, kept, box_id)).deliveries) == 1
        assert await _opens(pg) == 2

    _run(scenario)


@pytest.mark.parametrize("change", ["deleted", "events"])
def test_an_endpoint_that_stopped_receiving_since_they_were_kept_gets_nothing(pg: Database, change: str) -> None:
    async def scenario() -> None:
        box_id = await _lootbox(pg)
        endpoint_id = await _subscribe(pg, ["lootbox.opened"])
        kept = KeptReads()
        assert len((await _open(pg, kept, box_id)).deliveries) == 1
        await _change_endpoint(pg, endpoint_id, change)
        with pytest.raises(StaleRead):
            await _open(pg, kept, box_id)
        assert (await _open(pg, kept, box_id)).deliveries == []
        async with pg.reader() as session:
            assert (await session.get(WebhookEndpoint, endpoint_id)) is not None

    _run(scenario)
