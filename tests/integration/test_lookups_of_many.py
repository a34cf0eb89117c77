"""A lookup of many rows at once (a group of draws' idempotency keys, its players) searches the unique
index by the looked-up values, on a table the database has no statistics for yet: a new database,
players just mirrored, a table growing faster than it is analysed. On PostgreSQL a lookup ``among`` values
is one statement text however many values it names."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

import pytest
from sqlalchemy import Select, insert, select, text
from sqlmodel import SQLModel

from models import pipeline, prize_engines
from models.base import row, table
from models.db import Database
from models.idempotency import _RECORDS_OF_KEYS, IdempotencyRecord
from models.players import Player
from models.statements import among

ROWS = 3_000  # under one tenant or brand: what reading them all to filter the wanted ones would cost

RECORDS = (
    IdempotencyRecord,
    lambda n: {
        "tenant_id": "t",
        "mode": "live",
        "operation": "lootbox.open",
        "key": f"key-{n}",
        "fingerprint": "f",
        "operation_id": f"op-{n}",
        "status_code": 201,
        "response": {},
    },
    lambda dialect: _RECORDS_OF_KEYS,
    {"tenant_id": "t", "mode": "live", "operation": "lootbox.open", "keys": ["key-1", "key-2", "key-3"]},
    "key",
)
PLAYERS = (
    Player,
    lambda n: {
        "tenant_id": "t",
        "brand_id": "b",
        "mode": "live",
        "username": f"player-{n}",
        "server_seed": "s",
        "server_seed_hash": "h",
    },
    prize_engines._players_named,
    {"brand_id": "b", "mode": "live", "usernames": ["player-1", "player-2", "player-3"]},
    "username",
)


@pytest.mark.parametrize(("model", "values", "lookup", "params", "column"), [RECORDS, PLAYERS], ids=["keys", "players"])
def test_a_lookup_of_many_searches_the_index_by_the_values_looked_up(
    db: Database,
    model: type[SQLModel],
    values: Any,
    lookup: Callable[[str], Select[Any]],
    params: dict[str, Any],
    column: str,
) -> None:
    async def plan() -> tuple[str, str]:
        async with db.transaction() as session:
            await session.execute(insert(table(model)), [row(model, **values(n)) for n in range(ROWS)])
        async with db.reader() as session:
            dialect = session.get_bind().dialect
            bound = lookup(dialect.name).params(**params)
            sql = str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
            lines = (await session.execute(text(explain + sql))).all()
            return dialect.name, "\n".join(str(line[-1]) for line in lines)

    dialect, shown = asyncio.run(plan())
    if dialect == "sqlite":  # SEARCH <table> USING INDEX ... (<column>=? AND ...)
        assert f"SEARCH {table(model).name} USING INDEX" in shown and f"{column}=?" in shown, shown
    else:  # the values are an index condition, not a filter applied to every row of the tenant or brand
        assert "Index Cond" in shown and column in shown.partition("Index Cond")[2].splitlines()[0], shown
        assert "Filter" not in shown, shown


def test_a_lookup_among_values_is_one_statement_that_searches_the_index(db: Database, statements: list[str]) -> None:
    players = table(Player)

    async def scenario() -> tuple[list[Collection[str]], str, str]:
        async with db.transaction() as session:
            await session.execute(insert(players), [row(Player, **PLAYERS[1](n)) for n in range(ROWS)])
        async with db.transaction() as session:
            statements.clear()
            found: list[Collection[str]] = []
            for lookup in (pipeline._players, prize_engines._players):  # the events' and the draws'
                for names in ({"player-1"}, {"player-2", "player-3", "x"}):
                    found.append(await lookup(session, "b", "live", names))
            dialect = session.get_bind().dialect
            lookup = select(players.c.id).where(
                players.c.brand_id == "b", players.c.mode == "live", among(session, players.c.username, ["player-4"])
            )
            sql = str(lookup.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
            shown = "\n".join(str(line[-1]) for line in (await session.execute(text(explain + sql))).all())
        return found, dialect.name, shown

    found, dialect, shown = asyncio.run(scenario())
    assert [sorted(names) for names in found] == [["player-1"], ["player-2", "player-3"]] * 2
    lookups = [sql for sql in statements if sql.startswith("SELECT players.")]
    assert len(lookups) == 4
    if dialect == "sqlite":
        assert "SEARCH players USING INDEX" in shown and "username=?" in shown, shown
    else:
        assert lookups[0] == lookups[1] and lookups[2] == lookups[3], lookups
        assert "Index Cond" in shown and "username" in shown.partition("Index Cond")[2].splitlines()[0], shown
        assert "Filter" not in shown, shown
