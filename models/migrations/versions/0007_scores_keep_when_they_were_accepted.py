"""Each tournament score keeps when the API accepted it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:15:00.000000

Equal totals rank by who reached them first. A standing kept the id of the score row that brought it
there, and rows are numbered as they are inserted: by two events workers, in the order their
transactions ran, not the order the API accepted the wagers. ``reached`` holds the moment of
acceptance (microseconds since the epoch, times 1,000, plus the score's place among the events
accepted in that microsecond), which standings now keep. Rows recorded before have none; their
standings keep the row ids, smaller than any moment, as earlier they were.
"""

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tournament_scores") as batch_op:
        batch_op.add_column(sa.Column("reached", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tournament_scores") as batch_op:
        batch_op.drop_column("reached")
