"""The benchmark's database: a fresh SQLite file, or a fresh PostgreSQL database created and dropped here."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg


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
