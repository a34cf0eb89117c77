"""Every table, imported in one place so migrations and tests see the whole schema."""

from sqlmodel import SQLModel

from models import (
    idempotency,
    inbox,
    jackpots,
    journeys,
    ledger,
    players,
    prize_engines,
    raffles,
    tenancy,
    tournaments,
    webhooks,
)

metadata = SQLModel.metadata
__all__ = [
    "idempotency",
    "inbox",
    "jackpots",
    "journeys",
    "ledger",
    "metadata",
    "players",
    "prize_engines",
    "raffles",
    "tenancy",
    "tournaments",
    "webhooks",
]
