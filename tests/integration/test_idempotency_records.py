"""A stored idempotency record answers a replay of its own request only, fingerprints of earlier versions
included."""

from __future__ import annotations

import asyncio

import pytest

from models.db import Database
from models.errors import IdempotencyKeyReused
from models.idempotency import IdempotencyRecord, find_record, fingerprint


def test_a_record_of_an_earlier_version_still_answers_its_replay(db: Database) -> None:
    request = {"operation": "players.create", "username": "bob"}
    earlier, now = fingerprint(request), fingerprint({**request, "brand": "brand-a"})
    where = {"tenant_id": "t", "mode": "live", "operation": "players.create", "key": "k"}

    async def scenario() -> None:
        async with db.transaction() as session:
            record = IdempotencyRecord(**where, fingerprint=earlier, operation_id="op", status_code=201, response={})
            session.add(record)
        async with db.reader() as session:
            found = await find_record(session, **where, fingerprint=now, formerly=earlier)
            assert found is not None and found.operation_id == "op"
            with pytest.raises(IdempotencyKeyReused):
                await find_record(session, **where, fingerprint=now)

    asyncio.run(scenario())
