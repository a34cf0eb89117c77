"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import Operator, provision
from tests.support.processes import fresh_database
from tests.support.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack as real processes, shared by the integration tests of one run."""
    tmp: Path = tmp_path_factory.mktemp("stack")
    database_url, drop = fresh_database(tmp)
    started = Stack(database_url, tmp)
    try:
        yield started
    finally:
        started.stop()
        drop()


@pytest.fixture(scope="session")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with stack.admin() as client:
        yield client


@pytest.fixture
def operator(stack: Stack, admin: httpx.Client) -> Operator:
    """A fresh tenant with a live key: tests never see each other's data."""
    return provision(admin, stack.url)
