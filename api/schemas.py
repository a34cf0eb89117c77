"""Request bodies and parameters. Unknown fields are refused, and every constraint names its field when broken.

No string takes a NUL character: PostgreSQL's text cannot hold one, so that neither database is given
one; the bodies' free text by its types' pattern, the path and query parameters by ``refuse_nul``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request
from msgspec import Meta

from models.errors import InvalidInput

TEXT = r"^[^\x00]+$"
Slug = Annotated[
    str, Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", description="lowercase letters, digits, dashes")
]
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT)]
Username = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
IdempotencyKey = Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+$")]
ClientSeed = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
Scope = Literal[
    "*",
    "players:read",
    "players:write",
    "engines:read",
    "engines:write",
    "engines:play",
    "ledger:read",
    "webhooks:write",
]
Asset = Annotated[str, Meta(pattern=r"^(WINZ|XP|BONUS|[A-Z]{3})$")]
Winz = Annotated[int, Meta(ge=0, le=10**12)]
Amount = Annotated[int, Meta(ge=0, le=10**15)] | Annotated[str, Meta(pattern=r"^\d{1,12}(\.\d{1,8})?$")]


class Body(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every request body."""


class BrandCreate(Body):
    slug: Slug
    name: Name | None = None


RateLimit = Annotated[int, Meta(ge=1, le=10_000_000)]


class TenantCreate(Body):
    slug: Slug
    service_mode: Literal["plug_in", "white_label"]
    brand: BrandCreate
    name: Name | None = None
    rate_limit_per_second: RateLimit | None = None


class TenantPatch(Body):
    name: Name | None = None
    rate_limit_per_second: RateLimit | None = None


class KeyCreate(Body):
    brand: Slug
    mode: Literal["live", "test"]
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=8)] | None = None


class PlayerCreate(Body):
    username: Username
    email: Email | None = None
    external_ref: Annotated[str, Meta(min_length=1, max_length=255, pattern=TEXT)] | None = None
    country_code: CountryCode | None = None
    idempotency_key: IdempotencyKey | None = None


class Segment(Body):
    label: Annotated[str, Meta(min_length=1, max_length=64, pattern=TEXT)]
    asset: Asset
    amount: Amount
    weight: Annotated[int, Meta(ge=1, le=10**9)]


class LootboxCreate(Body):
    name: Name
    prize_table: Annotated[list[Segment], Meta(min_length=1, max_length=100)]
    cost_winz: Winz = 0
    cooldown_s: Annotated[int, Meta(ge=0, le=31_536_000)] = 0
    idempotency_key: IdempotencyKey | None = None


class MiniGameCreate(Body):
    name: Name
    kind: Literal["wheel", "scratch", "pick"]
    prize_table: Annotated[list[Segment], Meta(min_length=1, max_length=100)]
    cost_winz: Winz = 0
    idempotency_key: IdempotencyKey | None = None


class EnginePatch(Body):
    name: Name | None = None
    status: Literal["active", "paused", "archived"] | None = None
    idempotency_key: IdempotencyKey | None = None


class TournamentPatch(EnginePatch):
    starts_at: Moment | None = None
    ends_at: Moment | None = None

    def __post_init__(self) -> None:
        for field, moment in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if moment is not None:
                in_utc(moment, field)


class RafflePatch(EnginePatch):
    draw_at: Moment | None = None

    def __post_init__(self) -> None:
        if self.draw_at is not None:
            in_utc(self.draw_at, "draw_at")


class OpenRequest(Body):
    user_id: Username
    idempotency_key: IdempotencyKey | None = None
    client_seed: ClientSeed | None = None


SourceId = Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+$")]
Moment = Annotated[datetime, Meta(tz=True)]  # checked by ``in_utc`` in its struct's ``__post_init__``
Trigger = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class RaffleCreate(Body):
    name: Name
    ticket_cost_winz: Winz
    prize_winz: Winz
    draw_at: Moment | None = None
    idempotency_key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        if self.draw_at is not None:
            in_utc(self.draw_at, "draw_at")


