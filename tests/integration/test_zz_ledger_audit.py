"""Runs last: after every integration test, the whole ledger still balances."""

from __future__ import annotations

from tests.support.stack import Stack


def test_every_transaction_balances_and_every_balance_equals_its_postings(stack: Stack) -> None:
    out = stack.cli(["audit"], check=False)
    assert "ledger balanced" in out, out
