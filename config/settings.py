"""Every setting WOWsino reads, parsed once from the environment into one typed object.

Nothing else in the project reads ``os.environ``. A bad or missing value raises
:class:`SettingsError` whose message names the variable, so start-up stops with one clear line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one WOWsino process."""

    database_url: str = "sqlite+aiosqlite:///./var/wowsino.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    admin_token: str | None = field(default=None, repr=False)
    port: int = 8000
    web_concurrency: int = 2
    draw_wait_timeout_s: float = 5.0
    webhook_retry_schedule_s: tuple[float, ...] = (5, 30, 120, 600, 3600, 21600)
    webhook_retry_repeat_s: float = 43200
    webhook_retry_horizon_s: float = 259200
    webhook_timeout_s: float = 10.0
    idempotency_ttl_s: int = 86400
    player_lock_ttl_s: float = 10.0
    player_lock_wait_s: float = 30.0
    broker_heartbeat_timeout_s: float = 60.0
    broker_maintenance_chance: int = 1000
    broker_idle_poll_s: float = 0.01
    broker_background_idle_poll_s: float = 0.1
    scheduler_interval_s: float = 1.0
    outbox_grace_s: float = 30.0
    close_grace_s: float = 5.0
    max_body_bytes: int = 1_048_576
    rate_limit_per_second: int = 5000
    log_level: str = "INFO"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0]
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        return "postgresql+asyncpg://" + raw.split("://", 1)[1]
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        return "sqlite+aiosqlite://" + raw.split("://", 1)[1]
    raise SettingsError(
        f"DATABASE_URL: unsupported scheme {scheme!r} (use sqlite:///path.db or postgresql://user@host/db)"
    )


def _redis_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise SettingsError("REDIS_URL: expected redis://host:port/db")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SettingsError("REDIS_URL: the port is not a number") from None
    return raw


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if not value.is_finite() or not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low:g} and {high:g}, got {raw!r}")
    return float(value)


def _integer(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit():
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}, got {raw!r}")
    return value


def _schedule(raw: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    if not raw:
        return default
    try:
        steps = tuple(float(Decimal(part)) for part in raw.split(","))
    except InvalidOperation:
        raise SettingsError(f"WEBHOOK_RETRY_SCHEDULE: expected seconds separated by commas, got {raw!r}") from None
    if not steps or any(not 0 < step <= 7 * 86400 for step in steps):
        raise SettingsError("WEBHOOK_RETRY_SCHEDULE: every delay must be above 0 and at most 7 days")
    return steps


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse *env* into :class:`Settings`, raising :class:`SettingsError` naming the first bad setting."""
    token = env.get("WOWSINO_ADMIN_TOKEN") or None
    if token is not None and (len(token) < 16 or not token.isprintable() or " " in token):
        raise SettingsError("WOWSINO_ADMIN_TOKEN: must be at least 16 printable characters without spaces")
    level = env.get("LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {level!r}")
    defaults = Settings()
    return Settings(
        database_url=_database_url(env.get("DATABASE_URL") or defaults.database_url),
        redis_url=_redis_url(env.get("REDIS_URL") or defaults.redis_url),
        admin_token=token,
        port=_integer(env, "PORT", defaults.port, low=1, high=65535),
        web_concurrency=_integer(env, "WEB_CONCURRENCY", defaults.web_concurrency, low=1, high=64),
        draw_wait_timeout_s=_number(env, "DRAW_WAIT_TIMEOUT", defaults.draw_wait_timeout_s, low=0.1, high=60),
        webhook_retry_schedule_s=_schedule(env.get("WEBHOOK_RETRY_SCHEDULE"), defaults.webhook_retry_schedule_s),
        webhook_retry_repeat_s=_number(
            env, "WEBHOOK_RETRY_REPEAT", defaults.webhook_retry_repeat_s, low=0.01, high=7 * 86400
        ),
        webhook_retry_horizon_s=_number(
            env, "WEBHOOK_RETRY_HORIZON", defaults.webhook_retry_horizon_s, low=0.01, high=30 * 86400
        ),
        webhook_timeout_s=_number(env, "WEBHOOK_TIMEOUT", defaults.webhook_timeout_s, low=0.1, high=60),
        idempotency_ttl_s=_integer(env, "IDEMPOTENCY_TTL", defaults.idempotency_ttl_s, low=86400, high=30 * 86400),
        player_lock_ttl_s=_number(env, "PLAYER_LOCK_TTL", defaults.player_lock_ttl_s, low=0.5, high=600),
        player_lock_wait_s=_number(env, "PLAYER_LOCK_WAIT", defaults.player_lock_wait_s, low=0.1, high=600),
        broker_heartbeat_timeout_s=_number(
            env, "BROKER_HEARTBEAT_TIMEOUT", defaults.broker_heartbeat_timeout_s, low=0.5, high=3600
        ),
        broker_maintenance_chance=_integer(
            env, "BROKER_MAINTENANCE_CHANCE", defaults.broker_maintenance_chance, low=1, high=1_000_000
        ),
        broker_idle_poll_s=_number(env, "BROKER_IDLE_POLL", defaults.broker_idle_poll_s, low=0.001, high=5),
        broker_background_idle_poll_s=_number(
            env, "BROKER_BACKGROUND_IDLE_POLL", defaults.broker_background_idle_poll_s, low=0.001, high=5
        ),
        scheduler_interval_s=_number(env, "SCHEDULER_INTERVAL", defaults.scheduler_interval_s, low=0.05, high=3600),
        outbox_grace_s=_number(env, "OUTBOX_GRACE", defaults.outbox_grace_s, low=0.1, high=86400),
        close_grace_s=_number(env, "CLOSE_GRACE", defaults.close_grace_s, low=0, high=3600),
        max_body_bytes=_integer(env, "MAX_BODY_BYTES", defaults.max_body_bytes, low=1024, high=64 * 1_048_576),
        rate_limit_per_second=_integer(
            env, "RATE_LIMIT_PER_SECOND", defaults.rate_limit_per_second, low=1, high=10_000_000
        ),
        log_level=level,
    )


@cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return load_settings(os.environ)
