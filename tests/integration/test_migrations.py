"""The migrations build the schema the models describe: a model changed without its migration fails here."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table
from sqlalchemy.ext.asyncio import create_async_engine

from models.base import table
from models.inbox import InboxMessage
from models.schema import metadata
from models.sqlite import inbox_url


def _described(tables: list[Table]) -> MetaData:
    described = MetaData()
    for each in tables:
        each.to_metadata(described)
    return described


def _differences(url: str, described: MetaData) -> list[Any]:
    """What the database at *url* lacks or has beyond *described*: tables, columns and their types, indexes,
    constraints."""

    def compare(connection: Connection) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), described)

    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_the_migrated_database_has_the_models_schema(url: str) -> None:
    inbox = table(InboxMessage)
    if url.startswith("sqlite"):  # the inbox is a file of its own beside the database (models.migrate)
        others = [each for each in metadata.sorted_tables if each is not inbox]
        assert _differences(url, _described(others)) == []
        assert _differences(inbox_url(url), _described([inbox])) == []
    else:
        assert _differences(url, metadata) == []
