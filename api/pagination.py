"""Cursor pagination, newest first: ``?limit=`` (1 to 500, default 50), ``?cursor=`` from ``next_cursor``,
and ``?since=``/``?until=`` time bounds.

Rows are ordered by ``(created_at, id)`` descending and a cursor holds the last row's pair, so a
traversal never repeats or skips a row that existed when it started, however many rows arrive.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, inspect, or_
from sqlalchemy.orm import Mapped
from sqlalchemy.sql import ColumnElement, Select

from api.schemas import in_utc
from models.base import iso
from models.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
Row = TypeVar("Row")
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
Column = ColumnElement[Any] | Mapped[Any]


@dataclass(frozen=True)
class Page:
    limit: int
    after: tuple[datetime, Any] | None = None
    since: datetime | None = None
    until: datetime | None = None


def page(
    limit: int | None = None, cursor: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> Page:
    """Check the paging parameters of a request: the ``paging`` dependency of every list route."""
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"must be between 1 and {MAX_LIMIT}", field="limit")
    for name, moment in (("since", since), ("until", until)):
        if moment is None:
            continue
        if moment.tzinfo is None:
            raise InvalidInput("needs a time zone, e.g. 2025-05-19T20:14:33Z", field=name)
        in_utc(moment, name)
    after = None
    if cursor:
        try:
            moment, key = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=="))
            after = (datetime.fromisoformat(moment), key)
        except (ValueError, TypeError, UnicodeDecodeError):
            raise _not_a_cursor() from None
        if after[0].tzinfo is None:
            raise _not_a_cursor()
        in_utc(after[0], "cursor")
    return Page(limit or DEFAULT_LIMIT, after, since, until)


def _not_a_cursor() -> InvalidInput:
    return InvalidInput("not a cursor this API returned", field="cursor")


def window(query: Q, created: Column, key: Column, page: Page) -> Q:
    """*query* restricted to the page: time bounds, rows after the cursor, newest first, one extra row."""
    if page.since is not None:
        query = query.where(created >= page.since)
    if page.until is not None:
        query = query.where(created < page.until)
    if page.after is not None:
        moment, last = page.after
        if not _fits(last, inspect(key).type.python_type):
            raise _not_a_cursor()
        query = query.where(or_(created < moment, and_(created == moment, key < last)))
    return query.order_by(created.desc(), key.desc()).limit(page.limit + 1)


def _fits(value: Any, python_type: type) -> bool:
    """Whether a cursor's *value* can be compared with a key column of *python_type* (ids are strings)."""
    if python_type is int:
        return type(value) is int and -(2**63) <= value < 2**63
    return type(value) is str


def cut(
    rows: Sequence[Row], page: Page, position: Callable[[Row], tuple[datetime, Any]]
) -> tuple[Sequence[Row], str | None]:
    """The page's rows from the up to ``limit + 1`` that :func:`window` fetched, and the next page's cursor."""
    shown = rows[: page.limit]
    if len(rows) <= page.limit:
        return shown, None
    moment, key = position(shown[-1])
    return shown, base64.urlsafe_b64encode(json.dumps([iso(moment), key]).encode()).decode().rstrip("=")


def listing(
    rows: Sequence[Row],
    page: Page,
    view: Callable[[Row], dict[str, Any]],
    position: Callable[[Row], tuple[datetime, Any]],
) -> dict[str, Any]:
    """``{data, next_cursor}`` from the up to ``limit + 1`` rows that :func:`window` fetched."""
    shown, next_cursor = cut(rows, page, position)
    return {"data": [view(row) for row in shown], "next_cursor": next_cursor}
