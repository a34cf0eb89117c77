"""Lootbox configuration and opens."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from actors.draws import open_lootbox_actor
from api.auth import app_state
from api.dispatch import Submission, submit
from api.enqueue import Job
from api.schemas import EnginePatch, LootboxCreate, OpenRequest
from api.writes import write_once
from models import lootbox
from models.players import get_player
from models.tenancy import Principal


@post("/v1/lootbox", opt={"scope": "engines:write"}, tags=["lootbox"])
async def create(
    request: Request[Any, Any, Any], principal: Principal, data: LootboxCreate
) -> Response[dict[str, Any]]:
    body = msgspec.to_builtins(data)
    body.pop("idempotency_key", None)

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any], list[str]]:
        box = await lootbox.create_lootbox(
            session,
            principal,
            name=data.name,
            prize_table=body["prize_table"],
            cost_winz=data.cost_winz,
            cooldown_s=data.cooldown_s,
        )
        return 201, lootbox.lootbox_view(box), []

    return await write_once(
        app_state(request), principal, operation="lootbox.create", key=data.idempotency_key, request=body, work=work
    )


@get("/v1/lootbox", opt={"scope": "engines:read"}, tags=["lootbox"])
async def index(request: Request[Any, Any, Any], principal: Principal) -> dict[str, Any]:
    async with app_state(request).db.reader() as session:
        boxes = await lootbox.list_lootboxes(session, principal)
    return {"data": [lootbox.lootbox_view(box) for box in boxes], "next_cursor": None}


async def _get(request: Request[Any, Any, Any], principal: Principal, lootbox_id: str) -> dict[str, Any]:
    async with app_state(request).db.reader() as session:
        box = await lootbox.get_lootbox(
            session,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            brand_id=principal.brand_id,
            lootbox_id=lootbox_id,
        )
    return lootbox.lootbox_view(box)


@get("/v1/lootbox/{lootbox_id:str}", opt={"scope": "engines:read"}, tags=["lootbox"])
async def show(request: Request[Any, Any, Any], principal: Principal, lootbox_id: str) -> dict[str, Any]:
    return await _get(request, principal, lootbox_id)


@patch("/v1/lootbox/{lootbox_id:str}", opt={"scope": "engines:write"}, tags=["lootbox"])
async def change(
    request: Request[Any, Any, Any], principal: Principal, lootbox_id: str, data: EnginePatch
) -> dict[str, Any]:
    async with app_state(request).db.transaction() as session:
        box = await lootbox.get_lootbox(
            session,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            brand_id=principal.brand_id,
            lootbox_id=lootbox_id,
        )
        await lootbox.update_lootbox(session, box, name=data.name, status=data.status)
        return lootbox.lootbox_view(box)


@post("/v1/lootbox/{lootbox_id:str}/open", opt={"scope": "engines:play"}, tags=["lootbox"])
async def open_(
    request: Request[Any, Any, Any], principal: Principal, lootbox_id: str, data: OpenRequest
) -> Response[dict[str, Any]]:
    """Draw from the lootbox for a player: ``201`` with the reward, or ``202`` if the draw is still running."""
    state = app_state(request)
    async with state.db.reader() as session:  # clear 404s before anything is queued
        await lootbox.get_lootbox(
            session,
            tenant_id=principal.tenant_id,
            mode=principal.mode,
            brand_id=principal.brand_id,
            lootbox_id=lootbox_id,
        )
        await get_player(session, principal, data.user_id, field="user_id")

    def job(operation_id: str, key: str, digest: str) -> Job:
        return Job(
            open_lootbox_actor,
            (
                operation_id,
                principal.tenant_id,
                principal.mode,
                principal.brand_id,
                lootbox_id,
                data.user_id,
                data.client_seed,
                key,
                digest,
            ),
        )

    return await submit(
        state,
        principal,
        Submission(
            operation=lootbox.OPERATION,
            key=data.idempotency_key,
            request={"lootbox_id": lootbox_id, "user_id": data.user_id, "client_seed": data.client_seed},
            job=job,
        ),
    )
