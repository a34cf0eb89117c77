"""Starting and stopping real processes for tests: free ports, a private Redis, a fresh database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import redis

from bench.procs import descendants, info

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    """Poll *check* until it is true. An exception counts as "not yet" (a process still starting); if the
    last poll raised one, it is the cause of the ``TimeoutError``, so that a check that cannot pass says why."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
            last = None
        except Exception as error:
            last = error
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}") from last


class Process:
    """A child process whose output goes to a log file; stopped (or killed) on demand."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.cwd = cwd
        self.argv = argv
        self.env = env
        self.log_path = logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
        """Signal the process group, SIGKILL it after *timeout*, then whatever of the tree is left:
        honcho and dramatiq start their children in process groups of their own."""
        if self.proc is None or self.proc.poll() is not None:
            return
        tree = {pid: info(pid) for pid in descendants(self.proc.pid)}
        self.send(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for pid, seen in tree.items():
            now = info(pid)
            if seen is not None and now is not None and now.argv == seen.argv:  # still the same process
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean shutdown, no acks."""
        self.stop(signal.SIGKILL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _durable(port: int) -> list[str]:
    """Redis's append-only file, synced on every write: queued messages survive a crash."""
    return ["--appendonly", "yes", "--appendfsync", "always", "--appendfilename", f"redis-{port}.aof"]


def start_redis(logs: Path) -> tuple[Process, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is needed for the tests")
    port = free_port()
    server = Process(
        "redis",
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(logs), *_durable(port)],
        dict(os.environ),
        logs,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: bool(redis.Redis.from_url(url).ping()), what="redis")
    return server, url


def fresh_database(tmp: Path) -> tuple[str, Callable[[], None]]:
    """A new empty database: a SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is set."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        return f"sqlite+aiosqlite:///{tmp / 'wowsino.db'}", lambda: None
    name = "wowsino_test_" + secrets.token_hex(4)
    admin_url = server_url.replace("postgresql+asyncpg://", "postgresql://")

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}", lambda: asyncio.run(
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


def wait_http(url: str, timeout: float = 30) -> None:
    wait_until(lambda: httpx.get(url, timeout=1).status_code == 200, timeout, what=url)
