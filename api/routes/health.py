"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from api.auth import app_state
from api.responses import answer
from api.responses.accounts import Health, Readiness

PROBE_TIMEOUT_S = 2.0


@get("/health", tags=["health"], responses=answer(Health, "the process serves requests"))
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready",
    tags=["health"],
    responses=answer(Readiness, "the database and Redis both answer")
    | answer(Readiness, "the database or Redis does not answer; `checks` says which", 503),
)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """``200`` when the database and Redis both answer, else ``503`` naming what does not."""
    state = app_state(request)
    checks: dict[str, str] = {}

    async def database() -> None:
        async with state.db.reader() as session:
            await session.execute(text("SELECT 1"))

    for name, probe in (("database", database), ("redis", state.redis.ping)):
        try:
            await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)  # type: ignore[operator]
            checks[name] = "ok"
        except Exception as failure:  # any failure means not ready; the answer says which
            checks[name] = f"unavailable: {type(failure).__name__}"
    ok = all(value == "ok" for value in checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
