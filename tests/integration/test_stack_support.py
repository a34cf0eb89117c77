"""The tests' own stack: one that does not come up leaves nothing running behind the failed test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import stack as stack_module
from tests.support.processes import Process
from tests.support.stack import Stack


def test_a_stack_that_does_not_come_up_stops_what_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Process] = []
    real_start = stack_module.start_redis

    def start_redis(logs: Path) -> tuple[Process, str]:
        server, url = real_start(logs)
        started.append(server)
        return server, url

    monkeypatch.setattr(stack_module, "start_redis", start_redis)
    with pytest.raises(AssertionError, match="migrate"):
        Stack("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path)  # no database answers there
    assert started and not started[0].alive()
