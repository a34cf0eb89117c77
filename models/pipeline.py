"""Applying wager-pipeline events (scores, contributions, journey triggers) in one transaction.

Events arrive as plain dicts ``{type, engine_id, user_id, source_id, ...}``. Each is counted once
by its business id (unique keys in its engine's tables), so a batch applied twice changes nothing
the second time. A batch costs a few set-based statements per kind of event, not a few per event:
the players and engines it names are read once (and remembered for the rest of the transaction),
then each kind of event is inserted, deduplicated and aggregated in bulk. Events are taken in the
order the API accepted them (``received_at``; a request's events in their order), whoever the
player: it decides who tips a jackpot over ``must_drop_at``, which contributor is the last and who
reached a tied tournament score first. The rows batches share are written in key order, whatever
the events' order, so concurrent batches take their locks in the same order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from models import jackpots, journeys, tournaments
from models.assets import to_units
from models.base import table
from models.db import transaction_memo
from models.engines import E
from models.errors import Conflict, DomainError, NotFound
from models.players import Player
from models.statements import among

log = logging.getLogger("wowsino.pipeline")
SCORE, CONTRIBUTE, JOURNEY = "tournament.score", "jackpot.contribute", "journey.event"


@dataclass
class Applied:
    """What a batch changed that must be announced after its commit."""

    deliveries: list[str] = field(default_factory=list)
    standings: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)  # tournament -> totals
    refused: int = 0


async def apply_events(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    events: list[dict[str, Any]],
) -> Applied:
    """Apply every event once, inside the caller's transaction, in a few bulk statements per kind of event;
    refusals are counted, not raised. Each event carries ``received_at``, when the API accepted it."""
    applied = Applied()
    ordered = sorted(events, key=lambda event: event["received_at"])  # stable: a request's events keep their order
    found = Found(
        players=await _players(session, brand_id, mode, {event["user_id"] for event in ordered}),
        tournaments=await _engines(
            session, tournaments.Tournament, tenant_id, mode, brand_id, _ids(ordered, SCORE), shared=True
        ),
        jackpots=await _engines(session, jackpots.Jackpot, tenant_id, mode, brand_id, _ids(ordered, CONTRIBUTE)),
    )
    scores: list[tournaments.Scored] = []
    contributions: list[jackpots.Contributed] = []
    fired: list[journeys.Fired] = []
    moment, place = None, 0
    for event in ordered:
        place = place + 1 if event["received_at"] == moment else 0  # among the events of the same moment
        moment = event["received_at"]
        try:
            if event["type"] == SCORE:
                scores.append(_scored(event, found, place))
            elif event["type"] == CONTRIBUTE:
                contributions.append(_contributed(event, found))
            else:
                fired.append(
                    journeys.Fired(
                        found.player(event["user_id"]), event["user_id"], event["trigger"], event["source_id"]
                    )
                )
        except DomainError as refused:  # checked before any write: the rest of the batch goes on
            applied.refused += 1
            log.warning("event %s %s refused: %s", event["type"], event["source_id"], refused.detail)
    totals = await tournaments.record_scores(session, scores) if scores else {}
    counted = await jackpots.record_contributions(session, contributions) if contributions else []
    fresh = await journeys.record_events(session, brand_id, mode, fired) if fired else []
    growth = await jackpots.plan_growth(session, tenant_id=tenant_id, mode=mode, counted=counted)
    # Rows that concurrent batches change too (standings, journey progress, pools) are written last, with as
    # little as possible between them and the commit: their locks are held until then.
    for tournament_id, username, total, seq in await tournaments.add_to_standings(session, totals):
        applied.standings.setdefault(tournament_id, []).append((username, total, seq))
    applied.deliveries += await journeys.advance_many(
        session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, fresh=fresh
    )
    applied.deliveries += await jackpots.grow_pools(session, growth)
    return applied


@dataclass(frozen=True)
class Found:
    """The players and engines a batch names, each read once."""

    players: dict[str, str]  # username -> player id
    tournaments: dict[str, tournaments.Tournament]
    jackpots: dict[str, jackpots.Jackpot]

    def player(self, username: str) -> str:
        if username not in self.players:
            raise NotFound(f"no player {username!r}", field="user_id")
        return self.players[username]


def _scored(event: dict[str, Any], found: Found, place: int) -> tournaments.Scored:
    tournament = found.tournaments.get(event["engine_id"])
    if tournament is None:
        raise NotFound(f"no tournament {event['engine_id']!r}")
    tournaments.check_window(tournament, event["received_at"])
    player_id = found.player(event["user_id"])
    reached = tournaments.acceptance_order(event["received_at"], place)
    return tournaments.Scored(tournament.id, player_id, event["user_id"], event["source_id"], event["points"], reached)


def _contributed(event: dict[str, Any], found: Found) -> jackpots.Contributed:
    amount = to_units(event["currency"], event["amount"])
    jackpot = found.jackpots.get(event["engine_id"])
    if jackpot is None:
        raise NotFound(f"no jackpot {event['engine_id']!r}")
    if jackpot.status != "active":
        raise Conflict(f"jackpot is {jackpot.status}")
    player_id = found.player(event["user_id"])
    return jackpots.Contributed(jackpot, player_id, event["user_id"], event["source_id"], amount)


def _ids(events: list[dict[str, Any]], kind: str) -> set[str]:
    return {event["engine_id"] for event in events if event["type"] == kind}


async def _players(session: AsyncSession, brand_id: str, mode: str, usernames: set[str]) -> dict[str, str]:
    """``username -> id`` of the players that exist, read once per transaction (players are never deleted)."""
    memo = transaction_memo(session, "players")
    missing = sorted(name for name in usernames if (brand_id, mode, name) not in memo)
    if missing:
        rows = await session.execute(
            select(Player.id, Player.username).where(
                Player.brand_id == brand_id, Player.mode == mode, among(session, table(Player).c.username, missing)
            )
        )
        for player_id, username in rows.all():
            memo[brand_id, mode, username] = player_id
    return {name: memo[brand_id, mode, name] for name in usernames if (brand_id, mode, name) in memo}


async def _engines(
    session: AsyncSession,
    model: type[E],
    tenant_id: str,
    mode: str,
    brand_id: str,
    ids: set[str],
    *,
    shared: bool = False,
) -> dict[str, E]:
    """The engines with these ids in the scope, read once per transaction; *shared*, their rows share-locked
    until commit (``FOR SHARE``, where the database has row locks).

    A tournament's row is: its close (which updates the row) then waits for the batches scoring into it, and a
    batch waits for a close committing and then finds it closed. Read unlocked, a batch that found the
    tournament active could commit its scores after the close had paid by the standings without them."""
    memo = transaction_memo(session, model.__name__)
    scope = (tenant_id, mode, brand_id)
    missing = sorted(engine_id for engine_id in ids if (scope, engine_id) not in memo)
    if missing:
        query = select(model).where(
            among(session, table(model).c.id, missing),
            model.tenant_id == tenant_id,
            model.mode == mode,
            model.brand_id == brand_id,
        )
        rows = await session.execute(query.with_for_update(read=True) if shared else query)
        for engine in rows.scalars():
            memo[scope, engine.id] = engine
    return {engine_id: memo[scope, engine_id] for engine_id in ids if (scope, engine_id) in memo}
