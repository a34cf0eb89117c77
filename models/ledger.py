"""The double-entry ledger: the only source of every balance.

Design: an *account* holds one asset for one owner (a player, or an engine's funding account). A
*transaction* moves value between accounts through *postings* (legs); the postings of a transaction
sum to zero per asset, so value is never created or lost, only moved. Engines' funding accounts may
go negative (they issue rewards); players' accounts may not. Each account keeps its running balance,
updated in the same statement batch as its postings, and a test proves it equals the sum of postings.

``post_transaction`` is the single way to write to the ledger. It runs inside the caller's
transaction and never commits, so a business write and its ledger movement land together or not at
all. A transaction is recorded once per ``(tenant, mode, kind, reference)``, enforced by a unique
constraint.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, UniqueConstraint, bindparam, event, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel, col, select

from models.base import created_field, id_field, new_id, table, utcnow
from models.db import MEMO, transaction_memo
from models.errors import InsufficientBalance
from models.statements import Batch, RowUpdate, among, insert_ignore, write_rows


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "mode", "owner_type", "owner_id", "asset"),)
    id: str = id_field()
    tenant_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    owner_type: str = Field(max_length=32)
    owner_id: str = Field(max_length=36, index=True)
    asset: str = Field(max_length=8)
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    allow_negative: bool = Field(default=False)
    created_at: datetime = created_field()


class LedgerTransaction(SQLModel, table=True):
    __tablename__ = "ledger_transactions"
    __table_args__ = (UniqueConstraint("tenant_id", "mode", "kind", "reference"),)
    id: str = id_field()
    tenant_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    kind: str = Field(max_length=48)
    reference: str = Field(max_length=300)
    created_at: datetime = created_field()


class Posting(SQLModel, table=True):
    __tablename__ = "postings"
    id: int | None = Field(default=None, primary_key=True)
    transaction_id: str = Field(foreign_key="ledger_transactions.id", max_length=36, index=True)
    account_id: str = Field(foreign_key="accounts.id", max_length=36, index=True)
    asset: str = Field(max_length=8)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = created_field()


@dataclass(frozen=True)
class Leg:
    """One side of a movement: *amount* units into (positive) or out of (negative) *account_id*."""

    account_id: str
    asset: str
    amount: int


Owner = tuple[str, str]  # (owner_type, owner_id)


@dataclass(frozen=True)
class Movement:
    """One balanced transaction to record: its kind, its reference and its legs."""

    kind: str
    reference: str
    legs: Sequence[Leg]


@dataclass(frozen=True)
class Transfer:
    """*amount* of *asset* from *payer* to *payee*, recorded as its own transaction ``(kind, reference)``."""

    kind: str
    reference: str
    asset: str
    payer: Owner
    payee: Owner
    amount: int


class UnbalancedTransaction(ValueError):
    """Postings that do not sum to zero per asset: a programming error, never a client's."""


def check_balanced(legs: Sequence[Leg]) -> None:
    """Raise unless the legs sum to zero for every asset."""
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.asset] += leg.amount
    unbalanced = {asset: total for asset, total in totals.items() if total}
    if unbalanced or not legs:
        raise UnbalancedTransaction(f"postings do not sum to zero: {unbalanced or 'no legs'}")


async def account_id(
    session: AsyncSession, *, tenant_id: str, mode: str, owner_type: str, owner_id: str, asset: str
) -> str:
    """The id of an owner's account for an asset, created on first use. Only players' may not go negative."""
    owner = (owner_type, owner_id)
    return (await account_ids(session, tenant_id=tenant_id, mode=mode, wanted=[(owner, asset)]))[owner, asset]


_MOVE_BALANCE = (  # built once: building and keying a statement costs more than running it
    update(table(Account))
    .where(table(Account).c.id == bindparam("account"))
    .values(balance=table(Account).c.balance + bindparam("change"))
)
_MOVE_BALANCES_FROM_JSON = (  # PostgreSQL, in ``write_rows``'s statement: the rows locked in account order first
    "UPDATE accounts SET balance = accounts.balance + r.change"
    " FROM json_to_recordset({rows}) AS r(account varchar, change bigint)"
    " WHERE accounts.id = r.account AND accounts.id IN (SELECT id FROM accounts WHERE id IN"
    " (SELECT account FROM json_to_recordset({rows}) AS k(account varchar)) ORDER BY id FOR UPDATE)"
    " RETURNING accounts.id"
)


