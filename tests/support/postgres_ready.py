"""Exit 0 when a PostgreSQL server answers at the URL given as the only argument (used by ``make test``)."""

from __future__ import annotations

import asyncio
import sys

import asyncpg


async def _ready(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(_ready(sys.argv[1])) else 1)
