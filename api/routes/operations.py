"""Outcomes of draws that answered ``202`` because the worker was slow."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get

from actors.results import pending_key, result_key
from api.auth import app_state
from api.dispatch import owner
from api.errors import domain_problem
from api.responses import Pending, answer
from api.responses.engines import Succeeded
from models.errors import DomainError, NotFound
from models.idempotency import find_by_operation
from models.tenancy import Principal


@get(
    "/v1/operations/{operation_id:str}",
    opt={"scope": ("engines:read", "engines:play", "engines:write")},  # a key that made the operation reads it
    tags=["operations"],
    responses=answer(Succeeded, "done, with its answer") | answer(Pending, "still running", 202),
)
async def show(request: Request[Any, Any, Any], principal: Principal, operation_id: str) -> Response[dict[str, Any]]:
    """``200`` with the original answer once it exists, the original problem if refused, else ``202``."""
    state = app_state(request)
    async with state.db.reader() as session:
        record = await find_by_operation(
            session, tenant_id=principal.tenant_id, mode=principal.mode, operation_id=operation_id
        )
    if record is not None:
        return Response({"operation_id": operation_id, "status": "succeeded", "result": record.response})
    raw = await state.redis.get(result_key(operation_id))
    outcome = json.loads(raw) if raw is not None else None
    mine = owner(principal)
    if outcome is None or outcome.get("owner") != mine:
        if not await state.redis.exists(pending_key(mine, operation_id)):
            raise NotFound(f"no operation {operation_id!r}")
        return Response({"operation_id": operation_id, "status": "pending"}, status_code=202)
    if "error" in outcome:
        return domain_problem(DomainError.from_dict(outcome["error"]))
    return Response({"operation_id": operation_id, "status": "succeeded", "result": outcome["body"]})
