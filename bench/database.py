"""The benchmark's database: a fresh SQLite file, or a fresh PostgreSQL database created and dropped here."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy import make_url

from models.sqlite import inbox_url


def redact(url: str) -> str:
    """*url* without its password, safe to print and to store."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def is_postgres(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in {"postgres", "postgresql", "postgresql+asyncpg"}


class Database:
    """A database nobody else uses, for one stack start: ``url`` to hand to the stack, ``drop()`` at the end."""

    def __init__(self, server_url: str | None, home: Path, label: str) -> None:
        self.server_url = server_url if is_postgres(server_url) else None
        if self.server_url is None:
            self.url = f"sqlite:///{home / f'{label}.db'}"
            self.name = self.url
            return
        self.name = f"wowsino_bench_{label.replace('-', '_')}_{secrets.token_hex(4)}"
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))
        self.url = urlunsplit(urlsplit(self.server_url)._replace(path=f"/{self.name}"))

    @property
    def kind(self) -> str:
        return "sqlite" if self.server_url is None else "postgresql"

    async def _admin(self, statement: str) -> None:
        assert self.server_url is not None
        dsn = self.server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def drop(self) -> None:
        if self.server_url is not None:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def forget_unsettled_inbox(url: str) -> None:
    """Delete the inbox rows of messages not carried out: after the bench drops a backlog from Redis, the
    scheduler's sweep would otherwise queue every dropped message again, in the middle of a later
    measurement (``models.inbox``)."""
    if not is_postgres(url):
        path = make_url(inbox_url(url)).database or ""
        with closing(sqlite3.connect(path, timeout=30)) as connection, connection:
            connection.execute(_FORGET)
        return

    async def forget() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
        try:
            await connection.execute(_FORGET)
        finally:
            await connection.close()

    asyncio.run(forget())


_FORGET = "DELETE FROM inbox_messages WHERE settled_at IS NULL"
