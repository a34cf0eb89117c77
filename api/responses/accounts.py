"""Answers of the health probes, administration, identity, players, the ledger and webhooks.

Like every module of this package, no ``from __future__ import annotations`` (see ``api.responses``).
"""

from typing import Annotated, Literal, NotRequired, TypedDict

from litestar.params import KwargDefinition

from api.responses import Moment, Money

# --- health, identity, administration ----------------------------------------------------------------


class Health(TypedDict):
    status: Literal["ok"]


class Checks(TypedDict):
    database: Annotated[str, KwargDefinition(description='"ok" or "unavailable: <error class>"')]
    redis: Annotated[str, KwargDefinition(description='"ok" or "unavailable: <error class>"')]


class Readiness(TypedDict):
    status: Literal["ok", "unavailable"]
    checks: Checks


class KeyTenant(TypedDict):
    slug: str
    service_mode: Literal["plug_in", "white_label"]
    key_mode: Literal["live", "test"]
    scopes: list[str]


class KeyBrand(TypedDict):
    slug: str


class Identity(TypedDict):
    tenant: KeyTenant
    brand: KeyBrand


class Brand(TypedDict):
    id: str
    slug: str
    name: str
    created_at: Moment


class Tenant(TypedDict):
    id: str
    slug: str
    name: str
    service_mode: Literal["plug_in", "white_label"]
    rate_limit_per_second: int | None
    brands: list[Brand]
    created_at: Moment


class IssuedKey(TypedDict):
    """A new API key; ``key`` is shown in this answer only."""

    id: str
    key: str
    prefix: str
    mode: Literal["live", "test"]
    brand: str
    scopes: list[str]
    created_at: Moment


# --- players and the ledger --------------------------------------------------------------------------


class Player(TypedDict):
    id: str
    username: str
    email: str | None
    external_ref: str | None
    country_code: str | None
    created_at: Moment
    balances: dict[str, Money]


class Commitment(TypedDict):
    """The player's next draw: the hash of its server seed, the default client seed, the nonce."""

    server_seed_hash: str
    client_seed: str
    nonce: int


class PlayerPosting(TypedDict):
    transaction_id: str
    kind: str
    reference: str
    asset: str
    amount: Money
    created_at: Moment


class Account(TypedDict):
    owner_type: str
    owner_id: str


class Posting(TypedDict):
    account: Account
    asset: str
    amount: Money


class Transaction(TypedDict):
    """A ledger transaction; its postings sum to zero per asset."""

    id: str
    kind: str
    reference: str
    created_at: Moment
    postings: list[Posting]


# --- webhooks ----------------------------------------------------------------------------------------


class Subscription(TypedDict):
    """A webhook subscription; ``previous_secret_expires_at`` is there once its secret has been rotated."""

    id: str
    url: str
    events: list[str]
    status: Literal["active", "paused", "failed"]
    mode: Literal["live", "test"]
    created_at: Moment
    signing_secret: NotRequired[
        Annotated[str, KwargDefinition(description="only when the subscription is created or its secret rotated")]
    ]
    previous_secret_expires_at: NotRequired[Moment]


class Attempt(TypedDict):
    attempted_at: Moment
    status_code: int | None
    error: str | None
    latency_ms: int


class Delivery(TypedDict):
    """One event sent to one subscription, with every attempt; ``next_attempt_at`` is set while pending."""

    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempt_count: int
    next_attempt_at: Moment | None
    created_at: Moment
    attempts: list[Attempt]


class Redelivered(TypedDict):
    redelivered: int


class RedeliveryQueued(TypedDict):
    id: str
    status: Literal["pending"]
