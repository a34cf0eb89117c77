"""Prize engines: lootboxes and mini-games, both a weighted prize table drawn for one player.

A draw uses the player's fairness commitment, optionally debits a WINZ cost into the engine's
funding account and pays the drawn segment out of it. Debit, draw, credit, the draw row, the
idempotency record and the webhook outbox rows are one transaction, so a rerun of the same message
finds the record and returns the first answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, BigInteger, bindparam, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models.assets import from_units, to_units
from models.base import created_field, id_field, iso, row, table, utcnow
from models.engines import EngineColumns, get_engine_row
from models.errors import Conflict, Cooldown, DomainError, InvalidInput, NotFound
from models.fairness import draw_weighted
from models.idempotency import IdempotencyRecord, Outcome, find_records, outcome_of
from models.ledger import Leg, Movement, Owner, Prepared, account_ids, prepare_transactions
from models.players import Player, advance_commitments
from models.prizes import normalize_prize_table, weights
from models.statements import Check, StaleRead, among_parameter, write_rows
from models.stats import chi_square
from models.tenancy import Principal
from models.webhooks import Announcement, Subscribers, event_rows, lend_subscribers, subscribers_read

MINI_GAME_KINDS = frozenset({"wheel", "scratch", "pick"})


class PrizeEngineColumns(EngineColumns):
    prize_table: list[dict[str, Any]] = Field(sa_type=JSON, nullable=False)
    cost_winz: int = Field(default=0, sa_type=BigInteger)
    cooldown_s: int = Field(default=0)


class Lootbox(PrizeEngineColumns, table=True):
    __tablename__ = "lootboxes"


class MiniGame(PrizeEngineColumns, table=True):
    __tablename__ = "mini_games"
    kind: str = Field(max_length=10)


PrizeEngine = Lootbox | MiniGame


class PrizeDrawColumns(SQLModel):
    id: str = id_field()
    engine_id: str = Field(max_length=36, index=True)
    tenant_id: str = Field(max_length=36)
    mode: str = Field(max_length=8)
    player_id: str = Field(foreign_key="players.id", max_length=36, index=True)
    username: str = Field(max_length=64)
    segment_label: str = Field(max_length=64)
    asset: str = Field(max_length=8)
    amount: str = Field(max_length=40)
    cost_winz: int = Field(sa_type=BigInteger)
    server_seed: str = Field(max_length=64)
    server_seed_hash: str = Field(max_length=64)
    client_seed: str = Field(max_length=128)
    nonce: int
    idempotency_key: str = Field(max_length=255)
    created_at: datetime = created_field()


class LootboxOpen(PrizeDrawColumns, table=True):
    __tablename__ = "lootbox_opens"


class MiniGamePlay(PrizeDrawColumns, table=True):
    __tablename__ = "mini_game_plays"


PrizeDraw = LootboxOpen | MiniGamePlay


@dataclass(frozen=True)
class Spec:
    """What differs between the prize engines: tables, names, and the shapes of answers and events."""

    engine: type[Lootbox] | type[MiniGame]
    draw: type[LootboxOpen] | type[MiniGamePlay]
    owner_type: str  # funding account owner
    operation: str
    event_type: str
    noun: str
    listing: str  # the path segment listing its draws
    answer: Callable[[Any, Any, str], dict[str, Any]]  # (engine, draw, next_server_seed_hash) -> body
    event: Callable[[Any, Any], dict[str, Any]]  # (engine, draw) -> webhook data


def engine_view(engine: PrizeEngine) -> dict[str, Any]:
    view = {
        "id": engine.id,
        "name": engine.name,
        "prize_table": engine.prize_table,
        "cost_winz": engine.cost_winz,
        "status": engine.status,
        "created_at": iso(engine.created_at),
        "updated_at": iso(engine.updated_at),
    }
    if isinstance(engine, MiniGame):
        view["kind"] = engine.kind
    else:
        view["cooldown_s"] = engine.cooldown_s
    return view


def segment(draw: PrizeDrawColumns) -> dict[str, Any]:
    amount = int(draw.amount) if draw.asset in {"WINZ", "XP"} else draw.amount
    return {"segment_label": draw.segment_label, "asset": draw.asset, "amount": amount}


async def create_engine(
    session: AsyncSession, spec: Spec, principal: Principal, *, config: dict[str, Any]
) -> PrizeEngine:
    if spec.engine is MiniGame and config.get("kind") not in MINI_GAME_KINDS:
        raise InvalidInput("must be wheel, scratch or pick", field="kind")
    engine = spec.engine(
        tenant_id=principal.tenant_id,
        brand_id=principal.brand_id,
        mode=principal.mode,
        **{**config, "prize_table": normalize_prize_table(config["prize_table"])},
    )
    session.add(engine)
    await session.flush()
    return engine


async def get_engine(
    session: AsyncSession, spec: Spec, *, tenant_id: str, mode: str, brand_id: str, engine_id: str
) -> PrizeEngine:
    return await get_engine_row(
        session, spec.engine, spec.noun, tenant_id=tenant_id, mode=mode, brand_id=brand_id, engine_id=engine_id
    )


async def _check_cooldown(session: AsyncSession, spec: Spec, engine: PrizeEngine, player: Player) -> None:
    if not engine.cooldown_s:
        return
    model = spec.draw
    last = (
        await session.execute(
            select(model.created_at)
            .where(model.engine_id == engine.id, model.player_id == player.id)
            .order_by(col(model.created_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if last is None:
        return
    wait = engine.cooldown_s - (utcnow() - last).total_seconds()
    if wait > 0:
        raise Cooldown(f"this {spec.noun} can be opened again in {math.ceil(wait)} s", retry_after=math.ceil(wait))


@dataclass(frozen=True)
class DrawRequest:
    """One open or play, as the API queued it."""

    engine_id: str
    username: str
    client_seed: str | None
    idempotency_key: str
    fingerprint: str
    operation_id: str


@dataclass
class Drawn:
    """Each request's outcome (``(status, body, [], deduped)``) or refusal, and the webhook deliveries of all."""

    outcomes: list[Outcome | DomainError]
    deliveries: list[str]


