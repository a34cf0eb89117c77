"""unique indexes led by the column looked up many at a time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:05:00.000000

The unique index of idempotency records becomes ``(key, tenant_id, mode, operation)`` (it was
``(tenant_id, mode, operation, key)``), and that of players ``(username, brand_id, mode)`` (it was
``(brand_id, mode, username)``). A group of draws looks up its keys and its players in one query each
(``key IN (...)``, ``username IN (...)``), as the events pipeline does its players. On a table
PostgreSQL has no statistics for yet (a new database, players just mirrored, a table growing fast) its
planner searched the old indexes by their leading columns only and filtered the rest, reading every
record of the operation or every player of the brand: about 10 ms per group of draws at 10,000 records,
20 ms per lookup at 100,000 players. Led by the looked-up column, the indexes are searched by it
whatever the statistics; the uniqueness is the same.
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# table: (columns before, columns after, name after)
REORDERED = {
    "idempotency_records": (
        ["tenant_id", "mode", "operation", "key"],
        ["key", "tenant_id", "mode", "operation"],
        "uq_idempotency_records_key",
    ),
    "players": (["brand_id", "mode", "username"], ["username", "brand_id", "mode"], "uq_players_username"),
}
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}  # names SQLite's unnamed constraints when a table is copied


def _name_before(table: str, columns: list[str]) -> str:
    if op.get_bind().dialect.name == "postgresql":  # PostgreSQL's name for an unnamed one
        return f"{table}_{'_'.join(columns)}_key"
    return NAMING["uq"] % {"table_name": table, "column_0_name": columns[0]}


def upgrade() -> None:
    for table, (before, after, name) in REORDERED.items():
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.drop_constraint(_name_before(table, before), type_="unique")
            batch_op.create_unique_constraint(name, after)


def downgrade() -> None:
    for table, (before, _, name) in REORDERED.items():
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.drop_constraint(name, type_="unique")
            batch_op.create_unique_constraint(_name_before(table, before), before)
