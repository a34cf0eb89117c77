"""Idempotency records: the durable truth behind every deduplicated write.

A record stores the request's fingerprint and the original answer under
``(tenant, mode, operation, key)``, which is unique in the database; Redis only speeds up the
common case. Writing the record in the business transaction makes "done" and "remembered" one fact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models.base import created_field, id_field
from models.errors import IdempotencyKeyReused


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    # The key first: a lookup of many keys is searched by them, whatever the database's statistics (see
    # migration 0005); the uniqueness is the same in any order.
    __table_args__ = (UniqueConstraint("key", "tenant_id", "mode", "operation", name="uq_idempotency_records_key"),)
    id: str = id_field()
    tenant_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    operation: str = Field(max_length=64)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    operation_id: str = Field(max_length=36, index=True)
    status_code: int
    response: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_field()


def fingerprint(payload: dict[str, Any]) -> str:
    """A stable digest of a request: same operation target and body, same fingerprint."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_record(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    operation: str,
    key: str,
    fingerprint: str,
    formerly: str | None = None,
) -> IdempotencyRecord | None:
    """The stored answer for a key, or None; ``IdempotencyKeyReused`` if it was for another request (one whose
    fingerprint is neither *fingerprint* nor, for records written by earlier versions, *formerly*)."""
    record = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == tenant_id,
                IdempotencyRecord.mode == mode,
                IdempotencyRecord.operation == operation,
                IdempotencyRecord.key == key,
            )
        )
    ).scalar_one_or_none()
    if record is not None and record.fingerprint not in (fingerprint, formerly):
        raise IdempotencyKeyReused(
            "this idempotency_key was already used with a different request", field="idempotency_key"
        )
    return record


# Built once: building and keying a statement for SQLAlchemy's cache costs more than running it.
_RECORDS_OF_KEYS = select(IdempotencyRecord).where(
    col(IdempotencyRecord.tenant_id) == bindparam("tenant_id"),
    col(IdempotencyRecord.mode) == bindparam("mode"),
    col(IdempotencyRecord.operation) == bindparam("operation"),
    col(IdempotencyRecord.key).in_(bindparam("keys", expanding=True)),
)


async def find_records(
    session: AsyncSession, *, tenant_id: str, mode: str, operation: str, keys: Sequence[str]
) -> dict[str, IdempotencyRecord]:
    """The stored records of *keys*, by key, in one query (fingerprints unchecked: see ``outcome_of``)."""
    rows = await session.execute(
        _RECORDS_OF_KEYS, {"tenant_id": tenant_id, "mode": mode, "operation": operation, "keys": sorted(set(keys))}
    )
    return {record.key: record for record in rows.scalars()}


async def find_by_operation(
    session: AsyncSession, *, tenant_id: str, mode: str, operation_id: str
) -> IdempotencyRecord | None:
    return (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.operation_id == operation_id,
                IdempotencyRecord.tenant_id == tenant_id,
                IdempotencyRecord.mode == mode,
            )
        )
    ).scalar_one_or_none()


Outcome = tuple[int, dict[str, Any], list[str], bool]  # status, body, webhook deliveries, deduped


async def earlier_outcome(
    session: AsyncSession, *, tenant_id: str, mode: str, operation: str, key: str, fingerprint: str, operation_id: str
) -> Outcome | None:
    """The stored answer of an operation already done under this key, or None (see ``outcome_of``)."""
    record = await find_record(
        session, tenant_id=tenant_id, mode=mode, operation=operation, key=key, fingerprint=fingerprint
    )
    return None if record is None else outcome_of(record, fingerprint=fingerprint, operation_id=operation_id)


def outcome_of(record: IdempotencyRecord, *, fingerprint: str, operation_id: str) -> Outcome:
    """The answer *record* stored, for a request with *fingerprint* run as *operation_id*.

    It counts as deduplicated unless this very operation stored it (a rerun after a crash).
    """
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "this idempotency_key was already used with a different request", field="idempotency_key"
        )
    return record.status_code, record.response, [], record.operation_id != operation_id
