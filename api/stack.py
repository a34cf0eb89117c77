"""``wowsino run``: the whole stack on one machine, as ``make run`` starts it.

Checks the settings, starts a private ``redis-server`` when nothing answers at ``REDIS_URL`` on this
host, migrates the database, then runs the Procfile (API, workers, scheduler) under honcho until
interrupted. The admin token, when not set, is generated once into ``var/admin-token``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from redis import Redis
from redis.exceptions import RedisError

from config import Settings, SettingsError, get_settings
from models.migrate import upgrade

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
VAR = Path("var")


def _admin_token() -> tuple[str, str]:
    """The admin token for the child processes, and where it can be read."""
    token_file = VAR / "admin-token"
    if not token_file.exists():
        VAR.mkdir(exist_ok=True)
        with os.fdopen(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as written:
            written.write(secrets.token_urlsafe(32) + "\n")  # the owner's alone from its first byte
    return token_file.read_text().strip(), str(token_file)


def _redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except RedisError:
        return False


def _private_redis(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start a redis-server on REDIS_URL's port when nothing answers there and the host is this one."""
    if _redis_answers(settings.redis_url):
        return None
    parts = urlsplit(settings.redis_url)
    if parts.hostname not in LOCAL_HOSTS:
        raise SettingsError(f"REDIS_URL: no Redis answers at {parts.hostname}:{parts.port or 6379}")
    binary = shutil.which("redis-server")
    if binary is None:
        raise SettingsError("REDIS_URL: no Redis answers there and redis-server is not installed to start one")
    VAR.mkdir(exist_ok=True)
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(parts.port or 6379),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",  # queued messages are accepted work: they must survive a restart
            "yes",
            "--appendfsync",
            "everysec",
            "--appendfilename",
            f"redis-{parts.port or 6379}.aof",
            "--dir",
            str(VAR.resolve()),
            "--logfile",
            str((VAR / "redis.log").resolve()),
        ],
    )
    deadline = time.monotonic() + 10
    while not _redis_answers(settings.redis_url):
        if server.poll() is not None or time.monotonic() > deadline:
            raise SettingsError(f"REDIS_URL: could not start a private redis-server (see {VAR / 'redis.log'})")
        time.sleep(0.05)
    print(f"wowsino: started a private Redis on port {parts.port or 6379}", flush=True)
    return server


def run_stack() -> int:
    settings = get_settings()
    env = dict(os.environ)
    token_source = "WOWSINO_ADMIN_TOKEN"
    if not settings.admin_token:
        env["WOWSINO_ADMIN_TOKEN"], token_source = _admin_token()
    if settings.is_sqlite:
        VAR.mkdir(exist_ok=True)
    redis_server = _private_redis(settings)
    try:
        upgrade(settings.database_url)
        env["PORT"] = str(settings.port)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        print(
            f"wowsino: API listening on http://127.0.0.1:{settings.port} (admin token: {token_source}; "
            f"OpenAPI at /schema)",
            flush=True,
        )
        procfile = Path(__file__).resolve().parent.parent / "Procfile"
        honcho = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "-f",
                str(procfile),
                "-d",
                str(Path.cwd()),
                "-p",
                str(settings.port),
            ],
            env=env,
        )
        stop = lambda signum, frame: honcho.send_signal(signal.SIGTERM)  # noqa: E731
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return honcho.wait()
    finally:
        if redis_server is not None:
            redis_server.terminate()
            redis_server.wait(timeout=10)