async def draw_prizes(
    session: AsyncSession,
    spec: Spec,
    *,
    tenant_id: str,
    mode: str,
    brand_id: str,
    requests: Sequence[DrawRequest],
    look_up: bool = True,
    kept: KeptReads | None = None,
) -> Drawn:
    """Draw once per idempotency key for each request, in a few bulk statements for all of them.

    A request refused before anything is written (an unknown player, an inactive engine, a cooldown, a
    reused key) gets its refusal and the others go on; a refusal found while writing (a balance too low
    for the cost) raises, and the caller's transaction must roll back.

    *look_up* false skips the search for the requests' earlier answers, a statement that a first run
    seldom needs: the API queues a key once. A request that has an answer then fails the insert of its
    idempotency record (``IntegrityError``), the transaction rolls back, and the rerun must look them up.

    *kept* lends the engines and webhook endpoints earlier transactions read, and keeps those this one
    reads; the write checks the lent ones, and raises ``StaleRead`` should one have changed. On PostgreSQL
    only: elsewhere it is not used.
    """
    if session.get_bind().dialect.name != "postgresql":
        kept = None  # a read costs no round trip, and a check of kept rows would cost a statement each
    outcomes: dict[int, Outcome | DomainError] = {}
    checks: list[Check] = []
    keys = [r.idempotency_key for r in requests]
    records = (
        await find_records(session, tenant_id=tenant_id, mode=mode, operation=spec.operation, keys=keys)
        if look_up
        else {}
    )
    engines: dict[str, PrizeEngine | DomainError] = {}
    scope = (tenant_id, mode, brand_id)
    players = await _players(session, brand_id, mode, {r.username for r in requests})
    fresh: list[tuple[int, PrizeEngine, Player]] = []
    for index, request in enumerate(requests):
        try:
            record = records.get(request.idempotency_key)
            if record is not None:
                outcomes[index] = outcome_of(record, fingerprint=request.fingerprint, operation_id=request.operation_id)
                continue
            if request.engine_id not in engines:
                engines[request.engine_id] = await _usable_engine(session, spec, scope, request.engine_id, kept, checks)
            engine = engines[request.engine_id]
            if isinstance(engine, DomainError):
                raise engine.with_traceback(None)
            player = players.get(request.username)
            if player is None:
                raise NotFound(f"no player {request.username!r}", field="user_id")
            await _check_cooldown(session, spec, engine, player)
            fresh.append((index, engine, player))
        except DomainError as refused:
            outcomes[index] = refused
    advance = advance_commitments([player for _, _, player in fresh])
    draws = []
    bodies: dict[int, dict[str, Any]] = {}
    for (index, engine, player), commitment in zip(fresh, advance.commitments, strict=True):
        request = requests[index]
        client_seed = request.client_seed if request.client_seed is not None else request.username
        won = engine.prize_table[
            draw_weighted(commitment.server_seed, client_seed, commitment.nonce, weights(engine.prize_table))
        ]
        draw = PrizeDrawColumns(  # the row's values; its table model would cost more to build than to insert
            id=request.operation_id,
            engine_id=engine.id,
            tenant_id=tenant_id,
            mode=mode,
            player_id=player.id,
            username=request.username,
            segment_label=won["label"],
            asset=won["asset"],
            amount=str(won["amount"]),
            cost_winz=engine.cost_winz,
            server_seed=commitment.server_seed,
            server_seed_hash=commitment.server_seed_hash,
            client_seed=client_seed,
            nonce=commitment.nonce,
            idempotency_key=request.idempotency_key,
        )
        draws.append((index, engine, player, won, draw))
        bodies[index] = spec.answer(engine, draw, commitment.next_server_seed_hash)
        outcomes[index] = (201, bodies[index], [], False)
    paid = await _pay(
        session, spec, tenant_id, mode, [(engine, player, won, draw) for _, engine, player, won, draw in draws]
    )
    lent = kept.subscribers.get((tenant_id, mode)) if kept is not None and draws else None
    if lent is not None:
        checks.append(lend_subscribers(session, tenant_id, mode, lent))
    events, deliveries = await event_rows(
        session,
        [Announcement(tenant_id, mode, spec.event_type, spec.event(engine, draw)) for _, engine, _, _, draw in draws],
    )
    if kept is not None and lent is None:
        kept.keep_subscribers(subscribers_read(session))
    rows = [
        *paid.rows,
        (table(spec.draw), [draw.model_dump() for *_, draw in draws]),
        (
            table(IdempotencyRecord),
            [
                row(
                    IdempotencyRecord,
                    tenant_id=tenant_id,
                    mode=mode,
                    operation=spec.operation,
                    key=requests[index].idempotency_key,
                    fingerprint=requests[index].fingerprint,
                    operation_id=requests[index].operation_id,
                    status_code=201,
                    response=bodies[index],
                )
                for index, *_ in draws
            ],
        ),
        *events,
    ]
    try:  # one statement on PostgreSQL; not the ORM's unit of work: it costs more
        # the balances last: the funding account stays locked only to the commit
        advanced, _ = await write_rows(session, rows, [advance.update, paid.balances], checks)
    except StaleRead:
        if kept is not None:
            kept.forget()
        raise
    advance.check(advanced)
    return Drawn([outcomes[index] for index in range(len(requests))], deliveries)


