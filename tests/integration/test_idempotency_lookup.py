"""A lookup of many idempotency keys at once (a group of draws) searches the index by those keys, on a table
the database has no statistics for yet: a new database, or a table growing faster than it is analysed."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert, text

from models.base import row, table
from models.db import Database
from models.idempotency import _RECORDS_OF_KEYS, IdempotencyRecord

RECORDS = 3_000  # of one tenant, mode and operation: what reading them all to filter the keys would cost


def test_a_lookup_of_many_keys_searches_the_index_by_the_keys(db: Database) -> None:
    async def plan() -> tuple[str, str]:
        async with db.transaction() as session:
            await session.execute(
                insert(table(IdempotencyRecord)),
                [
                    row(
                        IdempotencyRecord,
                        tenant_id="t",
                        mode="live",
                        operation="lootbox.open",
                        key=f"key-{n}",
                        fingerprint="f",
                        operation_id=f"op-{n}",
                        status_code=201,
                        response={},
                    )
                    for n in range(RECORDS)
                ],
            )
        async with db.reader() as session:
            dialect = session.get_bind().dialect
            lookup = _RECORDS_OF_KEYS.params(
                tenant_id="t", mode="live", operation="lootbox.open", keys=["key-1", "key-2", "key-3"]
            )
            sql = str(lookup.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
            lines = (await session.execute(text(explain + sql))).all()
            return dialect.name, "\n".join(str(line[-1]) for line in lines)

    dialect, shown = asyncio.run(plan())
    if dialect == "sqlite":  # SEARCH idempotency_records USING INDEX ... (key=? AND tenant_id=? AND ...)
        assert "SEARCH idempotency_records USING INDEX" in shown and "key=?" in shown, shown
    else:  # the keys are an index condition, not a filter applied to every record of the operation
        assert "Index Cond" in shown and "key" in shown.partition("Index Cond")[2].splitlines()[0], shown
        assert "Filter" not in shown, shown
