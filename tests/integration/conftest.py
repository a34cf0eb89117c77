"""Fixtures of the tests that use the database directly, without a running stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import load_settings
from models.db import Database
from models.migrate import upgrade
from tests.support.processes import fresh_database


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of the run's kind (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""
    url, drop = fresh_database(tmp_path)
    upgrade(url)
    yield url
    drop()


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(load_settings({"DATABASE_URL": url}))
    yield database
    asyncio.run(database.dispose())
