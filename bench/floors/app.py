"""Floor A: bare Litestar handlers that validate the pipeline bodies with msgspec and answer ``202``.

No authentication, no Redis, no queue: only what any Litestar API must do for the same request.
Served by ``floors/serve.py`` with the Procfile's own ``web:`` command.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec
from litestar import Litestar, get, post
from msgspec import Meta

Username = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
SourceId = Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+$")]
Trigger = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Points = Annotated[int, Meta(ge=1, le=10**12)]


class Body(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Score(Body):
    user_id: Username
    source_wager_id: SourceId
    points: Points


class Contribution(Body):
    user_id: Username
    source_wager_id: SourceId
    amount: Decimal


class JourneyEvent(Body):
    user_id: Username
    trigger: Trigger
    source_event_id: SourceId


class ScoreEvent(Score, tag_field="type", tag="tournament.score"):
    tournament_id: SourceId


class ContributionEvent(Contribution, tag_field="type", tag="jackpot.contribute"):
    jackpot_id: SourceId


class JourneyEventEvent(JourneyEvent, tag_field="type", tag="journey.event"):
    pass


class Batch(Body):
    events: Annotated[list[ScoreEvent | ContributionEvent | JourneyEventEvent], Meta(min_length=1, max_length=1000)]


ACCEPTED = {"status": "accepted", "deduped": False}


@post("/v1/tournaments/{engine_id:str}/score", status_code=202)
async def score(engine_id: str, data: Score) -> dict[str, object]:
    return ACCEPTED


@post("/v1/jackpots/{engine_id:str}/contribute", status_code=202)
async def contribute(engine_id: str, data: Contribution) -> dict[str, object]:
    return ACCEPTED


@post("/v1/journeys/event", status_code=202)
async def journey_event(data: JourneyEvent) -> dict[str, object]:
    return ACCEPTED


@post("/v1/events/batch", status_code=202)
async def batch(data: Batch) -> dict[str, list[dict[str, object]]]:
    return {"results": [{"index": index, "status": "accepted"} for index in range(len(data.events))]}


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    return Litestar(route_handlers=[health, score, contribute, journey_event, batch], debug=False)
