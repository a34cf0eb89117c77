"""Success answers, as the OpenAPI document shows them: every field, its type, and whether it can be absent.

Handlers answer with the plain dicts the model views build; these TypedDicts describe those dicts and
reach ``/schema`` through each route's ``responses=`` (see :func:`answer`). The fuzz test checks every
real answer against them, so a view that gains or changes a field must change here too. This module
holds what several routes share; ``accounts`` and ``engines`` hold the rest.

No ``from __future__ import annotations`` in this package: ``NotRequired`` (a field that is sometimes
absent, as opposed to null) is only seen by ``TypedDict`` when the annotations are real objects.
"""

from typing import Annotated, Any, Generic, Literal, TypedDict, TypeVar

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec.enums import OpenAPIFormat
from litestar.params import KwargDefinition

Row = TypeVar("Row")

Moment = Annotated[str, KwargDefinition(format=OpenAPIFormat.DATE_TIME, description="RFC 3339, UTC")]
Money = Annotated[
    int | str,
    KwargDefinition(description="an integer for WINZ and XP, an exact decimal string for BONUS and currencies"),
]
EngineStatus = Literal["active", "paused", "archived"]


def answer(shape: Any, description: str, status: int = 200) -> dict[int, ResponseSpec]:
    """A route's ``responses=`` entry: its answer at *status* has *shape* (merge several with ``|``)."""
    return {status: ResponseSpec(shape, description=description, generate_examples=False)}


class Page(TypedDict, Generic[Row]):
    """A listing: newest first; ``next_cursor`` is null on the last page."""

    data: list[Row]
    next_cursor: str | None


class Reveal(TypedDict):
    """What a draw is verified with: the revealed server seed, its hash, the client seed and the nonce."""

    server_seed: str
    server_seed_hash: str
    client_seed: str
    nonce: int


class Pending(TypedDict):
    """An operation a worker has not finished yet."""

    operation_id: str
    status: Literal["pending"]


class Submitted(Pending):
    """The draw outlasted the wait: its outcome will be at ``url``."""

    url: str


class Accepted(TypedDict):
    """A pipeline event queued; ``deduped`` when its business id was already counted."""

    status: Literal["accepted"]
    deduped: bool
