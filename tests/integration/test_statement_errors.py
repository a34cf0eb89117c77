"""A failed statement's error, which is logged, never carries the values it was given: they may be a webhook
signing secret or a player's server seed not yet revealed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from models.base import table, utcnow
from models.db import Database
from models.idempotency import IdempotencyRecord
from models.statements import execute_many


def test_a_failed_statement_names_no_value(db: Database) -> None:
    async def fail() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO no_such_table (secret) VALUES (:secret)"), {"secret": "whsec_S3"})

    with pytest.raises(DBAPIError) as failed:
        asyncio.run(fail())
    assert "no_such_table" in str(failed.value) and "whsec_S3" not in str(failed.value)


def test_a_failed_bulk_write_names_no_value(db: Database) -> None:
    """``execute_many`` sends SQLite's rows to the driver itself, and raises its own error."""
    row = {"id": "r", "tenant_id": None, "mode": "live", "operation": "o", "key": "whsec_S3", "fingerprint": "f"}
    row |= {"operation_id": "op", "status_code": 201, "response": {}, "created_at": utcnow()}

    async def fail() -> None:
        async with db.transaction() as session:
            await execute_many(session, insert(table(IdempotencyRecord)), [row])

    with pytest.raises(DBAPIError) as failed:
        asyncio.run(fail())
    assert "whsec_S3" not in str(failed.value)
