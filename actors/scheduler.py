"""The scheduler process: periodic work that no request triggers.

Each pass draws raffles whose ``draw_at`` has come, closes tournaments whose ``ends_at`` has passed,
sweeps the webhook outbox: a pending delivery overdue by more than the grace period lost its
message (a crash between commit and enqueue, a flushed Redis) and is sent again; and sweeps the
inbox: an accepted message still unsettled after the grace period and no longer in its Redis queue
was lost with Redis and is queued again. Several schedulers
may run at once: draws and closes are compare-and-set in the database, so a duplicate pass pays
nothing twice, and a short Redis marker keeps them from queueing the same job every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

from sqlalchemy import bindparam, update
from sqlmodel import col, select

from actors.broker import bell_key, queue_lua
from actors.draws import close_tournament_actor, draw_raffle_actor
from actors.runtime import runtime
from actors.webhooks import queue_attempts
from config.process import freeze_startup_heap
from models import inbox, raffles, tournaments
from models.base import new_id, table, utcnow
from models.engines import EngineColumns
from models.redis_client import Lua
from models.webhooks import WebhookDelivery, WebhookEndpoint, due_before

log = logging.getLogger("wowsino.scheduler")
SWEEP_BATCH = 500
SCHEDULED_MARK_S = 60


async def sweep_outbox() -> int:
    """Re-send overdue pending deliveries of active endpoints not deleted; returns how many were sent.

    Each one sent is due again only a grace period later: a delivery still waiting behind a long queue
    (webhooks arriving faster than they go out) is sent again once per grace period, not at every pass,
    which would add a message per pass to the queue it is waiting in."""
    rt = runtime()
    async with rt.db.reader() as session:
        rows = await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempt_count)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= due_before(utcnow(), rt.settings.outbox_grace_s),
                WebhookEndpoint.status == "active",
                col(WebhookEndpoint.deleted_at).is_(None),  # a deleted one's deliveries stay pending, unsent
            )
            .limit(SWEEP_BATCH)
        )
        overdue = list(rows.all())
    if not overdue:
        return 0
    async with rt.db.transaction() as session:  # unless an attempt was made meanwhile
        deliveries = table(WebhookDelivery)
        await session.execute(
            update(deliveries)
            .where(
                deliveries.c.id == bindparam("delivery"),
                deliveries.c.attempt_count == bindparam("attempt"),
                deliveries.c.status == "pending",
            )
            .values(next_attempt_at=utcnow()),
            [{"delivery": delivery_id, "attempt": attempt} for delivery_id, attempt in overdue],
        )
    await queue_attempts(rt.redis, overdue)
    return len(overdue)


# KEYS: queue hash, queue list, queue bell; ARGV: message id, message data. Queues the message unless
# it is there, and rings the queue's bell (``actors.broker``).
_REQUEUE = Lua(
    "if redis.call('hexists', KEYS[1], ARGV[1]) == 1 then return 0 end\n"
    + queue_lua(1, "ARGV[1]", "ARGV[2]")
    + "return 1\n"
)


async def sweep_inbox() -> int:
    """Queue again the overdue accepted messages that Redis no longer holds; returns how many."""
    rt = runtime()
    now = utcnow()
    async with rt.db.inbox() as session:
        overdue = await inbox.overdue(session, now, SWEEP_BATCH)
    requeued = 0
    for message in overdue:  # still queued or in a worker's hands: HEXISTS finds it and nothing is added
        keys = [f"{message.queue}.msgs", message.queue, bell_key(message.queue)]
        requeued += await _REQUEUE(rt.redis, keys, [message.id, message.data])
    async with rt.db.inbox() as session:
        if overdue:
            await inbox.postpone(session, [message.id for message in overdue], grace_s=rt.settings.outbox_grace_s)
        await inbox.forget_settled(session, now - timedelta(seconds=rt.settings.outbox_grace_s))
    return requeued


async def start_due_engines() -> int:
    """Queue the draw of every due raffle and the close of every ended tournament; returns how many."""
    rt = runtime()
    now = utcnow()
    async with rt.db.reader() as session:
        due: list[tuple[str, EngineColumns]] = [
            ("raffle", raffle) for raffle in await raffles.due_raffles(session, now)
        ]
        # scores accepted just before ends_at may still be queued: close once they have had time to land
        ended = now - timedelta(seconds=rt.settings.close_grace_s)
        due += [("tournament", tournament) for tournament in await tournaments.due_tournaments(session, ended)]
    started = 0
    for kind, engine in due:
        if not await rt.redis.set(f"wowsino:scheduled:{engine.id}", "1", nx=True, ex=SCHEDULED_MARK_S):
            continue  # queued recently, by this scheduler or another
        where = (engine.tenant_id, engine.mode, engine.brand_id, engine.id)
        if kind == "raffle":
            draw_raffle_actor.send(new_id(), *where, None, f"scheduled-draw:{engine.id}", "scheduled")
        else:
            close_tournament_actor.send(new_id(), *where)
        started += 1
    return started


async def run_forever() -> None:
    rt = runtime()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("scheduler started, every %.2fs", rt.settings.scheduler_interval_s)
    freeze_startup_heap()
    while not stop.is_set():
        try:
            started = await start_due_engines()
            swept = await sweep_outbox()
            requeued = await sweep_inbox()
            if started or swept or requeued:
                log.info(
                    "queued %d scheduled draws or closes; re-sent %d deliveries; queued %d lost messages again",
                    started,
                    swept,
                    requeued,
                )
        except Exception:  # a pass that fails (database or Redis away) is retried on the next tick
            log.exception("scheduler pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rt.settings.scheduler_interval_s)
    await rt.db.dispose()


def main() -> None:
    logging.basicConfig(level=runtime().settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_forever())


if __name__ == "__main__":
    main()
