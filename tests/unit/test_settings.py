"""Settings: defaults for a laptop, and one clear message naming any bad setting."""

from __future__ import annotations

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_work_on_a_laptop() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.port == 8000 and settings.webhook_retry_schedule_s[0] == 5


def test_postgres_urls_use_asyncpg() -> None:
    assert load_settings({"DATABASE_URL": "postgresql://u@h/db"}).database_url == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"WOWSINO_ADMIN_TOKEN": "short"}, "WOWSINO_ADMIN_TOKEN"),
        ({"WEBHOOK_RETRY_SCHEDULE": "5,x"}, "WEBHOOK_RETRY_SCHEDULE"),
        ({"DRAW_WAIT_TIMEOUT": "nan"}, "DRAW_WAIT_TIMEOUT"),
        ({"BROKER_IDLE_POLL": "0"}, "BROKER_IDLE_POLL"),
        ({"BROKER_BACKGROUND_IDLE_POLL": "9"}, "BROKER_BACKGROUND_IDLE_POLL"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as bad:
        load_settings(env)
    assert str(bad.value).startswith(name + ":")


def test_admin_token_never_appears_in_repr() -> None:
    assert "s3cret-admin-token-value" not in repr(load_settings({"WOWSINO_ADMIN_TOKEN": "s3cret-admin-token-value"}))
