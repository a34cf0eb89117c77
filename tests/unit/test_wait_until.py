"""The tests' polling helper: an exception is "not yet", and the last poll's is the cause of a timeout."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.processes import wait_until


def _raising_once(then: bool) -> Callable[[], bool]:
    """A check whose first poll raises (a process still starting) and whose later ones answer *then*."""
    polls = iter([ValueError("starting")])

    def check() -> bool:
        for error in polls:
            raise error
        return then

    return check


def test_a_check_that_raised_and_then_comes_true_passes() -> None:
    wait_until(_raising_once(then=True), timeout=5)


def test_the_exception_of_the_last_poll_is_the_cause_of_the_timeout() -> None:
    with pytest.raises(TimeoutError, match="the body") as timed_out:
        wait_until(lambda: json.loads('{"id": "msg_') == {}, timeout=0.2, what="the body")
    assert isinstance(timed_out.value.__cause__, json.JSONDecodeError)


def test_an_exception_followed_by_false_is_not_the_cause() -> None:
    with pytest.raises(TimeoutError) as timed_out:
        wait_until(_raising_once(then=False), timeout=0.2)
    assert timed_out.value.__cause__ is None
