"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import Operator, provision
from tests.support.processes import fresh_database
from tests.support.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack as real processes, shared by the integration tests of one run."""
    tmp: Path = tmp_path_factory.mktemp("stack")
    database_url, drop = fresh_database(tmp)
    started = Stack(database_url, tmp)
    try:
        yield started
    finally:
        started.stop()
        drop()


@pytest.fixture(scope="session")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with stack.admin() as client:
        yield client


@pytest.fixture
def operator(stack: Stack, admin: httpx.Client) -> Operator:
    """A fresh tenant with a live key: tests never see each other's data."""
    return provision(admin, stack.url)


_LOG_OFFSETS = pytest.StashKey[dict[Path, int]]()
_LOG_TAIL_BYTES = 6000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran on a stack shows what the stack's processes logged while it ran (their last
    lines): a 500 or a process gone is then explained in the run's own output."""
    report: pytest.TestReport = yield
    stacks = [value for value in getattr(item, "funcargs", {}).values() if isinstance(value, Stack)]
    if not stacks:
        return report
    if call.when == "setup":
        item.stash[_LOG_OFFSETS] = {path: path.stat().st_size for s in stacks for path in s.logs.glob("*.log")}
    elif report.failed:
        offsets = item.stash.get(_LOG_OFFSETS, {})
        for path in sorted(path for s in stacks for path in s.logs.glob("*.log")):
            with path.open("rb") as log:
                log.seek(max(offsets.get(path, 0), path.stat().st_size - _LOG_TAIL_BYTES))
                logged = log.read().decode(errors="replace").strip()
            if logged:
                report.sections.append((f"{path.name} while the test ran", logged))
    return report
