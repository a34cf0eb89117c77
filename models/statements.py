"""Statements that write or look up many rows at once, in either database's best form.

On PostgreSQL a statement's text stays the same whatever the number of rows (lookups name their values
in one array parameter, rows go in as one JSON parameter), so asyncpg prepares it once; on SQLite the
rows go to the driver's ``executemany``, compiled once per shape.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Table, TextClause, any_, bindparam, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert, UpdateBase


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An ``INSERT`` in the session's dialect, which knows ``ON CONFLICT`` (SQLite's or PostgreSQL's)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(session: AsyncSession, table: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect."""
    return dialect_insert(session, table).on_conflict_do_nothing()  # type: ignore[no-any-return]


def among(session: AsyncSession, column: ColumnElement[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, the values one array parameter: the
    statement's text is the same however many values it names, so asyncpg prepares it once and SQLAlchemy
    renders no parameter per value."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def among_parameter(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``among`` for a statement built once per *dialect* (its name): the values are the list given as the
    parameter *name* when it runs."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


Batch = tuple[Table, Sequence[dict[str, Any]]]  # rows to insert into a table, each a dict of the same columns


@dataclass(frozen=True)
class RowUpdate:
    """An update of one row per dict of *rows* (dicts of the same keys), for ``write_rows``: *statement* run
    once per row, or on PostgreSQL *sql*, an ``UPDATE ... FROM`` the rows read from JSON, ``{rows}`` standing
    for the JSON parameter, returning a row for each row it changed."""

    statement: UpdateBase
    sql: str
    rows: Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Check:
    """A check, for ``write_rows`` on PostgreSQL, that rows an earlier transaction read are still as it read
    them: *sql*, a ``SELECT`` from the dicts of *rows* read from JSON (``{rows}``), returns a row for each
    that still holds."""

    sql: str
    rows: Sequence[dict[str, Any]]


class StaleRead(Exception):
    """Rows kept from an earlier transaction changed since: the transaction must run again from fresh reads."""


async def insert_rows(session: AsyncSession, *batches: Batch) -> None:
    """Insert each batch's rows (dicts of the same columns) into its table, all in the caller's transaction
    (``write_rows``)."""
    await write_rows(session, batches, ())


async def write_rows(
    session: AsyncSession, batches: Sequence[Batch], updates: Sequence[RowUpdate], checks: Sequence[Check] = ()
) -> list[int]:
    """Insert each batch's rows and run each update, all in the caller's transaction; how many rows each
    update changed. Should one of *checks* (PostgreSQL only) find a row changed, it raises ``StaleRead``
    and the caller's transaction must roll back.

    On PostgreSQL it is all one statement, a round trip for everything, each batch's and update's rows passed
    as one JSON document that the server reads as rows; its parts see the rows as they were before it, so an
    update must not be meant for rows the same write inserts. Elsewhere each batch is one bulk insert and each
    update one bulk update (``execute_many``), in order, so parents go before their children. Values go in as
    JSON carries them: timestamps must be timezone-aware (``utcnow()``).
    """
    batches = tuple((into, rows) for into, rows in batches if rows)
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        if checks:
            raise ValueError("checks of kept rows are written on PostgreSQL only")
        for into, rows in batches:
            await execute_many(session, _insert_into(into), rows)
        return [await execute_many(session, change.statement, change.rows) for change in updates]
    changing = [index for index, change in enumerate(updates) if change.rows]
    checks = [check for check in checks if check.rows]
    counts = [0] * len(updates)
    if not batches and not changing and not checks:
        return counts
    shapes = tuple((into.name, tuple(rows[0])) for into, rows in batches)
    selects = tuple(updates[index].sql for index in changing) + tuple(check.sql for check in checks)
    statement = _writes_from_json(dialect, shapes, selects)
    parameters = {f"rows{i}": _json(rows) for i, (_, rows) in enumerate(batches)}
    for i, changed in enumerate([updates[index].rows for index in changing] + [check.rows for check in checks]):
        parameters[f"changes{i}"] = _json(changed)
    result = await session.execute(statement, parameters)
    found = [int(count) for count in result.one()] if selects else []
    if found[len(changing) :] != [len(check.rows) for check in checks]:
        raise StaleRead(f"rows kept from an earlier transaction changed: checks found {found[len(changing) :]}")
    for index, count in zip(changing, found[: len(changing)], strict=True):
        counts[index] = count
    return counts


async def insert_new(
    session: AsyncSession, into: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Insert the rows (dicts of the same columns) that take no unique key another row holds (``ON CONFLICT DO
    NOTHING``), in the caller's transaction and in their order; the *returning* columns of each row inserted.

    On PostgreSQL the rows are one JSON parameter of one statement, whose text is the same however many rows it
    inserts: SQLAlchemy's bulk insert renders and binds a parameter per value, and its statement for each new
    number of rows is one more that asyncpg prepares. Elsewhere, SQLAlchemy's bulk insert. Values go in as
    JSON carries them: timestamps must be timezone-aware (``utcnow()``).
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        bulk = insert_ignore(session, into).returning(*(into.c[name] for name in returning))
        return [tuple(row) for row in await session.execute(bulk, rows)]
    return await insert_from_json(session, into, rows, returning, "DO NOTHING")


async def insert_from_json(
    session: AsyncSession, into: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str], conflict: str
) -> list[tuple[Any, ...]]:
    """On PostgreSQL, insert the rows (dicts of the same columns, at least one) in their order, ``ON CONFLICT``
    *conflict* (``DO NOTHING``, or a conflict target and its ``DO UPDATE``), in the caller's transaction; the
    *returning* columns of each row inserted or updated. The rows are one JSON parameter of one statement, whose
    text is the same however many rows it inserts."""
    statement = _insert_from_json(session.get_bind().dialect, into.name, tuple(rows[0]), tuple(returning), conflict)
    return [tuple(row) for row in await session.execute(statement, {"rows": _json(rows)})]


async def execute_many(session: AsyncSession, statement: UpdateBase, rows: Sequence[dict[str, Any]]) -> int:
    """``session.execute(statement, rows)``: an insert or update once per row (dicts of the same keys), in the
    caller's transaction; how many rows it changed, where the driver counts them (asyncpg does not).

    On SQLite the statement goes to the driver, compiled once per shape, with the values SQLAlchemy would
    bind (each parameter type's own conversion): SQLAlchemy's own bulk execution spends several times longer
    building the parameters of a few dozen rows than SQLite spends storing them.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return int((await session.execute(statement, rows)).rowcount)  # type: ignore[attr-defined]
    compiled = _compiled(dialect, statement, tuple(sorted(rows[0])))
    values = [compiled.values(row) for row in rows]
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    try:
        cursor = await driver.executemany(compiled.sql, values)
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            compiled.sql, values, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        ) from None
    return int(cursor.rowcount)


@dataclass(frozen=True)
class _Compiled:
    """A statement as the driver takes it: its text, and how each of its parameters is bound from a row."""

    sql: str
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # in order: a name, the type's conversion
    constants: dict[str, Any]  # the values the statement binds itself (``x + 1``), by name

    def values(self, row: dict[str, Any]) -> list[Any]:
        given = {**self.constants, **row} if self.constants else row
        return [given[name] if convert is None else convert(given[name]) for name, convert in self.parameters]


@lru_cache(maxsize=256)  # statements built once (module constants): a few shapes each
def _compiled(dialect: Dialect, statement: UpdateBase, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # as SQLAlchemy compiles it for such rows
    binds = [compiled.binds[name] for name in compiled.positiontup or ()]
    return _Compiled(
        sql=str(compiled),
        parameters=tuple((bind.key, bind.type.dialect_impl(dialect).bind_processor(dialect)) for bind in binds),
        constants={bind.key: bind.effective_value for bind in binds if bind.key not in keys},
    )


@cache
def _insert_into(into: Table) -> Insert:
    return insert(into)  # one object per table, so that its compiled forms are found again


@cache
def _writes_from_json(
    dialect: Dialect, shapes: tuple[tuple[str, tuple[str, ...]], ...], counted: tuple[str, ...]
) -> TextClause:
    """``WITH i0 AS (INSERT ...), ..., u0 AS (UPDATE ...) SELECT count(*) of each update``: one
    ``INSERT ... SELECT`` per (table, columns) from a JSON array, then the *counted* statements (updates and
    checks), each from one too."""
    parts = [
        (f"i{index}", _insert_select(dialect, name, columns, f"rows{index}"))
        for index, (name, columns) in enumerate(shapes)
    ]
    parts += [(f"u{index}", sql.format(rows=f"CAST(:changes{index} AS json)")) for index, sql in enumerate(counted)]
    if counted:
        counts = ", ".join(f"(SELECT count(*) FROM u{index})" for index in range(len(counted)))
        return text(f"WITH {', '.join(f'{name} AS ({sql})' for name, sql in parts)} SELECT {counts}")
    *first, (_, last) = parts
    return text(f"WITH {', '.join(f'{name} AS ({sql})' for name, sql in first)} {last}" if first else last)


@cache
def _insert_from_json(
    dialect: Dialect, name: str, columns: tuple[str, ...], returning: tuple[str, ...], conflict: str
) -> TextClause:
    """``INSERT ... SELECT`` from the JSON array ``:rows``, in its order, ``ON CONFLICT`` *conflict*, returning
    *returning*."""
    quote = dialect.identifier_preparer.quote
    insert_select = _insert_select(dialect, name, columns, "rows", ordered=True)
    return text(f"{insert_select} ON CONFLICT {conflict} RETURNING {', '.join(quote(column) for column in returning)}")


def _insert_select(
    dialect: Dialect, name: str, columns: tuple[str, ...], parameter: str, *, ordered: bool = False
) -> str:
    """``INSERT INTO name (columns) SELECT columns`` of the rows of the JSON array *parameter*, in their order
    if *ordered*."""
    quote = dialect.identifier_preparer.quote
    listed = ", ".join(quote(column) for column in columns)
    source = f"json_populate_recordset(NULL::{quote(name)}, CAST(:{parameter} AS json))"
    if ordered:
        source += " WITH ORDINALITY AS given ORDER BY given.ordinality"
    return f"INSERT INTO {quote(name)} ({listed}) SELECT {listed} FROM {source}"


_ENCODER = msgspec.json.Encoder()


def _json(rows: Sequence[dict[str, Any]]) -> str:
    """*rows* as the JSON document PostgreSQL reads them from: msgspec's encoder, about a ninth of ``json.dumps``'s
    time for a group's rows. It writes a naive timestamp without an offset, which PostgreSQL would take for
    its session's time zone: ``UTCDateTime`` refuses one, and so does this, in the columns that hold a timestamp
    or nothing in the first row (the rows have the same columns, each of one type)."""
    stamps = [name for name, value in rows[0].items() if value is None or isinstance(value, datetime)] if rows else []
    if any(isinstance(stamp := row[name], datetime) and stamp.tzinfo is None for row in rows for name in stamps):
        raise ValueError("naive datetime")
    return _ENCODER.encode(rows).decode()
