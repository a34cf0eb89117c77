"""``wowsino run`` as a user starts it: an empty folder, no Redis at REDIS_URL, no admin token set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import BIN, Process, free_port, fresh_database, wait_http


@contextmanager
def wowsino_run(home: Path) -> Iterator[tuple[str, Process]]:
    """The stack ``make run`` starts, in *home*, on a fresh database: ``(base URL, the process)``."""
    database_url, drop = fresh_database(home)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "WOWSINO_ADMIN_TOKEN"}
    env.update(
        PORT=str(port),
        DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        WEBHOOK_RETRY_SCHEDULE="0.5,1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    stack = Process("wowsino-run", [str(BIN / "wowsino"), "run"], env, home, cwd=home)
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", timeout=60)
        yield f"http://127.0.0.1:{port}", stack
    finally:
        stack.stop()
        drop()
