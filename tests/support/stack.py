"""The stack as separate real processes: two API processes, draw and webhook workers, a scheduler.

Each part can be killed and restarted on its own, which fault tests need; ``tests/e2e`` starts the
stack through ``wowsino run`` instead, exactly as ``make run`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.processes import BIN, Process, free_port, start_redis, wait_http

ADMIN_TOKEN = "test-admin-token-" + "x" * 16
FAST_SETTINGS = {
    "WOWSINO_ADMIN_TOKEN": ADMIN_TOKEN,
    "WEBHOOK_RETRY_SCHEDULE": "0.3,0.6,1.2",
    "WEBHOOK_RETRY_REPEAT": "2",
    "WEBHOOK_RETRY_HORIZON": "60",
    "WEBHOOK_TIMEOUT": "2",
    "OUTBOX_GRACE": "2",
    "SCHEDULER_INTERVAL": "0.2",
    "DRAW_WAIT_TIMEOUT": "15",
    "BROKER_HEARTBEAT_TIMEOUT": "3",
    "BROKER_MAINTENANCE_CHANCE": "100000",  # per million broker calls: 10%
    "PLAYER_LOCK_TTL": "3",
    "LOG_LEVEL": "INFO",
}


class Stack:
    """Every process of a WOWsino deployment, on a private Redis and a given database."""

    def __init__(self, database_url: str, logs: Path, settings: dict[str, str] | None = None) -> None:
        self.logs = logs
        self.redis_server, self.redis_url = start_redis(logs)
        self.running: list[Process] = []  # what stop() stops before Redis, should the stack not come up
        try:
            self._start(database_url, settings or {})
        except BaseException:  # nothing left running (the test that needed it fails at its setup)
            self.stop()
            raise

    def _start(self, database_url: str, settings: dict[str, str]) -> None:
        self.env = {**os.environ, **FAST_SETTINGS, **settings}
        self.env.update(DATABASE_URL=database_url, REDIS_URL=self.redis_url)
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.database_url = database_url
        self.cli(["migrate"])
        self.ports = [free_port(), free_port()]
        self.apis = [self._api(index, port) for index, port in enumerate(self.ports)]
        self.draws = self._worker("draws", processes=2)
        self.events = self._worker("events", processes=2, threads=32)
        self.webhooks = self._worker("webhooks", processes=1)
        scheduler = [sys.executable, "-m", "actors.scheduler"]
        self.scheduler = self._started(Process("scheduler", scheduler, self.env, self.logs))
        for port in self.ports:
            wait_http(f"http://127.0.0.1:{port}/health")
        self.url = f"http://127.0.0.1:{self.ports[0]}"

    def _started(self, process: Process) -> Process:
        self.running.append(process)
        return process

    def _api(self, index: int, port: int) -> Process:
        argv = [
            str(BIN / "uvicorn"),
            "api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "2",
        ]
        return self._started(Process(f"api{index}", argv, self.env, self.logs))

    def _worker(self, queue: str, *, processes: int, threads: int = 8) -> Process:
        argv = [
            str(BIN / "dramatiq"),
            "actors.broker:broker",
            "actors",
            "--queues",
            queue,
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        return self._started(Process(f"worker-{queue}", argv, self.env, self.logs))

    def cli(self, args: list[str], check: bool = True) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if check and done.returncode != 0:
            raise AssertionError(f"wowsino {' '.join(args)} failed: {done.stderr}")
        return done.stdout + done.stderr

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)

    def processes(self) -> list[Process]:
        return [*self.apis, self.draws, self.events, self.webhooks, self.scheduler, self.redis_server]

    def stop(self) -> None:
        started = time.monotonic()
        for process in [*self.running, self.redis_server]:
            process.send(signal.SIGTERM)
        for process in [*self.running, self.redis_server]:
            process.stop()
            if time.monotonic() - started > 5:
                print(f"{process.name} took long to stop")
