"""The scheduler process: periodic work that no request triggers.

Each pass sweeps the webhook outbox: a pending delivery overdue by more than the grace period lost
its message (a crash between commit and enqueue, a flushed Redis) and is sent again. Several
schedulers may run at once; every job they send is idempotent, so a duplicate pass changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from sqlmodel import col, select

from actors.runtime import runtime
from actors.webhooks import deliver_webhook
from models.base import utcnow
from models.webhooks import WebhookDelivery, WebhookEndpoint, due_before

log = logging.getLogger("wowsino.scheduler")
SWEEP_BATCH = 500


async def sweep_outbox() -> int:
    """Re-send overdue pending deliveries of active endpoints; returns how many were sent."""
    rt = runtime()
    async with rt.db.reader() as session:
        rows = await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempt_count)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= due_before(utcnow(), rt.settings.outbox_grace_s),
                WebhookEndpoint.status == "active",
            )
            .limit(SWEEP_BATCH)
        )
        overdue = list(rows.all())
    for delivery_id, attempt in overdue:
        deliver_webhook.send(delivery_id, attempt)
    return len(overdue)


async def run_forever() -> None:
    rt = runtime()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("scheduler started, every %.2fs", rt.settings.scheduler_interval_s)
    while not stop.is_set():
        try:
            swept = await sweep_outbox()
            if swept:
                log.info("outbox sweep re-sent %d deliveries", swept)
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
