"""The pipeline actor: applies batches of wager-pipeline events (one event or up to a thousand).

The API has already answered ``202``. Messages that arrive together in a worker process are
applied together: the first one starts a transaction holding every message waiting at that moment
(group commit), so a busy worker pays one commit for many events. Each message is acknowledged
only after the transaction holding it committed; each event inside counts once by its business
id, so a redelivered message, a duplicate or a concurrent batch changes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dramatiq
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.broker import QUEUE_EVENTS
from actors.runtime import in_transaction, runtime, settle_inbox
from actors.webhooks import send_deliveries
from models import leaderboard
from models.gathering import per_loop
from models.pipeline import Applied, apply_events

log = logging.getLogger("wowsino.events")
TRANSACTION_ATTEMPTS = 5
MAX_GROUP_EVENTS = 500  # bounds how long one group holds the SQLite write lock


@dataclass
class Batch:
    tenant_id: str
    mode: str
    brand_id: str
    events: list[dict[str, Any]]
    received_at: datetime
    inbox_id: str
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    """Applies the batches waiting in this process in one transaction at a time."""

    def __init__(self) -> None:
        self.waiting: list[Batch] = []
        self.running = False

    async def apply(self, batch: Batch) -> None:
        self.waiting.append(batch)
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        await batch.done

    async def _drain(self) -> None:
        try:
            while self.waiting:
                group: list[Batch] = []
                size = 0
                while self.waiting and (not group or size + len(self.waiting[0].events) <= MAX_GROUP_EVENTS):
                    size += len(self.waiting[0].events)
                    group.append(self.waiting.pop(0))
                await self._commit(group)
        finally:
            self.running = False

    async def _commit(self, group: list[Batch]) -> None:
        try:
            applied = await _transaction(group)
        except Exception:
            if len(group) == 1:
                _settle(group, error=True)
                raise
            for batch in group:  # one bad batch must not fail the others: apply them one by one
                await self._commit([batch])
            return
        _settle(group)  # committed: the messages may be acknowledged whatever happens next
        settle_inbox([batch.inbox_id for batch in group])
        try:
            await _announce(applied)
        except Exception:  # Redis away: webhooks are re-sent by the outbox sweep, leaderboards rebuilt on read
            log.exception("could not announce a committed batch")


def _settle(group: list[Batch], *, error: bool = False) -> None:
    for batch in group:
        if not batch.done.done():
            if error:
                batch.done.set_exception(RuntimeError("the transaction holding this batch failed"))
            else:
                batch.done.set_result(None)


def _by_scope(group: list[Batch]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """The group's events by tenant, mode and brand, in arrival order, each stamped with its arrival:
    one bulk application per scope however many messages (single events, batches) the group holds."""
    scopes: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for batch in group:
        events = scopes.setdefault((batch.tenant_id, batch.mode, batch.brand_id), [])
        events.extend({**event, "received_at": batch.received_at} for event in batch.events)
    return scopes


async def _transaction(group: list[Batch]) -> Applied:
    async def work(session: AsyncSession) -> Applied:
        total = Applied()
        for (tenant_id, mode, brand), events in _by_scope(group).items():
            applied = await apply_events(session, tenant_id=tenant_id, mode=mode, brand_id=brand, events=events)
            total.deliveries += applied.deliveries
            for tournament_id, totals in applied.standings.items():
                total.standings.setdefault(tournament_id, []).extend(totals)
        return total

    # a unique key taken or a deadlock with a concurrent batch: the rerun sees its result
    return await in_transaction(work, attempts=TRANSACTION_ATTEMPTS, rerun_on=(DBAPIError,))


async def _announce(applied: Applied) -> None:
    for tournament_id, totals in applied.standings.items():
        await leaderboard.record(runtime().redis, tournament_id, totals)
    await send_deliveries(runtime().redis, applied.deliveries)


_group_commit = per_loop(GroupCommit)  # the worker's single asyncio thread has one


@dramatiq.actor(queue_name=QUEUE_EVENTS, max_retries=20, min_backoff=100, max_backoff=5000)
async def apply_events_actor(
    tenant_id: str, mode: str, brand_id: str, events: list[dict[str, Any]], received_at: str, inbox_id: str = ""
) -> None:
    """Apply a batch of events once, in a transaction shared with the batches arriving alongside it."""
    batch = Batch(tenant_id, mode, brand_id, events, datetime.fromisoformat(received_at), inbox_id)
    await _group_commit().apply(batch)