async def post_transaction(
    session: AsyncSession, *, tenant_id: str, mode: str, kind: str, reference: str, legs: Sequence[Leg]
) -> str:
    """Record one balanced transaction inside the caller's transaction; returns its id (see ``post_transactions``)."""
    posted = await post_transactions(
        session, tenant_id=tenant_id, mode=mode, movements=[Movement(kind, reference, legs)]
    )
    return posted[0]


async def post_transactions(
    session: AsyncSession, *, tenant_id: str, mode: str, movements: Sequence[Movement]
) -> list[str]:
    """Record balanced transactions, in order, inside the caller's transaction; returns their ids
    (``prepare_transactions``, then its rows inserted and its balances moved)."""
    prepared = await prepare_transactions(session, tenant_id=tenant_id, mode=mode, movements=movements)
    await write_rows(session, prepared.rows, [prepared.balances])
    return prepared.ids


@dataclass(frozen=True)
class Prepared:
    """Balanced transactions checked and ready to write: their rows (parents first) and each account's net change.

    The caller writes the rows, with the balances as an update (``models.statements.write_rows``), together with its
    own writes if it likes, best as its transaction's last statement: on PostgreSQL an account's row stays
    locked from its update to the commit, and an engine's funding account is in every one of its draws.
    """

    ids: list[str]
    rows: tuple[Batch, ...]  # parents first
    changes: list[dict[str, Any]]  # {"account", "change"} in account order

    @property
    def balances(self) -> RowUpdate:
        """The update moving each account's balance by its net change (``models.statements.write_rows``)."""
        return RowUpdate(_MOVE_BALANCE, _MOVE_BALANCES_FROM_JSON, self.changes)


async def prepare_transactions(
    session: AsyncSession, *, tenant_id: str, mode: str, movements: Sequence[Movement]
) -> Prepared:
    """Check balanced transactions, to record in order inside the caller's transaction (``Prepared``).

    Each account's balance moves once, by the net of its legs, in one bulk update in account order. When
    the running balance of any would dip below its start (debits first within each transaction), the
    accounts are read here, locked (``FOR UPDATE``, in account order, where the database has row locks;
    SQLite has one writer at a time), and each such one checked: ``allow_negative`` or
    ``balance + lowest >= 0``. So no account that may not go negative ever does, whatever runs
    concurrently; a refused debit raises ``InsufficientBalance`` before anything is written, and the
    caller's transaction must roll back.
    """
    for movement in movements:
        check_balanced(movement.legs)
    now = utcnow()
    ids = [new_id() for _ in movements]
    net: dict[str, int] = {}
    lowest: dict[str, tuple[int, str]] = {}  # account -> (lowest running change, its asset)
    for movement in movements:
        for leg in sorted(movement.legs, key=lambda leg: leg.amount):
            net[leg.account_id] = net.get(leg.account_id, 0) + leg.amount
            lowest[leg.account_id] = min(lowest.get(leg.account_id, (0, leg.asset)), (net[leg.account_id], leg.asset))
    may_go_negative = transaction_memo(session, "accounts_allowed_negative")
    guarded = sorted(account for account, (low, _) in lowest.items() if low < 0 and account not in may_go_negative)
    if guarded:  # checked before anything moves; every account moved is locked, in one order for all
        found = await _locked_accounts(session, sorted(net))
        for account in guarded:
            low, asset = lowest[account]
            balance, allow_negative = found.get(account, (0, False))
            if not allow_negative and balance + low < 0:
                raise InsufficientBalance(f"balance too low for a debit of {-low} {asset}")
    transactions = [
        {"id": id_, "tenant_id": tenant_id, "mode": mode, "kind": m.kind, "reference": m.reference, "created_at": now}
        for id_, m in zip(ids, movements, strict=True)
    ]
    postings = [
        {
            "transaction_id": id_,
            "account_id": leg.account_id,
            "asset": leg.asset,
            "amount": leg.amount,
            "created_at": now,
        }
        for id_, movement in zip(ids, movements, strict=True)
        for leg in movement.legs
    ]
    return Prepared(
        ids,
        ((table(LedgerTransaction), transactions), (table(Posting), postings)),
        [{"account": account, "change": net[account]} for account in sorted(net) if net[account]],
    )


