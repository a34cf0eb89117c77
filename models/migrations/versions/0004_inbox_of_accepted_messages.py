"""inbox of accepted messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 22:58:40.259146
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.base


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # on SQLite the inbox is a file of its own beside the database (models.migrate.upgrade)
    op.create_table('inbox_messages',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('queue', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sweeps', sa.Integer(), nullable=False),
    sa.Column('settled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_messages_due_at'), ['due_at'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_messages_due_at'))

    op.drop_table('inbox_messages')
    # ### end Alembic commands ###
