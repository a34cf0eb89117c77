"""``insert_rows`` and ``write_rows``: rows of several tables, and updates after them, in one write (one statement
on PostgreSQL), exactly as given; ``execute_many``, the bulk statement they use elsewhere; and ``insert_new``, rows
whose unique keys are free."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import select

from models.base import new_id, table
from models.db import Database
from models.ledger import Account, LedgerTransaction, Posting, Prepared, account_id
from models.players import create_player
from models.statements import Check, StaleRead, execute_many, insert_new, insert_rows, write_rows
from models.tenancy import Principal
from models.tournaments import TournamentScore, create_tournament
from models.webhooks import WebhookEvent


def _transaction(reference: str, at: datetime) -> dict[str, object]:
    return {"id": new_id(), "tenant_id": "t", "mode": "live", "kind": "test", "reference": reference, "created_at": at}


def test_rows_of_several_tables_land_exactly_as_given(db: Database) -> None:
    at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    parent = _transaction("ünïcode \"quoted\" 'single' \\ back", at)
    event = {
        "id": "msg_1",
        "tenant_id": "t",
        "mode": "live",
        "type": "lootbox.opened",
        "data": {"amount": 9_007_199_254_740_993, "nested": [1, "two", None, True], "text": "é\n"},
        "created_at": at,
    }

    async def scenario() -> None:
        async with db.transaction() as session:
            account = await account_id(
                session, tenant_id="t", mode="live", owner_type="player", owner_id="p", asset="WINZ"
            )
            posting = {
                "transaction_id": parent["id"],
                "account_id": account,
                "asset": "WINZ",
                "amount": 2**62,
                "created_at": at,
            }
            await insert_rows(session, (table(LedgerTransaction), [parent]), (table(Posting), [posting]))
            await insert_rows(session, (table(WebhookEvent), [event]))
            await insert_rows(session, (table(Posting), []))  # nothing to insert: no statement
        async with db.reader() as session:
            stored = (await session.execute(select(LedgerTransaction))).scalar_one()
            assert (stored.id, stored.reference, stored.created_at) == (parent["id"], parent["reference"], at)
            assert stored.created_at.tzinfo is not None
            amount = (await session.execute(select(Posting.amount, Posting.transaction_id))).one()
            assert tuple(amount) == (2**62, parent["id"])
            data = (await session.execute(select(WebhookEvent.data))).scalar_one()
            assert data == event["data"]

    asyncio.run(scenario())


def test_a_refused_row_refuses_the_whole_write(db: Database) -> None:
    at = datetime.now(UTC)
    first = _transaction("once", at)

    async def scenario() -> None:
        async with db.transaction() as session:
            await insert_rows(session, (table(LedgerTransaction), [first]))
        orphan = {"transaction_id": "none", "account_id": "none", "asset": "WINZ", "amount": 1, "created_at": at}
        for batches in (
            [(table(LedgerTransaction), [_transaction("new", at), _transaction("once", at)])],  # a reused reference
            [(table(LedgerTransaction), [_transaction("other", at)]), (table(Posting), [orphan])],  # no such parent
        ):
            with pytest.raises(IntegrityError):
                async with db.transaction() as session:
                    await insert_rows(session, *batches)
        async with db.reader() as session:
            references = (await session.execute(select(LedgerTransaction.reference))).scalars().all()
            assert references == ["once"]
            assert (await session.execute(select(Posting))).first() is None

    asyncio.run(scenario())


def test_a_timestamp_without_a_zone_is_refused(db: Database) -> None:
    naive = datetime(2026, 12, 1)

    async def scenario() -> None:
        for rows in (
            [_transaction("naive", naive)],
            [_transaction("aware", naive.replace(tzinfo=UTC)), _transaction("naive", naive)],  # in a later row
        ):
            with pytest.raises((ValueError, StatementError), match="naive datetime"):
                async with db.transaction() as session:
                    await insert_rows(session, (table(LedgerTransaction), rows))
        async with db.reader() as session:
            assert (await session.execute(select(LedgerTransaction))).first() is None

    asyncio.run(scenario())


def test_stored_timestamps_compare_equal_to_the_same_moment_bound_in_a_query(db: Database) -> None:
    """SQLite keeps timestamps as text: one written in another format would never equal, or sort with, a bound one."""
    at = datetime(2026, 12, 2, 5, 0, 1, 250000, tzinfo=UTC)

    async def scenario() -> None:
        async with db.transaction() as session:
            await insert_rows(session, (table(LedgerTransaction), [_transaction("at", at)]))
        async with db.reader() as session:
            found = await session.execute(select(LedgerTransaction.reference).where(LedgerTransaction.created_at == at))
            assert found.scalars().all() == ["at"]
            later = await session.execute(
                select(LedgerTransaction.reference).where(LedgerTransaction.created_at > at - timedelta(microseconds=1))
            )
            assert later.scalars().all() == ["at"]

    asyncio.run(scenario())


def test_execute_many_runs_the_statement_once_per_row_with_its_own_constants(db: Database) -> None:
    accounts = table(Account).c
    doubled = (  # ``2`` is a value the statement binds itself
        update(table(Account))
        .where(accounts.id == bindparam("account"))
        .values(balance=accounts.balance + bindparam("change") * 2)
    )

    async def scenario() -> None:
        async with db.transaction() as session:
            first, second = [
                await account_id(session, tenant_id="t", mode="live", owner_type="player", owner_id=owner, asset="WINZ")
                for owner in (new_id(), new_id())  # owners of this database only: account ids are remembered
            ]
            rows = [
                {"account": first, "change": 5},
                {"account": second, "change": -3},
                {"account": "none", "change": 1},
            ]
            changed = await execute_many(session, doubled, rows)
            if db.write_engine.dialect.name == "sqlite":  # asyncpg counts no rows of a bulk statement
                assert changed == 2
            assert await execute_many(session, doubled, []) == 0
        async with db.reader() as session:
            balances = await session.execute(select(Account.id, Account.balance))
            assert {id_: balance for id_, balance in balances} == {first: 10, second: -6}

    asyncio.run(scenario())


def test_inserts_and_updates_make_one_write_and_each_update_counts_the_rows_it_changed(db: Database) -> None:
    """``write_rows``: a draw's inserts, its commitments' compare-and-set and its balances, one write (one
    statement on PostgreSQL); each update's count, so a compare-and-set that missed a row is seen."""
    at = datetime.now(UTC)

    async def scenario() -> None:
        async with db.transaction() as session:
            ids = [
                await account_id(session, tenant_id="t", mode="live", owner_type="player", owner_id=owner, asset="WINZ")
                for owner in (new_id(), new_id())  # owners of this database only: account ids are remembered
            ]
        moved = Prepared([], (), [{"account": ids[0], "change": 2**40}, {"account": ids[1], "change": -7}])
        missing = Prepared([], (), [{"account": "no-such-account", "change": 1}])
        async with db.transaction() as session:
            counts = await write_rows(
                session,
                [(table(LedgerTransaction), [_transaction("w", at)])],
                [moved.balances, missing.balances, Prepared([], (), []).balances],
            )
        assert counts == [2, 0, 0]
        async with db.reader() as session:
            balances = {id_: balance for id_, balance in await session.execute(select(Account.id, Account.balance))}
            assert [balances[id_] for id_ in ids] == [2**40, -7]
            assert (await session.execute(select(LedgerTransaction.reference))).scalar_one() == "w"

    asyncio.run(scenario())


