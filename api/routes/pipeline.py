"""``POST /v1/events/batch``: up to 1,000 pipeline events, each validated and deduplicated on its own.

One bad event does not refuse the others. Every accepted event's business id is claimed and the
whole batch queued as one message in a single atomic Redis call; the worker applies the batch in
one transaction, where each event still counts once by its business id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, post
from msgspec import Meta

from api.auth import app_state
from api.enqueue import claim_many_and_enqueue
from api.errors import STATUS_BY_ERROR, located
from api.lookups import existing_players, many_engine_facts
from api.responses import answer
from api.responses.engines import BatchResults
from api.routes.engines import event_job, journey_source_id, source_claim
from api.schemas import Body, IdempotencyKey, SourceId, Trigger, Username
from api.state import AppState
from models import jackpots, tournaments
from models.assets import from_units, to_units
from models.base import new_id
from models.engines import EngineColumns
from models.errors import Conflict, DomainError, InvalidInput, NotFound
from models.pipeline import CONTRIBUTE, JOURNEY, SCORE
from models.tenancy import Principal

EngineId = Annotated[str, Meta(min_length=1, max_length=64)]
MAX_EVENTS = 1000


class ScoreItem(Body, tag_field="type", tag=SCORE):
    tournament_id: EngineId
    user_id: Username
    source_wager_id: SourceId
    points: Annotated[int, Meta(ge=1, le=10**12)]
    idempotency_key: IdempotencyKey | None = None


class ContributeItem(Body, tag_field="type", tag=CONTRIBUTE):
    jackpot_id: EngineId
    user_id: Username
    source_wager_id: SourceId
    amount: Decimal
    idempotency_key: IdempotencyKey | None = None


class JourneyItem(Body, tag_field="type", tag=JOURNEY):
    user_id: Username
    trigger: Trigger
    source_event_id: SourceId | None = None
    idempotency_key: IdempotencyKey | None = None


Item = ScoreItem | ContributeItem | JourneyItem
_ITEMS = list[Item]
Engines = dict[tuple[str, str], dict[str, Any] | DomainError]  # (noun, engine_id) -> facts, or why it refuses


class BatchRequest(Body):
    events: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=MAX_EVENTS)]


def _refusal(error: DomainError) -> dict[str, Any]:
    status = STATUS_BY_ERROR.get(type(error), 400)
    return {"type": error.slug, "status": status, "detail": error.detail, "field": error.field}


def _decode(raw: dict[str, Any]) -> Item:
    try:
        item: Item = msgspec.convert(raw, Item)
        return item
    except msgspec.ValidationError as bad:
        path, detail = located(str(bad))
        raise InvalidInput(detail, field=path if path is not None else "type") from None


def _decode_all(raws: list[dict[str, Any]]) -> list[Item | InvalidInput]:
    """Each event typed, or its refusal naming the field; one pass over the batch when every event is valid."""
    try:
        return list(msgspec.convert(raws, _ITEMS))
    except msgspec.ValidationError:
        pass
    decoded: list[Item | InvalidInput] = []
    for raw in raws:
        try:
            decoded.append(_decode(raw))
        except InvalidInput as refused:
            decoded.append(refused)
    return decoded


def _engine_of(item: Item) -> tuple[type[EngineColumns], str, str] | None:
    if isinstance(item, ScoreItem):
        return tournaments.Tournament, "tournament", item.tournament_id
    if isinstance(item, ContributeItem):
        return jackpots.Jackpot, "jackpot", item.jackpot_id
    return None


def _usable(noun: str, facts: dict[str, Any], now: datetime) -> dict[str, Any] | DomainError:
    """The engine's facts if it takes events now, else the refusal a single call would give."""
    if noun == "tournament":
        if facts["status"] != "active" or not (
            datetime.fromisoformat(facts["starts_at"]) <= now < datetime.fromisoformat(facts["ends_at"])
        ):
            return Conflict("points are accepted only while the tournament is active, between starts_at and ends_at")
    elif facts["status"] != "active":
        return Conflict(f"jackpot is {facts['status']}")
    return facts


async def _engines(state: AppState, principal: Principal, items: list[Item | InvalidInput], now: datetime) -> Engines:
    """Every engine the batch names, looked up once (one Redis round trip) and checked once."""
    wanted = {engine for item in items if not isinstance(item, InvalidInput) and (engine := _engine_of(item))}
    found = await many_engine_facts(state, principal, wanted)
    return {
        key: facts if isinstance(facts, DomainError) else _usable(key[0], facts, now) for key, facts in found.items()
    }


def _facts(engines: Engines, noun: str, engine_id: str) -> dict[str, Any]:
    facts = engines[noun, engine_id]
    if isinstance(facts, DomainError):
        raise facts.with_traceback(None)  # one refusal shared by every event naming this engine
    return facts


def _normalize(item: Item, engines: Engines) -> dict[str, Any]:
    """The event as the worker applies it, after the checks a single call would make."""
    if isinstance(item, JourneyItem):
        return {
            "type": JOURNEY,
            "user_id": item.user_id,
            "source_id": journey_source_id(item.source_event_id, item.idempotency_key) or "auto_" + new_id(),
            "trigger": item.trigger,
        }
    if isinstance(item, ScoreItem):
        _facts(engines, "tournament", item.tournament_id)
        return {
            "type": SCORE,
            "engine_id": item.tournament_id,
            "user_id": item.user_id,
            "source_id": item.source_wager_id,
            "points": item.points,
        }
    facts = _facts(engines, "jackpot", item.jackpot_id)
    units = to_units(facts["currency"], item.amount)
    if units <= 0:
        raise InvalidInput("must be above zero", field="amount")
    return {
        "type": CONTRIBUTE,
        "engine_id": item.jackpot_id,
        "user_id": item.user_id,
        "source_id": item.source_wager_id,
        "amount": str(from_units(facts["currency"], units)),
        "currency": facts["currency"],
    }


@post(
    "/v1/events/batch",
    opt={"scope": "engines:play"},
    tags=["pipeline"],
    status_code=202,
    summary="Post a batch of events",
    responses=answer(BatchResults, "a result per event, in the order posted", 202),
)
async def batch(request: Request[Any, Any, Any], principal: Principal, data: BatchRequest) -> dict[str, Any]:
    """Accept up to 1,000 scores, contributions and journey events; a result per event, in order."""
    state = app_state(request)
    now = datetime.now(UTC)
    results: list[dict[str, Any]] = [{"index": index} for index in range(len(data.events))]
    accepted: list[tuple[int, dict[str, Any]]] = []
    items = _decode_all(data.events)
    engines = await _engines(state, principal, items, now)
    for index, item in enumerate(items):
        try:
            if isinstance(item, InvalidInput):
                raise item
            accepted.append((index, _normalize(item, engines)))
        except DomainError as refused:
            results[index].update(status="rejected", error=_refusal(refused))
    known = await existing_players(state, principal, {event["user_id"] for _, event in accepted})
    for index, event in accepted:
        if event["user_id"] not in known:
            results[index].update(
                status="rejected", error=_refusal(NotFound(f"no player {event['user_id']!r}", field="user_id"))
            )
    accepted = [(index, event) for index, event in accepted if event["user_id"] in known]
    if accepted:
        claims = [source_claim(principal, event) for _, event in accepted]
        fresh = await claim_many_and_enqueue(state, event_job(principal, [event for _, event in accepted]), claims)
        for (index, _), new in zip(accepted, fresh, strict=True):
            results[index]["status"] = "accepted" if new else "duplicate"
    return {"results": results}
