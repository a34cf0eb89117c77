"""Identity (``/v1/me``) and players mirrored from the operator's PAM."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from actors.webhooks import first_attempts
from api import pagination
from api.auth import app_state
from api.pagination import listing, window
from api.responses import Page, answer
from api.responses.accounts import Commitment, Identity, Player, PlayerPosting
from api.schemas import PlayerCreate
from api.writes import Outcome, keyed, write_once
from models.assets import from_units
from models.base import iso
from models.countries import CODES
from models.errors import InvalidInput
from models.ledger import Account, LedgerTransaction, Posting, balances
from models.players import Player as PlayerRow
from models.players import create_player, get_player, player_view
from models.tenancy import Principal
from models.webhooks import emit_event


@get("/v1/me", tags=["identity"], responses=answer(Identity, "the key's tenant, mode, scopes and brand"))
async def me(principal: Principal) -> dict[str, Any]:
    return {
        "tenant": {
            "slug": principal.tenant_slug,
            "service_mode": principal.service_mode,
            "key_mode": principal.mode,
            "scopes": list(principal.scopes),
        },
        "brand": {"slug": principal.brand_slug},
    }


@post(
    "/v1/players",
    opt={"scope": "players:write"},
    tags=["players"],
    responses=answer(Player, "created", 201) | answer(Player, "the username was already known: that player"),
)
async def create(request: Request[Any, Any, Any], principal: Principal, data: PlayerCreate) -> Response[dict[str, Any]]:
    if data.country_code is not None and data.country_code not in CODES:
        raise InvalidInput("not an ISO 3166-1 alpha-2 country code", field="country_code")

    async def work(session: AsyncSession) -> Outcome:
        player, created = await create_player(
            session,
            principal,
            username=data.username,
            email=data.email,
            external_ref=data.external_ref,
            country_code=data.country_code,
        )
        deliveries: list[str] = []
        if created:
            deliveries = await emit_event(
                session,
                tenant_id=principal.tenant_id,
                mode=principal.mode,
                type="player.created",
                data={"user": player.username, "external_ref": player.external_ref},
            )
        return (201 if created else 200), await _with_balances(session, player), first_attempts(deliveries)

    key, body = keyed(data)
    return await write_once(app_state(request), principal, operation="players.create", key=key, request=body, work=work)


@get(
    "/v1/players/{username:str}",
    opt={"scope": "players:read"},
    tags=["players"],
    responses=answer(Player, "the player with a balance per asset"),
)
async def show(request: Request[Any, Any, Any], principal: Principal, username: str) -> dict[str, Any]:
    async with app_state(request).db.reader() as session:
        return await _with_balances(session, await get_player(session, principal, username))


async def _with_balances(session: AsyncSession, player: PlayerRow) -> dict[str, Any]:
    held = await balances(session, owner_type="player", owner_id=player.id)
    return {
        **player_view(player),
        "balances": {asset: from_units(asset, units) for asset, units in sorted(held.items())},
    }


@get(
    "/v1/players/{username:str}/fairness",
    opt={"scope": "players:read"},
    tags=["players"],
    responses=answer(Commitment, "the commitment to the player's next draw"),
)
async def fairness(request: Request[Any, Any, Any], principal: Principal, username: str) -> dict[str, Any]:
    async with app_state(request).db.reader() as session:
        player = await get_player(session, principal, username)
    return {"server_seed_hash": player.server_seed_hash, "client_seed": player.username, "nonce": player.nonce}


@get(
    "/v1/players/{username:str}/ledger",
    opt={"scope": "ledger:read"},
    tags=["players", "ledger"],
    responses=answer(Page[PlayerPosting], "the player's postings, newest first"),
)
async def ledger(
    request: Request[Any, Any, Any],
    principal: Principal,
    username: str,
    paging: pagination.Page,
) -> dict[str, Any]:
    """The player's postings, newest first."""
    async with app_state(request).db.reader() as session:
        player = await get_player(session, principal, username)
        query = (
            select(Posting, LedgerTransaction.kind, LedgerTransaction.reference)
            .join(Account, col(Account.id) == Posting.account_id)
            .join(LedgerTransaction, col(LedgerTransaction.id) == Posting.transaction_id)
            .where(Account.owner_type == "player", Account.owner_id == player.id)
        )
        rows = (await session.execute(window(query, col(Posting.created_at), col(Posting.id), paging))).all()

    def view(row: Any) -> dict[str, Any]:
        posting, kind, reference = row
        return {
            "transaction_id": posting.transaction_id,
            "kind": kind,
            "reference": reference,
            "asset": posting.asset,
            "amount": from_units(posting.asset, posting.amount),
            "created_at": iso(posting.created_at),
        }

    return listing(rows, paging, view, lambda row: (row[0].created_at, row[0].id))
