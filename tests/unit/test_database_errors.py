"""Which database errors a request answers 503 to (retry: a concurrent transaction won, the connection was
dropped, the pool stayed busy) and which 500."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import get
from litestar.testing import create_test_client
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.errors import EXCEPTION_HANDLERS


class DriverError(Exception):
    """What a driver raises: its message and the SQLSTATE the server answered with."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def answer_to(error: Exception) -> tuple[int, dict[str, object], str | None]:
    @get("/write")
    async def write() -> None:
        raise error

    with create_test_client([write], exception_handlers=EXCEPTION_HANDLERS) as client:
        response = client.get("/write")
        return response.status_code, response.json(), response.headers.get("retry-after")


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock detected, serialization failure
def test_a_transaction_rolled_back_for_a_concurrent_one_is_retried(sqlstate: str) -> None:
    error = DBAPIError("INSERT ...", None, DriverError("deadlock detected", sqlstate))
    status, body, retry_after = answer_to(error)
    assert (status, body["type"].rsplit("/", 1)[-1], retry_after) == (503, "unavailable", "1")


def test_a_dropped_connection_or_a_busy_pool_is_retried() -> None:
    for error in (
        DBAPIError("SELECT ...", None, DriverError("terminating connection", "57P01"), connection_invalidated=True),
        asyncpg.InterfaceError("connection is closed"),  # unwrapped, as the pool opens a connection
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        PoolTimeout("QueuePool limit of size 10 overflow 20 reached, connection timed out, timeout 30.00"),
    ):
        status, body, retry_after = answer_to(error)
        assert (status, body["type"], retry_after) == (503, "unavailable", "1"), error


def test_other_database_errors_are_server_errors() -> None:
    for error in (
        DBAPIError("SELECT ...", None, DriverError("syntax error", "42601")),
        IntegrityError("INSERT ...", None, DriverError("duplicate key", "23505")),
        DBAPIError("SELECT ...", None, Exception("no sqlstate")),
    ):
        assert answer_to(error)[0] == 500
