"""Idempotent submission of an operation that a worker carries out, and waiting for its answer.

Redis is the fast path: ``SET NX`` of the key claims it for one operation id, so concurrent
duplicates on any API process wait for that one operation; the worker's transaction stores the
answer under the same key in the database, which stays the truth when Redis forgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Response

from actors.results import pending_key
from api.enqueue import Job, claim_and_enqueue
from api.state import AppState
from models.base import new_id
from models.errors import DomainError, IdempotencyKeyReused
from models.idempotency import find_record, fingerprint
from models.redis_client import DELETE_IF_OWNED, digest_key
from models.tenancy import Principal

JobFor = Callable[[str, str, str], Job]  # (operation_id, idempotency_key, fingerprint) -> the actor call


@dataclass(frozen=True)
class Submission:
    operation: str
    key: str | None
    request: dict[str, Any]
    job: JobFor


CLAIMED_FINGERPRINT = 32  # hex digits of the request's fingerprint a claim keeps: 128 bits tell requests apart


def operation_claim(principal: Principal, operation: str, key: str) -> str:
    """The Redis key claiming an idempotency key for one operation id, kept for ``IDEMPOTENCY_TTL``.

    A digest (128 bits) of the tenant, mode, operation and key: with its value (the operation id and the
    fingerprint's first ``CLAIMED_FINGERPRINT`` digits) a claim takes about 245 bytes of Redis memory, where
    the tenant and operation spelled out and whole SHA-256 digests took about 375."""
    return digest_key("wowsino:idem:", principal.tenant_id, principal.mode, operation, key)


def owner(principal: Principal) -> str:
    """Whose operations an answer belongs to: ``tenant:mode``."""
    return f"{principal.tenant_id}:{principal.mode}"


async def submit(state: AppState, principal: Principal, submission: Submission) -> Response[dict[str, Any]]:
    """Run the operation at most once per idempotency key and answer with its outcome."""
    key = submission.key or "auto_" + new_id()
    digest = fingerprint({"operation": submission.operation, **submission.request})
    operation_id = new_id()
    claim = operation_claim(principal, submission.operation, key)
    claimed_fingerprint = digest[:CLAIMED_FINGERPRINT]
    value = f"{operation_id}:{claimed_fingerprint}"
    replay = False
    job = submission.job(operation_id, key, digest)
    pending = pending_key(owner(principal), operation_id)
    timeout_s = state.settings.draw_wait_timeout_s
    with state.waiter.expecting(operation_id) as announced:
        claimed = await claim_and_enqueue(state, job, claim=claim, value=value, pending=pending)
        if claimed:
            outcome = await state.waiter.wait(operation_id, timeout_s, announced)
    if not claimed:
        existing = await state.redis.get(claim)
        if existing is not None:
            value = existing.decode() if isinstance(existing, bytes) else existing
            operation_id, _, earlier = value.partition(":")
            if earlier != claimed_fingerprint:
                raise IdempotencyKeyReused(
                    "this idempotency_key was already used with a different request", field="idempotency_key"
                )
            replay = True
        # the database holds every answer given to a key, while Redis keeps a prize draw's for minutes only
        stored = await _stored(state, principal, submission.operation, key, digest) if replay else None
        outcome = stored or await state.waiter.wait(operation_id, timeout_s)
    if outcome is None and replay:
        outcome = await _stored(state, principal, submission.operation, key, digest)
    if outcome is None:
        return Response(
            {"operation_id": operation_id, "status": "pending", "url": f"/v1/operations/{operation_id}"},
            status_code=202,
        )
    if "error" in outcome:
        if not replay:  # a refusal (short balance, cooldown) leaves the key free for a later retry
            await DELETE_IF_OWNED(state.redis, [claim], [value])
        raise DomainError.from_dict(outcome["error"])
    return answer(outcome["status"], outcome["body"], replayed=replay or bool(outcome.get("deduped")))


def answer(status: int, body: dict[str, Any], *, replayed: bool) -> Response[dict[str, Any]]:
    if not replayed:
        return Response(body, status_code=status)
    if "deduped" in body:
        body = {**body, "deduped": True}
    return Response(body, status_code=status, headers={"Idempotent-Replayed": "true"})


async def _stored(
    state: AppState, principal: Principal, operation: str, key: str, digest: str
) -> dict[str, Any] | None:
    async with state.db.reader() as session:
        record = await find_record(
            session,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            operation=operation,
            key=key,
            fingerprint=digest,
        )
    return None if record is None else {"status": record.status_code, "body": record.response, "deduped": True}