KEPT_AT_MOST = 1_000  # rows of each kind a process keeps; past that it forgets them all and reads again


@dataclass
class KeptReads:
    """The engines and webhook endpoints a draws process has read, kept for its next transactions on
    PostgreSQL, where each read costs every group a round trip. A transaction lent some has its write
    check that they are still as read (``models.statements.Check``); should one have changed, the write raises
    ``StaleRead``, everything kept is forgotten, and the transaction runs again from fresh reads. Only
    active engines are kept: the check holds them to their ``updated_at``, which every change sets."""

    engines: dict[tuple[str, ...], PrizeEngine] = field(default_factory=dict)
    subscribers: dict[tuple[str, str], Subscribers] = field(default_factory=dict)

    def keep_engine(self, key: tuple[str, ...], engine: PrizeEngine) -> None:
        if len(self.engines) >= KEPT_AT_MOST:
            self.engines.clear()
        self.engines[key] = engine

    def keep_subscribers(self, read: dict[tuple[str, str], Subscribers]) -> None:
        if len(self.subscribers.keys() | read.keys()) > KEPT_AT_MOST:
            self.subscribers.clear()
        self.subscribers.update(read)

    def forget(self) -> None:
        self.engines.clear()
        self.subscribers.clear()


async def _usable_engine(
    session: AsyncSession,
    spec: Spec,
    scope: tuple[str, str, str],
    engine_id: str,
    kept: KeptReads | None,
    checks: list[Check],
) -> PrizeEngine | DomainError:
    """The engine if it may draw, else the refusal: lent by *kept*, with its check added to *checks*, or read."""
    key = (spec.owner_type, *scope, engine_id)
    if kept is not None and (engine := kept.engines.get(key)) is not None:
        checks.append(Check(_unchanged(spec.engine), [{"id": engine.id, "updated_at": engine.updated_at}]))
        return engine
    tenant_id, mode, brand_id = scope
    try:
        engine = await get_engine(session, spec, tenant_id=tenant_id, mode=mode, brand_id=brand_id, engine_id=engine_id)
    except DomainError as refused:
        return refused
    if engine.status != "active":
        return Conflict(f"{spec.noun} is {engine.status}")
    if kept is not None:
        session.expunge(engine)  # its attributes then outlive the transaction, even a rollback's expiry
        kept.keep_engine(key, engine)
    return engine


