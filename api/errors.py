"""Every error answer is RFC 9457 problem details; this module is the one place that makes them."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models import errors

log = logging.getLogger("wowsino.api")
PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InsufficientBalance: 402,
    errors.Cooldown: 429,
    errors.RateLimited: 429,
    errors.IdempotencyKeyReused: 422,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.Unavailable: 503,
}
_FIELD_IN_MESSAGE = re.compile(r"`([^`]+)`")
_PATH_IN_MESSAGE = re.compile(r" - at `\$\.?([^`]*)`$")


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": slug, "title": title, "status": status, "detail": detail}
    if fields:
        body["errors"] = fields
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(error: errors.DomainError) -> Response[dict[str, Any]]:
    status = next((STATUS_BY_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_BY_ERROR), 400)
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    fields = [{"field": error.field, "message": error.detail}] if error.field else None
    return problem(status, error.slug, error.title, error.detail, fields=fields, headers=headers)


def located(message: str) -> tuple[str | None, str]:
    """A msgspec validation message split into the path it ends with (``""`` for the whole document, ``None``
    when it names none) and the message without it."""
    path = _PATH_IN_MESSAGE.search(message)
    return (path.group(1) if path else None), _PATH_IN_MESSAGE.sub("", message)


def _field_of(item: dict[str, Any]) -> str:
    """The body field a Litestar/msgspec validation message is about."""
    message = str(item.get("message", ""))
    path, _ = located(message)
    if path is not None:
        return path or "body"
    key = str(item.get("key") or "body")
    if key == "data":  # whole-body errors name the field in backticks: unknown or missing field
        named = _FIELD_IN_MESSAGE.search(message)
        return named.group(1) if named and "field" in message else "body"
    return key


def _message_of(item: dict[str, Any]) -> str:
    _, message = located(str(item.get("message", "")))
    if item.get("source") == "body" and message == repr(item.get("key")):  # no body at all: Litestar's KeyError
        return "a JSON body is required"
    return message


def validation_problem(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    fields = [{"field": _field_of(item), "message": _message_of(item)} for item in extra if isinstance(item, dict)]
    detail = fields[0]["field"] + ": " + fields[0]["message"] if fields else str(exc.detail)
    return problem(
        400,
        "invalid-request",
        "Invalid request",
        detail,
        fields=fields or [{"field": "body", "message": str(exc.detail)}],
    )


def http_problem(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, slug, HTTPStatus(exc.status_code).phrase, str(exc.detail), headers=exc.headers)


def domain_handler(_: Request[Any, Any, Any], exc: errors.DomainError) -> Response[dict[str, Any]]:
    return domain_problem(exc)


def dependency_down(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    log.warning("%s %s: dependency unavailable: %s %s", request.method, request.url.path, type(exc).__name__, detail)
    return problem(
        503,
        "unavailable",
        "Service unavailable",
        "a dependency is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )


def database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """A connection the server dropped mid-request (a restart, a failover) and a transaction the database rolled
    back because a concurrent one won (SQLSTATE class 40: a deadlock, a serialization failure) are transient:
    ``503``, retry. Any other database error is a bug (``500``)."""
    if exc.connection_invalidated or str(getattr(exc.orig, "sqlstate", None) or "").startswith("40"):
        return dependency_down(request, exc)
    return unexpected(request, exc)


def too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    detail = "JSON is nested too deeply"
    return problem(400, "invalid-request", "Invalid request", detail, fields=[{"field": "body", "message": detail}])


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal-error", "Internal error", "an unexpected error occurred; it has been logged")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValidationException: validation_problem,
    HTTPException: http_problem,
    errors.DomainError: domain_handler,
    RedisError: dependency_down,
    OperationalError: dependency_down,
    InterfaceError: dependency_down,
    DBAPIError: database_error,
    ConnectionError: dependency_down,
    PoolTimeout: dependency_down,  # every pooled connection busy for the pool's timeout: a database stalled
    # asyncpg's own, raised unwrapped while the pool opens a connection the server ends at once
    asyncpg.InterfaceError: dependency_down,
    asyncpg.PostgresConnectionError: dependency_down,
    asyncpg.exceptions.OperatorInterventionError: dependency_down,
    RecursionError: too_deep,
    Exception: unexpected,
}
