"""Fixtures of the tests that use the database or a Redis directly, without a running stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from config.settings import load_settings
from models.db import Database
from models.migrate import upgrade
from tests.support.processes import fresh_database, start_redis


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


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """The text of each statement *db*'s write engine sends, in order."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.write_engine.sync_engine, "before_cursor_execute", record)
    yield sent
    event.remove(db.write_engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server of the test module's own."""
    server, url = start_redis(Path(tmp_path_factory.mktemp("redis")))
    yield url
    server.stop()
