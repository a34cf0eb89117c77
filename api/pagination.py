"""Cursor pagination: ``?limit=`` (1 to 500, default 50) and an opaque ``?cursor=`` from ``next_cursor``."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from models.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    limit: int
    after: int | None  # rows older than this position (positions grow with time)


def page(limit: int | None, cursor: str | None) -> Page:
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"must be between 1 and {MAX_LIMIT}", field="limit")
    after = None
    if cursor:
        try:
            after = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("not a cursor this API returned", field="cursor") from None
    return Page(limit or DEFAULT_LIMIT, after)


def listing(rows: list[dict[str, Any]], positions: list[int], limit: int) -> dict[str, Any]:
    """``{data, next_cursor}`` from up to ``limit + 1`` rows fetched newest first."""
    more = len(rows) > limit
    next_cursor = None
    if more:
        next_cursor = base64.urlsafe_b64encode(str(positions[limit - 1]).encode()).decode().rstrip("=")
    return {"data": rows[:limit], "next_cursor": next_cursor}
