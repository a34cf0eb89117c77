"""Every table, imported in one place so migrations and tests see the whole schema."""

from sqlmodel import SQLModel

from models import idempotency, ledger, players, prize_engines, tenancy, webhooks

metadata = SQLModel.metadata
__all__ = ["idempotency", "ledger", "metadata", "players", "prize_engines", "tenancy", "webhooks"]
