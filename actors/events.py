"""The pipeline actor: applies a batch of wager-pipeline events (one event or up to a thousand).

The API has already answered ``202``. The batch is one transaction; each event inside counts once
by its business id, so a redelivered message, a duplicate or a concurrent batch changes nothing
twice. After the commit, tournament totals go to the live leaderboards and webhooks are sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dramatiq
from sqlalchemy.exc import DBAPIError

from actors.broker import QUEUE_EVENTS
from actors.runtime import runtime
from actors.webhooks import send_deliveries
from models import leaderboard
from models.pipeline import Applied, apply_events

TRANSACTION_ATTEMPTS = 5


@dramatiq.actor(queue_name=QUEUE_EVENTS, max_retries=20, min_backoff=100, max_backoff=5000)
async def apply_events_actor(
    tenant_id: str, mode: str, brand_id: str, events: list[dict[str, Any]], received_at: str
) -> None:
    """Apply a batch of events once; a conflict with a concurrent batch reruns the transaction."""
    rt = runtime()
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            async with rt.db.transaction() as session:
                applied: Applied = await apply_events(
                    session,
                    tenant_id=tenant_id,
                    mode=mode,
                    brand_id=brand_id,
                    events=events,
                    received_at=datetime.fromisoformat(received_at),
                )
            break
        except DBAPIError:  # a unique key taken or a deadlock with a concurrent batch: the rerun sees its result
            if attempt == TRANSACTION_ATTEMPTS - 1:
                raise
    for tournament_id, totals in applied.standings.items():
        await leaderboard.record(rt.redis, tournament_id, totals)
    send_deliveries(applied.deliveries)
