"""Synchronous writes (configuration, players, subscriptions), made idempotent in the database.

The business rows and the idempotency record commit in one transaction; a concurrent duplicate
hits the record's unique key, rolls back, and answers with the record the winner stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from actors.webhooks import queue_attempts
from api.dispatch import answer
from api.state import AppState
from models.base import new_id
from models.idempotency import IdempotencyRecord, find_record, fingerprint
from models.tenancy import Principal

log = logging.getLogger("wowsino.api")


def keyed(data: msgspec.Struct | None) -> tuple[str | None, dict[str, Any]]:
    """A write body's idempotency key, and the rest of it as JSON values: the request the key's fingerprint is of."""
    body = msgspec.to_builtins(data) if data is not None else {}
    return body.pop("idempotency_key", None), body


Outcome = tuple[int, dict[str, Any], list[tuple[str, int]]]  # status, body, webhook attempts to queue
Work = Callable[[AsyncSession], Awaitable[Outcome]]


async def write_once(
    state: AppState, principal: Principal, *, operation: str, key: str | None, request: dict[str, Any], work: Work
) -> Response[dict[str, Any]]:
    """Run *work* once per idempotency key (every time when there is none) and answer; once it committed, queue
    the webhook attempts (``(delivery id, attempt number)``) it returned.

    The fingerprint binds the key's brand: keys are scoped to the tenant, so the same key sent by another
    brand's API key is another request (``422``), never a replay of the first brand's player or engine.
    Records written before it did keep their brand-free fingerprint, still matched."""
    digest = fingerprint({"operation": operation, "brand": principal.brand_id, **request})
    formerly = fingerprint({"operation": operation, **request})
    for attempt in range(2):
        try:
            async with state.db.transaction() as session:
                if key is not None:
                    record = await find_record(
                        session,
                        tenant_id=principal.tenant_id,
                        mode=principal.mode,
                        operation=operation,
                        key=key,
                        fingerprint=digest,
                        formerly=formerly,
                    )
                    if record is not None:
                        return answer(record.status_code, record.response, replayed=True)
                status, body, attempts = await work(session)
                if key is not None:
                    session.add(
                        IdempotencyRecord(
                            tenant_id=principal.tenant_id,
                            mode=principal.mode,
                            operation=operation,
                            key=key,
                            fingerprint=digest,
                            operation_id=new_id(),
                            status_code=status,
                            response=body,
                        )
                    )
            break
        except IntegrityError:
            if attempt == 1 or key is None:
                raise
    try:
        await queue_attempts(state.redis, attempts)
    except Exception:  # committed: Redis away, the outbox sweep sends them; the answer stands
        log.exception("could not queue the webhook deliveries of %s", operation)
    return answer(status, body, replayed=False)
