"""Row ids: time-ordered, so rows written together list in the order they were made."""

from __future__ import annotations

import uuid

from models.base import new_id


def test_ids_are_uuid7_and_strictly_increasing() -> None:
    ids = [new_id() for _ in range(20_000)]  # many fall in the same millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(value).version == 7 and uuid.UUID(value).variant == uuid.RFC_4122 for value in ids[:100])
    assert all(str(uuid.UUID(value)) == value for value in ids)  # the canonical spelling
