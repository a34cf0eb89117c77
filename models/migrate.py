"""Bring a database to the latest schema with Alembic (``wowsino migrate``, run before serving)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from models.base import table
from models.inbox import InboxMessage
from models.sqlite import inbox_url

HERE = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Migrate the database; on SQLite also create the inbox file beside it (a spool of accepted
    messages, outside the database so that accepting never waits for the workers' write lock)."""
    command.upgrade(alembic_config(database_url), "head")
    if database_url.startswith("sqlite"):
        engine = create_engine(inbox_url(database_url).replace("+aiosqlite", ""))
        try:
            SQLModel.metadata.create_all(engine, tables=[table(InboxMessage)])
        finally:
            engine.dispose()
