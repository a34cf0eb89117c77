"""idempotency records unique by key first

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:05:00.000000

The unique index of ``(tenant_id, mode, operation, key)`` becomes one of ``(key, tenant_id, mode, operation)``:
a draw looks up the records of many keys at once (``key IN (...)``), and on a table PostgreSQL has no
statistics for yet (a new database, a table growing fast) its planner used the old index for the first
three columns only, reading every record of the operation to filter the keys: about 10 ms per group of
draws at 10,000 records, growing with the table. With the key first, the keys are what the index is
searched by, whatever the statistics.
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

COLUMNS_BEFORE = ["tenant_id", "mode", "operation", "key"]
COLUMNS_AFTER = ["key", "tenant_id", "mode", "operation"]
NAME_AFTER = "uq_idempotency_records_key"
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}  # names SQLite's unnamed constraint when the table is copied


def _name_before() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "idempotency_records_tenant_id_mode_operation_key_key"  # PostgreSQL's name for the unnamed one
    return "uq_idempotency_records_tenant_id"


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(_name_before(), type_="unique")
        batch_op.create_unique_constraint(NAME_AFTER, COLUMNS_AFTER)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(NAME_AFTER, type_="unique")
        batch_op.create_unique_constraint(_name_before(), COLUMNS_BEFORE)