async def _locked_accounts(session: AsyncSession, ids: list[str]) -> dict[str, tuple[int, bool]]:
    """Each account's ``(balance, allow_negative)``, its row locked until the transaction ends, in account order."""
    accounts = table(Account).c
    rows = await session.execute(
        select(accounts.id, accounts.balance, accounts.allow_negative)
        .where(among(session, accounts.id, ids))
        .order_by(accounts.id)
        .with_for_update()
    )
    return {id_: (balance, allow_negative) for id_, balance, allow_negative in rows}


async def account_ids(
    session: AsyncSession, *, tenant_id: str, mode: str, wanted: Iterable[tuple[Owner, str]]
) -> dict[tuple[Owner, str], str]:
    """The account id of each ``(owner, asset)``, created on first use and remembered for the transaction."""
    memo = transaction_memo(session, "accounts")
    wanted = set(wanted)
    missing = await _read_accounts(session, memo, tenant_id, mode, wanted)
    if missing:  # created here, or by a concurrent transaction whose row is then read back
        now = utcnow()
        await session.execute(
            insert_ignore(session, table(Account)),
            [
                {
                    "id": new_id(),
                    "tenant_id": tenant_id,
                    "mode": mode,
                    "owner_type": owner_type,
                    "owner_id": owner_id,
                    "asset": asset,
                    "balance": 0,
                    "allow_negative": owner_type != "player",
                    "created_at": now,
                }
                for (owner_type, owner_id), asset in sorted(missing)
            ],
        )
        await _read_accounts(session, memo, tenant_id, mode, missing)
    return {(owner, asset): memo[tenant_id, mode, owner, asset] for owner, asset in wanted}


async def _read_accounts(
    session: AsyncSession, memo: dict[Any, Any], tenant_id: str, mode: str, wanted: set[tuple[Owner, str]]
) -> set[tuple[Owner, str]]:
    """Remember the ids of the wanted accounts that exist; returns those that do not."""
    may_go_negative = transaction_memo(session, "accounts_allowed_negative")
    for owner, asset in wanted:
        key = (tenant_id, mode, owner, asset)
        if key not in memo and key in _settled_accounts:
            memo[key], negative = _settled_accounts[key]
            if negative:
                may_go_negative[memo[key]] = True
    missing = {(owner, asset) for owner, asset in wanted if (tenant_id, mode, owner, asset) not in memo}
    if missing:
        accounts = table(Account).c
        rows = await session.execute(
            table(Account)
            .select()
            .with_only_columns(
                accounts.id, accounts.owner_type, accounts.owner_id, accounts.asset, accounts.allow_negative
            )
            .where(
                accounts.tenant_id == tenant_id,
                accounts.mode == mode,
                among(session, accounts.owner_id, sorted({owner_id for (_, owner_id), _ in missing})),
            )
        )
        for row in rows:
            memo[tenant_id, mode, (row.owner_type, row.owner_id), row.asset] = row.id
            if row.allow_negative:  # an engine's account: its debits need no guard
                may_go_negative[row.id] = True
    return {(owner, asset) for owner, asset in missing if (tenant_id, mode, owner, asset) not in memo}


# Accounts known to be committed, by (tenant, mode, owner, asset): an account's id never changes and an
# account is never deleted, so no process can hold a stale entry. Bounded, oldest forgotten first.
_settled_accounts: OrderedDict[tuple[Any, ...], tuple[str, bool]] = OrderedDict()
SETTLED_ACCOUNTS_MAX = 100_000


@event.listens_for(Session, "after_commit")
def _remember_settled_accounts(session: Session) -> None:
    """Once a transaction commits, the accounts it read or created are settled: later ones skip the read."""
    memos = session.info.get(MEMO, {})
    negative = memos.get("accounts_allowed_negative", {})
    for key, account in memos.get("accounts", {}).items():
        _settled_accounts[key] = (account, account in negative)
        _settled_accounts.move_to_end(key)
    while len(_settled_accounts) > SETTLED_ACCOUNTS_MAX:
        _settled_accounts.popitem(last=False)


