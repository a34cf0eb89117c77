"""``wowsino run`` (what ``make run`` starts) refuses bad settings with one line naming the setting."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import BIN


@pytest.mark.parametrize(
    ("setting", "value"),
    [("PORT", "eighty"), ("DATABASE_URL", "mysql://db"), ("REDIS_URL", "http://x"), ("WOWSINO_ADMIN_TOKEN", "short")],
)
def test_bad_setting_stops_start_up_naming_it(tmp_path: Path, setting: str, value: str) -> None:
    env = {**os.environ, setting: value}
    done = subprocess.run(
        [str(BIN / "wowsino"), "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"wowsino: {setting}:")
