"""Claims: the Redis keys an accepted pipeline event (its business id) and a submitted operation (its
idempotency key) hold for ``IDEMPOTENCY_TTL``."""

from __future__ import annotations

from typing import Any

from api.dispatch import operation_claim
from api.routes.engines import source_claim
from models.pipeline import CONTRIBUTE, JOURNEY, SCORE
from models.tenancy import Principal


def _principal(tenant_id: str = "t" * 36, mode: str = "live", brand_id: str = "b" * 36) -> Principal:
    return Principal("key", tenant_id, "casino", "live", brand_id, "main", mode, ("*",))


def test_a_claim_key_has_one_short_length_whatever_the_ids() -> None:
    """Redis holds one per event accepted for a day or more: its size is the fast path's memory."""
    longest = source_claim(_principal(), {"type": SCORE, "engine_id": "e" * 64, "source_id": "w" * 255})
    shortest = source_claim(_principal("t", "test", "b"), {"type": JOURNEY, "source_id": "w"})
    assert len(longest) == len(shortest) <= 48


def test_each_part_of_an_events_identity_makes_another_claim() -> None:
    event: dict[str, Any] = {"type": SCORE, "engine_id": "e1", "source_id": "w1"}
    claims = [
        source_claim(_principal(), event),
        source_claim(_principal(tenant_id="t2"), event),
        source_claim(_principal(mode="test"), event),
        source_claim(_principal(), {**event, "type": CONTRIBUTE}),
        source_claim(_principal(), {**event, "engine_id": "e2"}),
        source_claim(_principal(), {**event, "source_id": "w2"}),
        source_claim(_principal(), {"type": JOURNEY, "source_id": "w1"}),  # within the brand
        source_claim(_principal(brand_id="b2"), {"type": JOURNEY, "source_id": "w1"}),
    ]
    assert len(set(claims)) == len(claims)
    assert source_claim(_principal(), dict(event)) == claims[0]  # the same event claims the same key


def test_an_operation_claim_has_one_short_length_whatever_the_key() -> None:
    longest = operation_claim(_principal(), "mini_game.play", "k" * 255)
    shortest = operation_claim(_principal("t", "test"), "raffle.enter", "k")
    assert len(longest) == len(shortest) <= 48


def test_each_part_of_an_operations_identity_makes_another_claim() -> None:
    claims = [
        operation_claim(_principal(), "lootbox.open", "k1"),
        operation_claim(_principal(tenant_id="t2"), "lootbox.open", "k1"),
        operation_claim(_principal(mode="test"), "lootbox.open", "k1"),
        operation_claim(_principal(), "mini_game.play", "k1"),
        operation_claim(_principal(), "lootbox.open", "k2"),
    ]
    assert len(set(claims)) == len(claims)
    assert operation_claim(_principal(), "lootbox.open", "k1") == claims[0]
