"""Row ids: time-ordered, so rows written together list in the order they were made, and unguessable."""

from __future__ import annotations

import itertools
import uuid

from models.base import new_id


def test_ids_are_uuid7_and_strictly_increasing() -> None:
    ids = [new_id() for _ in range(20_000)]  # many fall in the same millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(value).version == 7 and uuid.UUID(value).variant == uuid.RFC_4122 for value in ids[:100])
    assert all(str(uuid.UUID(value)) == value for value in ids)  # the canonical spelling


def test_ids_made_in_one_millisecond_do_not_tell_each_other() -> None:
    """Knowing an operation's id must not give its neighbours' (another brand's draws, say)."""
    values = [uuid.UUID(new_id()).int for _ in range(20_000)]
    steps = [later - earlier for earlier, later in itertools.pairwise(values)]
    assert sum(step < 1 << 20 for step in steps) < len(steps) // 100
