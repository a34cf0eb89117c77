"""Draw actors: operations whose answer an API process is waiting for.

Each decodes its message and runs one domain function in one transaction while holding the lock of
what it changes: the player for prize draws and raffle entries, the engine for raffle draws,
jackpot drops and tournament closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.broker import QUEUE_DRAWS
from actors.locks import hold
from actors.results import publish_result
from actors.runtime import runtime, settle_inbox
from actors.webhooks import send_deliveries
from models import jackpots, raffles, tournaments
from models.engines import engine_cache_key
from models.errors import DomainError
from models.lootbox import LOOTBOX
from models.mini_games import MINI_GAME
from models.players import StaleCommitment
from models.prize_engines import draw_prize

Work = Callable[[AsyncSession], Awaitable[tuple[int, dict[str, Any], list[str], bool]]]
TRANSACTION_ATTEMPTS = 3
PRIZE_SPECS = {spec.owner_type: spec for spec in (LOOTBOX, MINI_GAME)}


def player_lock(brand_id: str, mode: str, username: str) -> str:
    return f"player:{brand_id}:{mode}:{username}"


async def run_locked(operation_id: str, owner: str, lock: str, work: Work, inbox_id: str) -> None:
    """Run *work* in one transaction while holding *lock* (a player or an engine), then announce and deliver.

    A unique-key violation or a moved commitment means a concurrent run won a race the lock should
    have prevented (an expired lock, a flushed Redis): the transaction is rerun and finds that result.
    The message's inbox row is settled once the outcome (a result or a refusal) is final.
    """
    rt = runtime()
    deliveries: list[str] = []
    try:
        async with hold(rt.redis, lock, ttl_s=rt.settings.player_lock_ttl_s, wait_s=rt.settings.player_lock_wait_s):
            for attempt in range(TRANSACTION_ATTEMPTS):
                try:
                    async with rt.db.transaction() as session:
                        status, body, deliveries, deduped = await work(session)
                    break
                except (IntegrityError, StaleCommitment):
                    if attempt == TRANSACTION_ATTEMPTS - 1:
                        raise
        outcome: dict[str, Any] = {"owner": owner, "status": status, "body": body, "deduped": deduped}
    except DomainError as error:
        outcome = {"owner": owner, "error": error.to_dict()}
    await settle_inbox([inbox_id])
    await publish_result(rt.redis, operation_id, outcome)
    send_deliveries(deliveries)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def draw_prize_actor(
    operation_id: str,
    engine: str,
    tenant_id: str,
    mode: str,
    brand_id: str,
    engine_id: str,
    username: str,
    client_seed: str | None,
    idempotency_key: str,
    fingerprint: str,
    inbox_id: str = "",
) -> None:
    """Open a lootbox or play a mini-game for a player; safe to run twice (the idempotency record is unique)."""
    spec = PRIZE_SPECS[engine]

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str], bool]:
        return await draw_prize(
            session,
            spec,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            engine_id=engine_id,
            username=username,
            client_seed=client_seed,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            operation_id=operation_id,
        )

    await run_locked(operation_id, f"{tenant_id}:{mode}", player_lock(brand_id, mode, username), work, inbox_id)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def enter_raffle_actor(
    operation_id: str,
    tenant_id: str,
    mode: str,
    brand_id: str,
    raffle_id: str,
    username: str,
    tickets: int,
    idempotency_key: str,
    fingerprint: str,
    inbox_id: str = "",
) -> None:
    """Buy raffle tickets for a player, once per idempotency key."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str], bool]:
        return await raffles.enter_raffle(
            session,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            raffle_id=raffle_id,
            username=username,
            tickets=tickets,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            operation_id=operation_id,
        )

    await run_locked(operation_id, f"{tenant_id}:{mode}", player_lock(brand_id, mode, username), work, inbox_id)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def draw_raffle_actor(
    operation_id: str,
    tenant_id: str,
    mode: str,
    brand_id: str,
    raffle_id: str,
    client_seed: str | None,
    idempotency_key: str,
    fingerprint: str,
    inbox_id: str = "",
) -> None:
    """Draw a raffle; a second draw is refused with a conflict."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str], bool]:
        return await raffles.draw_raffle(
            session,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            raffle_id=raffle_id,
            client_seed=client_seed,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            operation_id=operation_id,
        )

    await run_locked(operation_id, f"{tenant_id}:{mode}", f"raffle:{raffle_id}", work, inbox_id)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def drop_jackpot_actor(
    operation_id: str,
    tenant_id: str,
    mode: str,
    brand_id: str,
    jackpot_id: str,
    winner_username: str | None,
    idempotency_key: str,
    fingerprint: str,
    inbox_id: str = "",
) -> None:
    """Drop a jackpot on demand, once per idempotency key."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str], bool]:
        return await jackpots.drop_jackpot(
            session,
            tenant_id=tenant_id,
            mode=mode,
            brand_id=brand_id,
            jackpot_id=jackpot_id,
            winner_username=winner_username,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            operation_id=operation_id,
        )

    await run_locked(operation_id, f"{tenant_id}:{mode}", f"jackpot:{jackpot_id}", work, inbox_id)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def close_tournament_actor(
    operation_id: str, tenant_id: str, mode: str, brand_id: str, tournament_id: str, inbox_id: str = ""
) -> None:
    """Close a tournament and pay its prizes; closing again answers with the first close's payouts."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str], bool]:
        return await tournaments.close_tournament(
            session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, tournament_id=tournament_id
        )

    await run_locked(operation_id, f"{tenant_id}:{mode}", f"tournament:{tournament_id}", work, inbox_id)
    await runtime().redis.delete(engine_cache_key(tournament_id))  # API processes stop accepting scores at once
