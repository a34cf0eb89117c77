"""Column types and helpers shared by every table."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Table, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


_TAIL_BITS = 74  # UUIDv7: 48 bits of milliseconds, then 74 bits that are random or counted
_STEP = (1 << 40) - 1  # of a counted id's random step: 2**34 ids a millisecond before it reaches the next
_last_id = 0
_id_lock = threading.Lock()


def new_id() -> str:
    """A UUIDv7 that sorts after every id this process made before it.

    Listings order rows by ``(created_at, id)``; rows written in one statement share ``created_at``,
    so their ids are what keeps them in the order they were made.
    """
    global _last_id
    drawn = int.from_bytes(os.urandom(10)) >> (80 - _TAIL_BITS)
    fresh = (time.time_ns() // 1_000_000) << _TAIL_BITS | drawn
    with _id_lock:  # within a millisecond, a random step rather than +1: an id never tells its neighbours'
        _last_id = value = max(fresh, _last_id + 1 + (drawn & _STEP))
    high, low = value >> 62, value & ((1 << 62) - 1)  # 60 bits (stamp, counter) and 62 bits below
    digits = f"{(high >> 12) << 80 | 0x7 << 76 | (high & 0xFFF) << 64 | 0b10 << 62 | low:032x}"
    # spelled out as uuid.UUID spells it, in less than half the time (a draw makes four or five ids)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC when read, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def id_field(**kwargs: Any) -> Any:
    return Field(default_factory=new_id, primary_key=True, max_length=36, **kwargs)


def created_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A row of *model*'s table for a Core insert: *values*, and every other field's default.

    Building the model instead would validate it and set up its ORM state, which on the hot paths
    costs more than inserting the row.
    """
    fields = model.model_fields
    if unknown := values.keys() - fields.keys():
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    for name, field in fields.items():
        if name in values:
            continue
        if field.default_factory is not None:
            values[name] = field.default_factory()  # type: ignore[call-arg]  # ours take no argument
        elif field.is_required():
            raise TypeError(f"{model.__name__} needs {name}")
        else:
            values[name] = field.default
    return values


def iso(moment: datetime) -> str:
    """RFC 3339 with a ``Z``, to the second when there are no microseconds."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def table(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for the hot paths written as Core statements."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]
