"""Fault tests attack their own stack, so that killing its parts never disturbs other tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import Operator, provision
from tests.support.processes import fresh_database
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("victim")
    database_url, drop = fresh_database(tmp)
    started = Stack(database_url, tmp)
    try:
        yield started
    finally:
        started.stop()
        drop()


@pytest.fixture
def tenant(victim: Stack) -> Iterator[Operator]:
    """A sandbox tenant on the victim stack (sandbox, so webhooks may go to a local receiver)."""
    with victim.admin() as admin:
        operator = provision(admin, victim.url, mode="test")
    yield operator
    assert "ledger balanced" in victim.cli(["audit"], check=False)  # after every fault: the ledger still adds up
