"""Applying wager-pipeline events (scores, contributions, journey triggers) in one transaction.

Events arrive as plain dicts ``{type, engine_id, user_id, source_id, ...}``. Each is counted once
by its business id (unique keys in its engine's tables), so a batch applied twice changes nothing
the second time. Events are applied grouped by player, in arrival order within a player, which
keeps each player's order and takes row locks in the same order in every concurrent batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import jackpots, journeys, tournaments
from models.assets import to_units
from models.errors import DomainError

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
    received_at: datetime,
) -> Applied:
    """Apply every event once, inside the caller's transaction; refusals are counted, not raised."""
    applied = Applied()
    scope = {"tenant_id": tenant_id, "mode": mode, "brand_id": brand_id}
    for event in sorted(events, key=lambda event: event["user_id"]):
        try:
            await _apply(session, scope, event, received_at, applied)
        except DomainError as refused:  # checked before any write: the rest of the batch goes on
            applied.refused += 1
            log.warning("event %s %s refused: %s", event["type"], event["source_id"], refused.detail)
    return applied


async def _apply(
    session: AsyncSession, scope: dict[str, str], event: dict[str, Any], received_at: datetime, applied: Applied
) -> None:
    if event["type"] == SCORE:
        total = await tournaments.add_score(
            session,
            **scope,
            tournament_id=event["engine_id"],
            username=event["user_id"],
            source_wager_id=event["source_id"],
            points=event["points"],
            received_at=received_at,
        )
        if total is not None:
            applied.standings.setdefault(event["engine_id"], []).append(total)
    elif event["type"] == CONTRIBUTE:
        applied.deliveries += await jackpots.contribute(
            session,
            **scope,
            jackpot_id=event["engine_id"],
            username=event["user_id"],
            source_wager_id=event["source_id"],
            amount=to_units(event["currency"], event["amount"]),
        )
    else:
        applied.deliveries += await journeys.fire(
            session, **scope, username=event["user_id"], trigger=event["trigger"], source_event_id=event["source_id"]
        )
