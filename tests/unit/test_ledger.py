"""The ledger's arithmetic invariant: every transaction sums to zero per asset."""

from __future__ import annotations

import pytest

from models.ledger import Leg, UnbalancedTransaction, check_balanced


def test_balanced_multi_asset_transaction_passes() -> None:
    check_balanced([Leg("p", "WINZ", -50), Leg("f", "WINZ", 50), Leg("f", "USD", -7), Leg("p", "USD", 7)])


@pytest.mark.parametrize(
    "legs",
    [
        [Leg("p", "WINZ", -50), Leg("f", "WINZ", 49)],
        [Leg("p", "WINZ", -50), Leg("f", "USD", 50)],
        [],
    ],
)
def test_unbalanced_or_empty_transactions_are_refused(legs: list[Leg]) -> None:
    with pytest.raises(UnbalancedTransaction):
        check_balanced(legs)
