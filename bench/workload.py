"""What a load generator sends: request shapes with a player and a unique business id filled in per request.

A template is a JSON body with ``$user`` then ``$id``; every request gets the next player in turn and an
id made of the run's tag (new for every generator run), the sender's number and a counter, so
``source_wager_id``, ``source_event_id`` and ``idempotency_key`` never repeat and nothing is
deduplicated by accident; an answer saying ``"deduped":true`` is counted apart, never as accepted.
wrk (``bench/wrk.py``) and the asyncio generator (``bench/loadgen.py``) both render requests from
this one description.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

BATCH_PATH = "/v1/events/batch"


@dataclass(frozen=True)
class Item:
    """One request shape: where it goes (unused inside a batch) and its body template."""

    path: str
    template: str

    def __post_init__(self) -> None:
        user, uid = self.template.find("$user"), self.template.find("$id")
        if not (0 <= user < uid and self.template.count("$user") == 1 and self.template.count("$id") == 1):
            raise ValueError(f"a template needs $user then $id, once each: {self.template}")

    def render(self, user: str, uid: str) -> str:
        return self.template.replace("$user", user).replace("$id", uid)


@dataclass(frozen=True)
class Workload:
    """Requests that rotate through *items* and *users*; with *batch*, that many items per batch request."""

    name: str
    items: tuple[Item, ...]
    users: tuple[str, ...]
    ok_status: int = 202
    batch: int = 0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    def fresh(self) -> Workload:
        """The same traffic under a new tag: a generator run never repeats an earlier run's ids."""
        return replace(self, tag=secrets.token_hex(4))

    def request(self, n: int, sender: int) -> tuple[str, bytes]:
        """The *n*-th request of sender number *sender*: (path, body)."""
        prefix = f"{self.tag}.{sender}."
        if not self.batch:
            item = self.items[n % len(self.items)]
            return item.path, item.render(self.users[n % len(self.users)], prefix + str(n)).encode()
        first = n * self.batch
        events = (
            self.items[j % len(self.items)].render(self.users[j % len(self.users)], prefix + str(j))
            for j in range(first, first + self.batch)
        )
        return BATCH_PATH, ('{"events":[' + ",".join(events) + "]}").encode()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Workload:
        items = tuple(Item(**item) for item in raw.pop("items"))
        return cls(items=items, users=tuple(raw.pop("users")), **raw)


def score(tournament_id: str) -> Item:
    return Item(f"/v1/tournaments/{tournament_id}/score", '{"user_id":"$user","source_wager_id":"$id","points":1}')


def contribute(jackpot_id: str) -> Item:
    return Item(f"/v1/jackpots/{jackpot_id}/contribute", '{"user_id":"$user","source_wager_id":"$id","amount":"1"}')


def journey_event(trigger: str) -> Item:
    return Item("/v1/journeys/event", f'{{"user_id":"$user","trigger":"{trigger}","source_event_id":"$id"}}')


def lootbox_open(lootbox_id: str) -> Item:
    return Item(f"/v1/lootbox/{lootbox_id}/open", '{"user_id":"$user","idempotency_key":"$id"}')


def batch_events(tournament_id: str, jackpot_id: str, trigger: str) -> tuple[Item, ...]:
    """The three pipeline events as members of a ``POST /v1/events/batch`` body."""
    return (
        Item(
            "",
            f'{{"type":"tournament.score","tournament_id":"{tournament_id}",'
            '"user_id":"$user","source_wager_id":"$id","points":1}',
        ),
        Item(
            "",
            f'{{"type":"jackpot.contribute","jackpot_id":"{jackpot_id}",'
            '"user_id":"$user","source_wager_id":"$id","amount":"1"}',
        ),
        Item("", f'{{"type":"journey.event","user_id":"$user","trigger":"{trigger}","source_event_id":"$id"}}'),
    )