async def transfer_many(session: AsyncSession, *, tenant_id: str, mode: str, transfers: Sequence[Transfer]) -> None:
    """Record each transfer as its own balanced transaction, in bulk and in order; zero amounts move nothing."""
    prepared = await prepare_transfers(session, tenant_id=tenant_id, mode=mode, transfers=transfers)
    await write_rows(session, prepared.rows, [prepared.balances])


async def prepare_transfers(
    session: AsyncSession, *, tenant_id: str, mode: str, transfers: Sequence[Transfer]
) -> Prepared:
    """``prepare_transactions`` for transfers, each its own balanced transaction; zero amounts move nothing."""
    moving = [transfer for transfer in transfers if transfer.amount]
    if not moving:
        return Prepared([], (), [])
    ids = await account_ids(
        session,
        tenant_id=tenant_id,
        mode=mode,
        wanted={(owner, t.asset) for t in moving for owner in (t.payer, t.payee)},
    )
    movements = [
        Movement(
            t.kind,
            t.reference,
            [Leg(ids[t.payer, t.asset], t.asset, -t.amount), Leg(ids[t.payee, t.asset], t.asset, t.amount)],
        )
        for t in moving
    ]
    return await prepare_transactions(session, tenant_id=tenant_id, mode=mode, movements=movements)


async def balances(session: AsyncSession, *, owner_type: str, owner_id: str) -> dict[str, int]:
    """An owner's balance per asset, in stored units."""
    rows = await session.execute(
        select(Account.asset, Account.balance).where(Account.owner_type == owner_type, Account.owner_id == owner_id)
    )
    return {asset: balance for asset, balance in rows.all()}


async def balances_of(
    session: AsyncSession, *, owner_type: str, owner_ids: Collection[str]
) -> dict[tuple[str, str], int]:
    """Balances of many owners of one type in one read, by (owner id, asset), in stored units."""
    accounts = table(Account).c
    rows = await session.execute(
        select(accounts.owner_id, accounts.asset, accounts.balance).where(
            accounts.owner_type == owner_type, among(session, accounts.owner_id, owner_ids)
        )
    )
    return {(owner, asset): balance for owner, asset, balance in rows.all()}


async def locked_balances(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    """Balances of these accounts, their rows held until commit (PostgreSQL; SQLite holds the whole database)."""
    return {account: balance for account, (balance, _) in (await _locked_accounts(session, sorted(ids))).items()}


async def audit(session: AsyncSession) -> list[str]:
    """Every inconsistency in the ledger: unbalanced transactions and balances that differ from postings."""
    problems: list[str] = []
    unbalanced = await session.execute(
        select(Posting.transaction_id, Posting.asset, func.sum(Posting.amount))
        .group_by(Posting.transaction_id, Posting.asset)
        .having(func.sum(Posting.amount) != 0)
    )
    problems += [f"transaction {tx} sums to {total} {asset}" for tx, asset, total in unbalanced.all()]
    sums = select(Posting.account_id, func.sum(Posting.amount).label("total")).group_by(Posting.account_id).subquery()
    drift = await session.execute(
        select(Account.id, Account.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != func.coalesce(sums.c.total, 0))
    )
    problems += [f"account {acc} balance {bal} != postings {total}" for acc, bal, total in drift.all()]
    negative = await session.execute(
        select(Account.id, Account.balance).where(col(Account.allow_negative).is_(False), Account.balance < 0)  # type: ignore[attr-defined]
    )
    problems += [f"account {acc} is negative: {bal}" for acc, bal in negative.all()]
    return problems


async def transfer(
    session: AsyncSession,
    *,
    tenant_id: str,
    mode: str,
    kind: str,
    reference: str,
    asset: str,
    payer: Owner,
    payees: Sequence[tuple[Owner, int]],
) -> str | None:
    """Move amounts of one asset from *payer* to each payee as one balanced transaction (None if all zero)."""
    total = sum(amount for _, amount in payees)
    if not total:
        return None

    async def account(owner: Owner) -> str:
        return await account_id(
            session, tenant_id=tenant_id, mode=mode, owner_type=owner[0], owner_id=owner[1], asset=asset
        )

    legs = [Leg(await account(payer), asset, -total)]
    legs += [Leg(await account(owner), asset, amount) for owner, amount in payees if amount]
    return await post_transaction(session, tenant_id=tenant_id, mode=mode, kind=kind, reference=reference, legs=legs)