def test_a_check_of_kept_rows_refuses_the_write_when_one_changed(db: Database) -> None:
    """``write_rows``' checks (PostgreSQL): each counts the rows still as kept; one short raises ``StaleRead``
    and the transaction writes nothing. Elsewhere nothing is kept, and a check is refused."""
    rows = [(table(LedgerTransaction), [_transaction("w", datetime.now(UTC))])]
    unchanged = "SELECT 1 FROM json_to_recordset({rows}) AS r(reference text) WHERE r.reference = 'kept'"
    kept, moved = {"reference": "kept"}, {"reference": "moved"}
    on_postgresql = db.write_engine.dialect.name == "postgresql"

    async def scenario() -> None:
        with pytest.raises(StaleRead if on_postgresql else ValueError):
            async with db.transaction() as session:
                await write_rows(session, rows, [], [Check(unchanged, [kept, moved])])
        if on_postgresql:
            async with db.transaction() as session:
                assert await write_rows(session, rows, [], [Check(unchanged, [kept])]) == []
        async with db.reader() as session:
            written = list((await session.execute(select(LedgerTransaction.reference))).scalars())
        assert written == (["w"] if on_postgresql else [])

    asyncio.run(scenario())


def test_insert_new_inserts_in_order_the_rows_whose_keys_are_free(db: Database, statements: list[str]) -> None:
    principal = Principal("key", "t", "t", "live", "b", "b", "live", ())
    now = datetime.now(UTC)

    async def scenario() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        async with db.transaction() as session:
            tournament = await create_tournament(
                session,
                principal,
                config={"name": "cup", "starts_at": now, "ends_at": now + timedelta(hours=1), "prizes": []},
            )
            player, _ = await create_player(
                session, principal, username="ada", email=None, external_ref=None, country_code=None
            )

        def scores(*wagers: str) -> list[dict[str, object]]:
            row = {"tournament_id": tournament.id, "player_id": player.id, "username": "ada", "created_at": now}
            return [{**row, "source_wager_id": wager, "points": len(wager)} for wager in wagers]

        into, returning = table(TournamentScore), ("id", "source_wager_id")
        async with db.transaction() as session:
            statements.clear()
            first = await insert_new(session, into, scores("w1", "w2"), returning)
            second = await insert_new(session, into, scores("w2", "w333", "w4"), returning)
            assert await insert_new(session, into, [], returning) == []  # nothing to insert: no statement
        return first, second

    first, second = asyncio.run(scenario())
    assert [wager for _, wager in first] == ["w1", "w2"]
    assert [wager for _, wager in second] == ["w333", "w4"]  # w2's key was taken: left as it was
    seqs = [seq for seq, _ in first + second]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4  # in the order given
    inserts = [sql for sql in statements if "tournament_scores" in sql]
    assert len(inserts) == 2
    if db.autocommit_engine is not None:  # PostgreSQL: one statement text for any number of rows
        assert inserts[0] == inserts[1]
