"""The API's waiter hands each announced outcome to the waiters of its operation, and only to them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from api.waiter import ResultWaiter


def _woken(announcements: list[str]) -> dict[str, Any]:
    """What each waiter of operations a and b got from *announcements* (no connection is made)."""

    async def scenario() -> dict[str, Any]:
        waiter = ResultWaiter(Redis(port=1), Redis(port=1))
        futures = {name: asyncio.get_running_loop().create_future() for name in ("a", "b")}
        for name, future in futures.items():
            waiter._waiting[name] = {future}
        for announcement in announcements:
            waiter._wake(announcement)
        return {name: future.result() if future.done() else "waiting" for name, future in futures.items()}

    return asyncio.run(scenario())


def test_an_announcement_hands_its_outcome_to_its_operations_waiters_only() -> None:
    outcome = {"status": 201, "body": {"reward": {"amount": 100}}, "deduped": False}
    assert _woken(["c " + json.dumps(outcome), "a " + json.dumps(outcome)]) == {"a": outcome, "b": "waiting"}


def test_an_announcement_without_an_outcome_wakes_its_waiters_to_read_it() -> None:
    assert _woken(["a", "b not json"]) == {"a": None, "b": None}


def test_a_message_of_several_lines_announces_each_operation() -> None:
    first = {"status": 201, "body": {"reward": {"amount": 100, "label": "a\nb"}}, "deduped": False}
    second = {"error": {"type": "insufficient-balance"}}
    message = "\n".join(["a " + json.dumps(first), "c " + json.dumps(first), "b " + json.dumps(second)])
    assert _woken([message]) == {"a": first, "b": second}
