"""WINZ amounts and raffle ticket numbers in 64-bit columns

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:10:00.000000

The API takes WINZ amounts up to 10^12 (a lootbox's or mini-game's cost, a raffle's ticket cost and
prize, a journey's reward), as the ledger's 64-bit balances hold them, but these columns were 32-bit
INTEGER: on PostgreSQL a value above 2,147,483,647 failed the insert (SQLite's integers are 64-bit
whatever the declared type). A raffle entry's cost (tickets times the ticket cost) and the raffles'
ticket numbers, which count every ticket sold, get the same width. On PostgreSQL each table is
rewritten under an exclusive lock while its column types change: on large draw tables, run it in a
quiet hour. On SQLite the tables are copied (Alembic's batch mode).
"""

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

WIDENED = {
    "journeys": ["reward_winz"],
    "lootboxes": ["cost_winz"],
    "mini_games": ["cost_winz"],
    "lootbox_opens": ["cost_winz"],
    "mini_game_plays": ["cost_winz"],
    "raffles": ["ticket_cost_winz", "prize_winz", "total_tickets"],
    "raffle_entries": ["first_ticket", "last_ticket", "cost_winz"],
    "raffle_draws": ["winning_ticket_idx", "total_tickets"],
}


def _retype(before: sa.types.TypeEngine[int], after: sa.types.TypeEngine[int]) -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.alter_column(column, type_=after, existing_type=before, existing_nullable=False)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())
