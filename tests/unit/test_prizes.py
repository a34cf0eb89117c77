"""Prize table validation names the segment and field at fault."""

from __future__ import annotations

import pytest

from models.errors import InvalidInput
from models.prizes import normalize_prize_table


def test_amounts_are_normalized_per_rail() -> None:
    table = normalize_prize_table(
        [
            {"label": "a", "asset": "WINZ", "amount": 5, "weight": 1},
            {"label": "b", "asset": "USD", "amount": "2.50", "weight": 2},
        ]
    )
    assert [segment["amount"] for segment in table] == [5, "2.5"]


@pytest.mark.parametrize(
    ("segments", "field"),
    [
        ([{"label": "a", "asset": "WINZ", "amount": 1, "weight": 1}] * 2, "prize_table[1].label"),
        ([{"label": "a", "asset": "WINZ", "amount": 1, "weight": 0}], "prize_table[0].weight"),
        ([{"label": "a", "asset": "WINZ", "amount": "1.5", "weight": 1}], "prize_table[0].amount"),
        ([], "prize_table"),
    ],
)
def test_bad_segments_name_their_field(segments: list[dict[str, object]], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_prize_table(segments)
    assert refused.value.field == field
