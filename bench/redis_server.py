"""A private ``redis-server`` on a free port, for the stack and the floors alike."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from bench.procs import Child, child_env, free_port


class RedisServer:
    """One redis-server bound to 127.0.0.1, with the append-only file that ``make run``'s Redis has."""

    def __init__(self, logs: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("bench: redis-server is not installed (apt-get install -y redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "everysec"]  # as the Redis that ``make run`` starts
        self.child = Child("redis", [*argv, "--dir", str(logs)], child_env({}), logs)
        self.client = Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while not self._answers():
            if not self.child.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server did not start:\n{self.child.tail()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except RedisError:
            return False

    def stop(self) -> None:
        self.client.close()
        self.child.stop()