class EnterRequest(Body):
    user_id: Username
    tickets: Annotated[int, Meta(ge=1, le=100_000)] = 1
    idempotency_key: IdempotencyKey | None = None


class DrawRequest(Body):
    client_seed: ClientSeed | None = None
    idempotency_key: IdempotencyKey | None = None


class JackpotCreate(Body):
    name: Name
    currency: Asset
    seed_amount: Decimal
    must_drop_at: Decimal | None = None
    idempotency_key: IdempotencyKey | None = None


class ContributeRequest(Body):
    user_id: Username
    source_wager_id: SourceId
    amount: Decimal
    idempotency_key: IdempotencyKey | None = None


class KeyOnly(Body):
    """The body of a write whose path names all it does (rotating a secret, closing a tournament): optional."""

    idempotency_key: IdempotencyKey | None = None


class DropRequest(Body):
    winner_user_id: Username | None = None
    idempotency_key: IdempotencyKey | None = None


class PrizeBand(Body):
    rank_from: Annotated[int, Meta(ge=1, le=100_000)]
    rank_to: Annotated[int, Meta(ge=1, le=100_000)]
    prize_winz: Winz


class TournamentCreate(Body):
    name: Name
    starts_at: Moment
    ends_at: Moment
    prizes: Annotated[list[PrizeBand], Meta(min_length=1, max_length=100)]
    idempotency_key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        in_utc(self.starts_at, "starts_at")
        in_utc(self.ends_at, "ends_at")


class ScoreRequest(Body):
    user_id: Username
    source_wager_id: SourceId
    points: Annotated[int, Meta(ge=1, le=10**12)]
    idempotency_key: IdempotencyKey | None = None


class JourneyStep(Body):
    trigger: Trigger
    count: Annotated[int, Meta(ge=1, le=1_000_000)] = 1
    reward_winz: Winz = 0


class JourneyCreate(Body):
    name: Name
    steps: Annotated[list[JourneyStep], Meta(min_length=1, max_length=50)]
    reward_winz: Winz = 0
    idempotency_key: IdempotencyKey | None = None


class JourneyEventRequest(Body):
    user_id: Username
    trigger: Trigger
    source_event_id: SourceId | None = None
    idempotency_key: IdempotencyKey | None = None


EventPattern = Annotated[str, Meta(min_length=1, max_length=64, pattern=TEXT)]
Url = Annotated[str, Meta(min_length=1, max_length=2048, pattern=TEXT)]


class WebhookCreate(Body):
    url: Url
    events: Annotated[list[EventPattern], Meta(min_length=1, max_length=32)]
    idempotency_key: IdempotencyKey | None = None


class WebhookPatch(Body):
    url: Url | None = None
    events: Annotated[list[EventPattern], Meta(min_length=1, max_length=32)] | None = None
    status: Literal["active", "paused"] | None = None
    idempotency_key: IdempotencyKey | None = None


class RedeliverRequest(Body):
    since: Moment
    idempotency_key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        in_utc(self.since, "since")


def in_utc(moment: datetime, field: str) -> None:
    """Refuse a moment with a time zone that falls outside the years 1 to 9999 once in UTC."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("out of range once in UTC (years 1 to 9999)", field=field) from None


def refuse_nul(request: Request[Any, Any, Any]) -> None:
    """Refuse a path or query parameter holding a NUL character, naming it."""
    if "\x00" in request.scope["path"]:
        for name, value in request.path_params.items():
            if isinstance(value, str) and "\x00" in value:
                raise InvalidInput("must not contain a NUL character", field=name)
    if b"%00" in request.scope["query_string"]:
        for name, value in request.query_params.multi_items():
            if "\x00" in name or "\x00" in value:
                raise InvalidInput("must not contain a NUL character", field=name)
