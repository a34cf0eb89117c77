"""Rows built for Core inserts on the hot paths, without building their models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.base import row
from models.idempotency import IdempotencyRecord

VALUES = {
    "tenant_id": "t1",
    "mode": "test",
    "operation": "lootbox.open",
    "key": "k1",
    "fingerprint": "f" * 64,
    "operation_id": "op1",
    "status_code": 201,
    "response": {"prize": 10},
}


def test_a_row_holds_the_values_given_and_the_defaults_of_the_rest() -> None:
    first, second = row(IdempotencyRecord, **VALUES), row(IdempotencyRecord, **VALUES)
    assert set(first) == set(IdempotencyRecord.model_fields)
    assert {name: first[name] for name in VALUES} == VALUES
    assert first["id"] != second["id"]  # a default factory runs for each row
    assert isinstance(first["created_at"], datetime)
    assert first["created_at"].tzinfo == UTC


def test_a_row_matches_what_its_model_would_insert() -> None:
    built = row(IdempotencyRecord, **VALUES, id="fixed", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    model = IdempotencyRecord(**VALUES, id="fixed", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert built == model.model_dump()


def test_an_unknown_or_missing_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        row(IdempotencyRecord, **VALUES, colour="red")
    with pytest.raises(TypeError, match="needs status_code"):
        row(IdempotencyRecord, **{name: value for name, value in VALUES.items() if name != "status_code"})
