"""``GET /v1/ledger/transactions``: every ledger transaction of the key's tenant and mode, with its postings."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from sqlalchemy import ColumnElement
from sqlmodel import col, select

from api import pagination
from api.auth import app_state
from api.pagination import listing, window
from api.responses import Page, answer
from api.responses.accounts import Transaction
from models.assets import from_units
from models.base import iso
from models.ledger import Account, LedgerTransaction, Posting
from models.players import get_player
from models.tenancy import Principal


def _touching(*owner: Any) -> ColumnElement[bool]:
    """Transactions with a posting on an account of *owner* (conditions on ``Account``)."""
    postings = select(Posting.transaction_id).join(Account, col(Account.id) == Posting.account_id).where(*owner)
    return col(LedgerTransaction.id).in_(postings)


@get(
    "/v1/ledger/transactions",
    opt={"scope": "ledger:read"},
    tags=["ledger"],
    summary="List ledger transactions",
    responses=answer(Page[Transaction], "transactions newest first, each with its postings"),
)
async def transactions(
    request: Request[Any, Any, Any],
    principal: Principal,
    paging: pagination.Page,
    user: str | None = None,
    engine_id: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Transactions newest first, each with its balanced postings; filter by player, engine, kind and time."""
    model = LedgerTransaction
    async with app_state(request).db.reader() as session:
        query = select(model).where(model.tenant_id == principal.tenant_id, model.mode == principal.mode)
        if kind is not None:
            query = query.where(model.kind == kind)
        if user is not None:
            player = await get_player(session, principal, user, field="user")
            query = query.where(_touching(Account.owner_type == "player", Account.owner_id == player.id))
        if engine_id is not None:  # its funding accounts: an engine's id is no player's
            query = query.where(_touching(Account.owner_type != "player", Account.owner_id == engine_id))
        rows = list((await session.execute(window(query, col(model.created_at), col(model.id), paging))).scalars())
        legs = await session.execute(
            select(Posting, Account.owner_type, Account.owner_id)
            .join(Account, col(Account.id) == Posting.account_id)
            .where(col(Posting.transaction_id).in_([row.id for row in rows]))
            .order_by(col(Posting.id))
        )
        postings: dict[str, list[dict[str, Any]]] = {}
        for posting, owner_type, owner_id in legs.all():
            postings.setdefault(posting.transaction_id, []).append(
                {
                    "account": {"owner_type": owner_type, "owner_id": owner_id},
                    "asset": posting.asset,
                    "amount": from_units(posting.asset, posting.amount),
                }
            )

    def view(row: LedgerTransaction) -> dict[str, Any]:
        return {
            "id": row.id,
            "kind": row.kind,
            "reference": row.reference,
            "created_at": iso(row.created_at),
            "postings": postings.get(row.id, []),
        }

    return listing(rows, paging, view, lambda row: (row.created_at, row.id))
