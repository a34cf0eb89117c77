"""Draw actors: operations whose answer an API process is waiting for.

Each decodes its message and runs one domain function while holding the lock of what it changes: the
player for prize draws and raffle entries, the engine for raffle draws, jackpot drops and tournament
closes. Prize draws (lootbox opens, mini-game plays) come several to a message, and those waiting in a
worker at the same time share one transaction (``PrizeDraws``); the others run in a transaction of their own.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dramatiq
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.broker import QUEUE_DRAWS
from actors.locks import LockTimeout, hold, release_each, renew_each, take_each
from actors.results import publish_result, publish_results
from actors.runtime import in_transaction, runtime, settle_inbox
from actors.webhooks import send_deliveries
from models import jackpots, raffles, tournaments
from models.engines import engine_cache_key
from models.errors import DomainError
from models.gathering import per_loop, resolve
from models.idempotency import Outcome
from models.lootbox import LOOTBOX
from models.mini_games import MINI_GAME
from models.players import StaleCommitment
from models.prize_engines import Drawn, DrawRequest, KeptReads, Spec, draw_prizes
from models.statements import StaleRead

log = logging.getLogger("wowsino.draws")
R = TypeVar("R")
Perform = Callable[[], Awaitable[Outcome]]
TRANSACTION_ATTEMPTS = 3
LOCK_PAUSE_S = 0.002
MAX_LOCK_PAUSE_S = 0.01  # a hot player hands the lock on within ~10 ms
PRIZE_SPECS = {spec.owner_type: spec for spec in (LOOTBOX, MINI_GAME)}


def player_lock(brand_id: str, mode: str, username: str) -> str:
    return f"player:{brand_id}:{mode}:{username}"


async def draw_transaction(work: Callable[[AsyncSession], Awaitable[R]], attempts: int = TRANSACTION_ATTEMPTS) -> R:
    """Run *work* in one transaction. A unique-key violation or a moved commitment means a concurrent run
    won a race the lock should have prevented (an expired lock, a flushed Redis): the rerun finds that result.
    A changed engine or webhook endpoint (``StaleRead``) has the rerun read them afresh."""
    return await in_transaction(work, attempts=attempts, rerun_on=(IntegrityError, StaleCommitment, StaleRead))


def transactional(work: Callable[[AsyncSession], Awaitable[Outcome]]) -> Perform:
    """*work* as run in a transaction of its own."""
    return lambda: draw_transaction(work)


async def run_locked(operation_id: str, owner: str, lock: str, perform: Perform, inbox_id: str) -> None:
    """Run *perform* while holding *lock* (a player or an engine), then answer, settle and deliver.

    The answer goes out first; the message's inbox row is settled once the outcome (a result or a
    refusal) is final, in the background, and should that fail, the sweep's rerun finds the same outcome.
    """
    rt = runtime()
    deliveries: list[str] = []
    try:
        async with hold(rt.redis, lock, ttl_s=rt.settings.player_lock_ttl_s, wait_s=rt.settings.player_lock_wait_s):
            status, body, deliveries, deduped = await perform()
        outcome: dict[str, Any] = {"owner": owner, "status": status, "body": body, "deduped": deduped}
    except DomainError as error:
        outcome = {"owner": owner, "error": error.to_dict()}
    await publish_result(rt.redis, operation_id, outcome)
    settle_inbox([inbox_id])
    await send_deliveries(rt.redis, deliveries)


@dataclass
class _Waiting:
    request: DrawRequest
    lock: str  # the player's
    deadline: float  # when to stop waiting for the lock
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class PrizeDraws:
    """The prize draws waiting in this process, drawn together: the draws of one engine kind and scope that
    arrive while a transaction runs share the next one, a few bulk statements for all
    (``models.prize_engines.draw_prizes``).

    A group takes its players' locks together, one draw per player, and releases them together with the
    answers. A draw whose player's lock is held elsewhere waits for a later group (up to the lock wait).
    Should the shared transaction fail, each draw is retried in a transaction of its own, so one player's
    refusal never refuses another's draw.
    """

    def __init__(self) -> None:
        self.waiting: dict[tuple[str, str, str, str], list[_Waiting]] = {}
        self.running: asyncio.Task[None] | None = None
        self.answering: set[asyncio.Task[None]] = set()  # kept from the garbage collector until done
        self.kept = KeptReads()  # engines and webhook endpoints read, lent to the next groups (PostgreSQL)

    async def draw(self, engine: str, scope: tuple[str, str, str], request: DrawRequest) -> None:
        """Draw and answer *request*; raise what should make its message run again."""
        _, mode, brand_id = scope
        deadline = asyncio.get_running_loop().time() + runtime().settings.player_lock_wait_s
        waiting = _Waiting(request, player_lock(brand_id, mode, request.username), deadline)
        self.waiting.setdefault((engine, *scope), []).append(waiting)
        if self.running is None:
            self.running = asyncio.get_running_loop().create_task(self._drain())
        await waiting.done

    async def _drain(self) -> None:
        pause = LOCK_PAUSE_S
        try:
            while self.waiting:
                drew = False
                for key in list(self.waiting):
                    drew = await self._take_and_draw(key) or drew
                if not drew:  # every player waiting is busy elsewhere: look again shortly
                    await asyncio.sleep(pause)
                pause = LOCK_PAUSE_S if drew else min(pause * 2, MAX_LOCK_PAUSE_S)
        finally:
            self.running = None

    async def _take_and_draw(self, key: tuple[str, str, str, str]) -> bool:
        """Draw those waiting under *key* whose players' locks this group takes, one draw per player (the
        earliest); keep the others waiting. Whether any were drawn."""
        rt = runtime()
        candidates: dict[str, _Waiting] = {}
        later: list[_Waiting] = []
        for waiting in self.waiting.pop(key, []):
            if waiting.done.done():  # its actor stopped waiting: the message runs again
                continue
            if waiting.lock in candidates:
                later.append(waiting)
            else:
                candidates[waiting.lock] = waiting
        token = secrets.token_hex(16)
        ttl_ms = int(rt.settings.player_lock_ttl_s * 1000)
        try:
            taken = await take_each(rt.redis, list(candidates), token, ttl_ms)
        except Exception as error:  # Redis away: each message runs again later
            for waiting in [*candidates.values(), *later]:
                resolve(waiting.done, error)
            return True
        group: list[_Waiting] = []
        busy: list[_Waiting] = []
        now = asyncio.get_running_loop().time()
        for waiting, took in zip(candidates.values(), taken, strict=True):
            if took:
                group.append(waiting)
            elif now >= waiting.deadline:
                resolve(waiting.done, LockTimeout(waiting.lock))
            else:
                busy.append(waiting)
        if busy or later:  # ahead of those that arrived meanwhile
            self.waiting[key] = busy + later + self.waiting.get(key, [])
        if not group:
            return False
        locks = [waiting.lock for waiting in group]
        renewer = asyncio.create_task(renew_each(rt.redis, locks, token, ttl_ms))
        try:
            results = await self._draw(PRIZE_SPECS[key[0]], key[1:], [waiting.request for waiting in group])
        finally:
            renewer.cancel()
        # answered in the background: the next group's locks and transaction need not wait for Redis
        answering = asyncio.create_task(self._answer(f"{key[1]}:{key[2]}", group, results, locks, token))
        self.answering.add(answering)
        answering.add_done_callback(lambda task: self._answered(task, group))
        return True

    def _answered(self, task: asyncio.Task[None], group: list[_Waiting]) -> None:
        """Whatever went wrong answering the group fails the draws left waiting, so their messages run again."""
        self.answering.discard(task)
        failure = RuntimeError("the draws' answers were not sent") if task.cancelled() else task.exception()
        if failure is not None:
            for waiting in group:
                resolve(waiting.done, failure)

    async def _answer(
        self, owner: str, group: list[_Waiting], results: Sequence[Outcome | Exception], locks: list[str], token: str
    ) -> None:
        """Release the group's locks and publish its answers (of *owner*, ``tenant:mode``), together. A draw
        that failed (not a refusal) raises in its actor, so that its message runs again."""
        rt = runtime()
        answered: list[tuple[_Waiting, dict[str, Any]]] = []
        for waiting, result in zip(group, results, strict=True):
            if isinstance(result, DomainError):
                answered.append((waiting, {"owner": owner, "error": result.to_dict()}))
            elif isinstance(result, Exception):
                resolve(waiting.done, result)
            else:
                status, body, _, deduped = result
                outcome = {"owner": owner, "status": status, "body": body, "deduped": deduped}
                answered.append((waiting, outcome))
        released, published = await asyncio.gather(
            release_each(rt.redis, locks, token),
            publish_results(
                rt.redis, [(waiting.request.operation_id, outcome) for waiting, outcome in answered], recorded=True
            ),
            return_exceptions=True,
        )
        if isinstance(released, Exception):  # they expire within the lock's TTL
            log.warning("could not release the locks of %d draws: %r", len(locks), released)
        for waiting, _ in answered:
            resolve(waiting.done, published if isinstance(published, BaseException) else None)

    async def _draw(
        self, spec: Spec, scope: tuple[str, ...], requests: list[DrawRequest]
    ) -> Sequence[Outcome | Exception]:
        tenant_id, mode, brand_id = scope
        runs = 0

        async def work(session: AsyncSession) -> Drawn:  # the first run takes the requests to be new
            nonlocal runs
            runs += 1
            return await draw_prizes(
                session,
                spec,
                tenant_id=tenant_id,
                mode=mode,
                brand_id=brand_id,
                requests=requests,
                look_up=runs > 1,
                kept=self.kept,
            )

        try:  # a group runs once more, looking its answers up, before each of its draws runs alone
            drawn = await draw_transaction(work, TRANSACTION_ATTEMPTS if len(requests) == 1 else 2)
        except Exception as error:
            if len(requests) > 1 and isinstance(error, DomainError | IntegrityError | StaleCommitment | StaleRead):
                return [result for request in requests for result in await self._draw(spec, scope, [request])]
            if isinstance(error, DomainError):
                return [error]
            return [error] * len(requests)
        try:
            await send_deliveries(runtime().redis, drawn.deliveries)
        except Exception:  # Redis away: the outbox sweep sends them; the draws waiting next must go on
            log.exception("could not queue the webhook deliveries of %d draws", len(requests))
        return drawn.outcomes


_prize_draws = per_loop(PrizeDraws)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def draw_prizes_actor(draws: list[list[Any]], inbox_id: str = "") -> None:
    """Open lootboxes or play mini-games for players, each draw given as the arguments of ``draw_call``.

    An API process queues the draws submitted while its previous message was being queued as one message
    (``api.enqueue.Batches``). Each draw is answered as soon as it is drawn; should one fail, the message runs
    again, and the draws already made find their idempotency records.
    """
    await _draw_all(draws, inbox_id)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def draw_prize_actor(*draw: Any, inbox_id: str = "") -> None:
    """One draw as a message of its own, as versions before ``draw_prizes_actor`` queued it: the messages they
    left in a queue or an inbox are still drawn after an upgrade."""
    await _draw_all([list(draw)], inbox_id)


async def _draw_all(draws: list[list[Any]], inbox_id: str) -> None:
    results = await asyncio.gather(*(_prize_draws().draw(*draw_call(*args)) for args in draws), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    settle_inbox([inbox_id])


def draw_call(
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
) -> tuple[str, tuple[str, str, str], DrawRequest]:
    """One draw of a ``draw_prizes_actor`` message: its engine kind, scope and request."""
    request = DrawRequest(engine_id, username, client_seed, idempotency_key, fingerprint, operation_id)
    return engine, (tenant_id, mode, brand_id), request


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

    await run_locked(
        operation_id,
        f"{tenant_id}:{mode}",
        player_lock(brand_id, mode, username),
        transactional(work),
        inbox_id,
    )


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

    await run_locked(operation_id, f"{tenant_id}:{mode}", f"raffle:{raffle_id}", transactional(work), inbox_id)


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

    await run_locked(operation_id, f"{tenant_id}:{mode}", f"jackpot:{jackpot_id}", transactional(work), inbox_id)


@dramatiq.actor(queue_name=QUEUE_DRAWS, max_retries=20, min_backoff=100, max_backoff=5000)
async def close_tournament_actor(
    operation_id: str, tenant_id: str, mode: str, brand_id: str, tournament_id: str, inbox_id: str = ""
) -> None:
    """Close a tournament and pay its prizes; closing again answers with the first close's payouts."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str], bool]:
        return await tournaments.close_tournament(
            session, tenant_id=tenant_id, mode=mode, brand_id=brand_id, tournament_id=tournament_id
        )

    await run_locked(operation_id, f"{tenant_id}:{mode}", f"tournament:{tournament_id}", transactional(work), inbox_id)
    await runtime().redis.delete(engine_cache_key(tournament_id))  # API processes stop accepting scores at once
