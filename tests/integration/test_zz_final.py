"""Runs last, after every integration test: the ledger still balances and no secret reached a log."""

from __future__ import annotations

import re

from tests.support.stack import ADMIN_TOKEN, Stack

SECRETS = re.compile(r"wsk_(live|test)_[0-9a-f]{48}|whsec_[A-Za-z0-9+/]{20,}")


def test_every_transaction_balances_and_every_balance_equals_its_postings(stack: Stack) -> None:
    out = stack.cli(["audit"], check=False)
    assert "ledger balanced" in out, out


def test_no_key_signing_secret_or_admin_token_in_any_log(stack: Stack) -> None:
    logs = sorted(stack.logs.glob("*.log"))
    assert {path.name for path in logs} >= {"api0.log", "api1.log", "worker-draws.log", "worker-webhooks.log"}
    for path in logs:
        text = path.read_text(errors="replace")
        assert ADMIN_TOKEN not in text, path.name
        assert not SECRETS.search(text), f"{path.name}: {SECRETS.search(text)}"