def _unchanged(model: type[PrizeEngine]) -> str:
    """``Check`` that each row's engine is still active and unchanged since its ``updated_at``."""
    return (
        f"SELECT 1 FROM {model.__tablename__} AS e"
        " JOIN json_to_recordset({rows}) AS r(id text, updated_at timestamptz)"
        " ON e.id = r.id AND e.updated_at = r.updated_at AND e.status = 'active'"
    )


@cache  # built once per dialect: building and keying it costs more than running it
def _players_named(dialect: str) -> SelectOfScalar[Player]:
    return select(Player).where(
        col(Player.brand_id) == bindparam("brand_id"),
        col(Player.mode) == bindparam("mode"),
        among_parameter(dialect, table(Player).c.username, "usernames"),
    )


async def _players(session: AsyncSession, brand_id: str, mode: str, usernames: set[str]) -> dict[str, Player]:
    named = _players_named(session.get_bind().dialect.name)
    rows = await session.execute(named, {"brand_id": brand_id, "mode": mode, "usernames": sorted(usernames)})
    return {player.username: player for player in rows.scalars()}


async def _pay(
    session: AsyncSession,
    spec: Spec,
    tenant_id: str,
    mode: str,
    draws: Sequence[tuple[PrizeEngine, Player, dict[str, Any], PrizeDrawColumns]],
) -> Prepared:
    """Each draw's ledger transaction, prepared: the cost paid into the engine's funding account, the prize paid out."""
    moves: list[tuple[str, list[tuple[Owner, Owner, str, int]]]] = []
    for engine, player, won, draw in draws:
        player_, funding = ("player", player.id), (spec.owner_type, engine.id)
        paid = [(player_, funding, "WINZ", engine.cost_winz)] if engine.cost_winz else []
        if units := to_units(won["asset"], won["amount"]):
            paid.append((funding, player_, won["asset"], units))
        moves.append((draw.id, paid))
    ids = await account_ids(
        session,
        tenant_id=tenant_id,
        mode=mode,
        wanted={(owner, asset) for _, paid in moves for payer, payee, asset, _ in paid for owner in (payer, payee)},
    )
    movements = [
        Movement(
            spec.operation,
            reference,
            [
                leg
                for payer, payee, asset, amount in paid
                for leg in (Leg(ids[payer, asset], asset, -amount), Leg(ids[payee, asset], asset, amount))
            ],
        )
        for reference, paid in moves
        if paid
    ]
    return await prepare_transactions(session, tenant_id=tenant_id, mode=mode, movements=movements)


def draw_view(draw: PrizeDrawColumns) -> dict[str, Any]:
    """A draw as operators list it: who, what, and the revealed seeds to verify it."""
    return {
        "id": draw.id,
        "user_id": draw.username,
        "outcome": segment(draw),
        "cost_winz": draw.cost_winz,
        "server_seed": draw.server_seed,
        "server_seed_hash": draw.server_seed_hash,
        "client_seed": draw.client_seed,
        "nonce": draw.nonce,
        "created_at": iso(draw.created_at),
    }


async def draw_stats(session: AsyncSession, spec: Spec, engine: PrizeEngine) -> dict[str, Any]:
    """Counts per segment against the configured weights, a chi-square test, and the total paid per asset."""
    model = spec.draw
    rows = await session.execute(
        select(model.segment_label, func.count()).where(model.engine_id == engine.id).group_by(model.segment_label)
    )
    counts = dict(rows.all())
    table = engine.prize_table
    observed = [int(counts.get(segment_["label"], 0)) for segment_ in table]
    statistic, freedom, p_value = chi_square(observed, weights(table))
    total, weight_sum = sum(observed), sum(weights(table))
    paid: dict[str, int] = {}
    for segment_, count in zip(table, observed, strict=True):
        paid[segment_["asset"]] = paid.get(segment_["asset"], 0) + count * to_units(
            segment_["asset"], segment_["amount"]
        )
    return {
        "id": engine.id,
        "draws": total,
        "segments": [
            {
                "label": segment_["label"],
                "weight": segment_["weight"],
                "observed": count,
                "expected": total * segment_["weight"] / weight_sum,
                "observed_share": count / total if total else 0.0,
                "expected_share": segment_["weight"] / weight_sum,
            }
            for segment_, count in zip(table, observed, strict=True)
        ],
        "chi_square": statistic,
        "degrees_of_freedom": freedom,
        "p_value": p_value,
        "paid": {asset: from_units(asset, units) for asset, units in sorted(paid.items())},
        "cost_collected_winz": int(
            (
                await session.execute(
                    select(func.coalesce(func.sum(model.cost_winz), 0)).where(model.engine_id == engine.id)
                )
            ).scalar_one()
        ),
    }
