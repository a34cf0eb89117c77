"""Every table, imported in one place so migrations and tests see the whole schema."""

from sqlmodel import SQLModel

from models import idempotency, ledger, lootbox, players, tenancy, webhooks

metadata = SQLModel.metadata
__all__ = ["idempotency", "ledger", "lootbox", "metadata", "players", "tenancy", "webhooks"]
