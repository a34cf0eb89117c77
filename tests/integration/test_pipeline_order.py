"""A batch of pipeline events writes the rows that concurrent batches change too (standings, journey
progress, a jackpot and its pool's balance) only after every row of its own (scores, contributions, journey
events): their locks are held until commit, so another worker's batch waits on them for the shortest time."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select

from models.base import new_id, utcnow
from models.db import Database
from models.jackpots import Jackpot, JackpotDrop, create_jackpot
from models.journeys import create_journey
from models.pipeline import CONTRIBUTE, JOURNEY, SCORE, apply_events
from models.players import Player, create_player
from models.tenancy import Principal
from models.tournaments import create_tournament, standings

PRINCIPAL = Principal("key", "tenant", "tenant", "live", "brand", "brand", "live", ())
OWN_ROWS = ("insert into tournament_scores", "insert into jackpot_contributions", "insert into journey_events")
SHARED_ROWS = ("tournament_standings", "journey_progress", "update accounts", "update jackpots")


async def _engines(db: Database) -> tuple[str, str]:
    now = utcnow()
    async with db.transaction() as session:
        tournament = await create_tournament(
            session,
            PRINCIPAL,
            config={
                "name": "cup",
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(hours=1),
                "prizes": [{"rank_from": 1, "rank_to": 1, "prize_winz": 10}],
            },
        )
        jackpot = await create_jackpot(
            session, PRINCIPAL, name="pot", currency="EUR", seed_amount=1000, must_drop_at=None
        )
        await create_journey(
            session, PRINCIPAL, config={"name": "login", "steps": [{"trigger": "login", "count": 1}], "reward_winz": 5}
        )
        for username in ("ada", "bob"):
            await create_player(session, PRINCIPAL, username=username, email=None, external_ref=None, country_code=None)
        return tournament.id, jackpot.id


def _batch(tournament: str, jackpot: str) -> list[dict[str, Any]]:
    received = utcnow()
    events: list[dict[str, Any]] = []
    for username in ("ada", "bob"):
        events += [
            {"type": SCORE, "engine_id": tournament, "user_id": username, "source_id": new_id(), "points": 3},
            {
                "type": CONTRIBUTE,
                "engine_id": jackpot,
                "user_id": username,
                "source_id": new_id(),
                "amount": "0.25",
                "currency": "EUR",
            },
            {"type": JOURNEY, "user_id": username, "source_id": new_id(), "trigger": "login"},
        ]
    return [{**item, "received_at": received} for item in events]


def test_rows_other_batches_change_are_written_after_the_batchs_own(db: Database, statements: list[str]) -> None:
    async def scenario() -> None:
        tournament, jackpot = await _engines(db)
        statements.clear()
        applied = await db.run(
            lambda session: apply_events(
                session, tenant_id="tenant", mode="live", brand_id="brand", events=_batch(tournament, jackpot)
            )
        )
        assert sorted((name, points) for name, points, _ in applied.standings[tournament]) == [("ada", 3), ("bob", 3)]

    asyncio.run(scenario())
    sent = [" ".join(sql.lower().split()) for sql in statements]  # lower-cased, one space apart
    own = [index for index, sql in enumerate(sent) if sql.startswith(OWN_ROWS)]
    shared = [index for index, sql in enumerate(sent) if any(table in sql for table in SHARED_ROWS)]
    assert len(own) == 3 and shared, sent
    assert max(own) < min(shared), sent
    if db.write_engine.dialect.name == "postgresql":  # the pool's balance and its jackpot: one statement
        assert any("update jackpots" in sql and "update accounts" in sql for sql in sent), sent


def test_events_are_applied_in_the_order_they_were_accepted_whoever_the_player(db: Database) -> None:
    """bob's score and contribution came first, ada's after: ada tipped the pool over ``must_drop_at`` and was
    its last contributor, and bob reached the tied score first (taken in player order, it was the reverse)."""

    async def scenario() -> None:
        tournament, _ = await _engines(db)
        async with db.transaction() as session:
            jackpot = await create_jackpot(
                session, PRINCIPAL, name="must", currency="EUR", seed_amount=0, must_drop_at=1_000_000_000
            )
        first = utcnow()
        events = [
            {**event, "user_id": username, "source_id": new_id(), "received_at": first + timedelta(milliseconds=n)}
            for n, username in enumerate(("bob", "ada"))
            for event in (
                {"type": SCORE, "engine_id": tournament, "points": 5},
                {"type": CONTRIBUTE, "engine_id": jackpot.id, "amount": "6", "currency": "EUR"},
            )
        ]
        applied = await db.run(
            lambda session: apply_events(session, tenant_id="tenant", mode="live", brand_id="brand", events=events)
        )
        reached = {name: seq for name, _, seq in applied.standings[tournament]}
        assert reached["bob"] < reached["ada"]
        async with db.reader() as session:
            drops = (await session.execute(select(JackpotDrop.winner_username))).scalars().all()
            noted = await session.get(Jackpot, jackpot.id)
            contributor = await session.get(Player, noted.last_contributor_id if noted else None)
        assert drops == ["ada"] and contributor is not None and contributor.username == "ada"

    asyncio.run(scenario())


def test_of_equal_totals_the_first_accepted_ranks_first_whichever_batch_was_applied_first(db: Database) -> None:
    """ada's score was accepted before bob's, but bob's batch was applied first (another events worker, or ada's
    message waiting on a retry): ada reached the total first. Ranked by the order the rows were inserted, bob
    was first."""

    async def scenario() -> None:
        tournament, _ = await _engines(db)
        first = utcnow()
        for username, accepted in (("bob", first + timedelta(milliseconds=5)), ("ada", first)):
            event = {"type": SCORE, "engine_id": tournament, "user_id": username, "points": 5}
            events = [{**event, "source_id": new_id(), "received_at": accepted}]
            await db.run(
                lambda session, events=events: apply_events(
                    session, tenant_id="tenant", mode="live", brand_id="brand", events=events
                )
            )
        async with db.reader() as session:
            ranked = await standings(session, tournament)
        assert [standing.username for standing in ranked] == ["ada", "bob"]

    asyncio.run(scenario())
