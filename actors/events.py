"""Pipeline event actors: tournament scores, jackpot contributions and journey events.

The API has already answered ``202``; these apply the event durably, once per business id (the
database's unique keys), holding the player's lock so one player's events apply in order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import dramatiq
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.broker import QUEUE_EVENTS
from actors.draws import player_lock
from actors.locks import hold
from actors.runtime import runtime
from actors.webhooks import send_deliveries
from models import jackpots, journeys, leaderboard, tournaments
from models.assets import to_units
from models.errors import DomainError

log = logging.getLogger("wowsino.events")


async def apply(lock: str, work: Callable[[AsyncSession], Awaitable[list[str]]]) -> None:
    """Run *work* in one transaction under *lock*, then send its webhooks. Refusals are logged, not retried."""
    rt = runtime()
    async with hold(rt.redis, lock, ttl_s=rt.settings.player_lock_ttl_s, wait_s=rt.settings.player_lock_wait_s):
        for attempt in range(3):
            try:
                async with rt.db.transaction() as session:
                    deliveries = await work(session)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
            except DomainError as refused:
                log.warning("event refused: %s", refused.detail)
                return
    send_deliveries(deliveries)


@dramatiq.actor(queue_name=QUEUE_EVENTS, max_retries=20, min_backoff=100, max_backoff=5000)
async def score_actor(
    tenant_id: str,
    mode: str,
    brand_id: str,
    tournament_id: str,
    username: str,
    source_wager_id: str,
    points: int,
    received_at: str,
) -> None:
    """Add a wager's points to a player's tournament total, then to the live leaderboard."""
    totals: list[tuple[str, int, int]] = []

    async def work(session: AsyncSession) -> list[str]:
        totals.clear()
        total = await tournaments.add_score(
            session,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            tournament_id=tournament_id,
            username=username,
            source_wager_id=source_wager_id,
            points=points,
            received_at=datetime.fromisoformat(received_at),
        )
        totals.extend([total] if total else [])
        return []

    await apply(player_lock(brand_id, mode, username), work)
    if totals:
        await leaderboard.record(runtime().redis, tournament_id, totals)


@dramatiq.actor(queue_name=QUEUE_EVENTS, max_retries=20, min_backoff=100, max_backoff=5000)
async def contribute_actor(
    tenant_id: str,
    mode: str,
    brand_id: str,
    jackpot_id: str,
    username: str,
    source_wager_id: str,
    amount: str,
    currency: str,
) -> None:
    """Grow a jackpot pool by a wager's contribution; drop it if it reaches ``must_drop_at``."""

    async def work(session: AsyncSession) -> list[str]:
        return await jackpots.contribute(
            session,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            jackpot_id=jackpot_id,
            username=username,
            source_wager_id=source_wager_id,
            amount=to_units(currency, amount),
        )

    await apply(player_lock(brand_id, mode, username), work)


@dramatiq.actor(queue_name=QUEUE_EVENTS, max_retries=20, min_backoff=100, max_backoff=5000)
async def journey_event_actor(
    tenant_id: str, mode: str, brand_id: str, username: str, trigger: str, source_event_id: str
) -> None:
    """Advance the player on every journey of the brand waiting on this trigger."""

    async def work(session: AsyncSession) -> list[str]:
        return await journeys.fire(
            session,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            username=username,
            trigger=trigger,
            source_event_id=source_event_id,
        )

    await apply(player_lock(brand_id, mode, username), work)
