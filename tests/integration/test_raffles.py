"""Raffles: numbered tickets, a committed seed, one verifiable draw, one prize."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col

from config.settings import load_settings
from models.db import Database
from models.raffles import Raffle
from models.verify import verify_draw
from tests.support.api import PRIZES, Operator, grant
from tests.support.load import post_many
from tests.support.processes import wait_until
from tests.support.stack import Stack


def _raffle(operator: Operator, **config: object) -> dict[str, object]:
    created = operator.client.post(
        "/v1/raffles", json={"name": "Weekly", "ticket_cost_winz": 10, "prize_winz": 500, **config}
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_entries_are_numbered_and_the_draw_is_verifiable(operator: Operator) -> None:
    alice, bob = operator.player(), operator.player()
    grant(operator, alice, 100)
    grant(operator, bob, 100)
    raffle = _raffle(operator)
    assert len(str(raffle["server_seed_hash"])) == 64 and "server_seed" not in raffle
    first = operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": alice, "tickets": 3})
    second = operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": bob, "tickets": 2})
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["first_ticket"], first.json()["last_ticket"]) == (0, 2)
    assert (second.json()["first_ticket"], second.json()["last_ticket"]) == (3, 4)
    assert (operator.balance(alice), operator.balance(bob)) == (70, 80)

    drawn = operator.client.post(f"/v1/raffles/{raffle['id']}/draw", json={"client_seed": "lottery-2025-05-19"})
    assert drawn.status_code == 201, drawn.text
    body = drawn.json()
    assert body["server_seed_hash"] == raffle["server_seed_hash"] and body["total_tickets"] == 5
    assert body["client_seed"] == "lottery-2025-05-19"
    verify_draw(body)
    winner = alice if body["winning_ticket_idx"] <= 2 else bob
    assert body["winner_username"] == winner and body["prize_winz"] == 500
    frozen = [[alice, 0, 2], [bob, 3, 4]]
    assert body["entries_hash"] == hashlib.sha256(json.dumps(frozen, separators=(",", ":")).encode()).hexdigest()
    assert operator.balance(winner) == (70 if winner == alice else 80) + 500
    shown = operator.client.get(f"/v1/raffles/{raffle['id']}").json()
    assert shown["status"] == "completed" and shown["server_seed"] == body["server_seed"]
    entries = operator.client.get(f"/v1/raffles/{raffle['id']}/entries").json()["data"]
    assert [(e["user_id"], e["first_ticket"], e["last_ticket"]) for e in entries] == [(bob, 3, 4), (alice, 0, 2)]

    assert operator.client.post(f"/v1/raffles/{raffle['id']}/draw").status_code == 409
    late = operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": alice, "tickets": 1})
    assert late.status_code == 409
    assert operator.balance(winner) == (70 if winner == alice else 80) + 500


def test_winz_past_32_bits_are_charged_and_paid_exactly(operator: Operator) -> None:
    """The API takes amounts up to 10^12 WINZ: every column they land in holds them, on either database."""
    trillion = 10**12
    alice = operator.player()
    grant(operator, alice, 3 * trillion)
    raffle = _raffle(operator, ticket_cost_winz=trillion, prize_winz=trillion)
    entered = operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": alice, "tickets": 3})
    assert entered.status_code == 201 and entered.json()["cost_winz"] == 3 * trillion, entered.text
    assert operator.balance(alice) == 0
    drawn = operator.client.post(f"/v1/raffles/{raffle['id']}/draw")
    assert drawn.status_code == 201 and drawn.json()["prize_winz"] == trillion, drawn.text
    one = [{"label": "one", "asset": "WINZ", "amount": 1, "weight": 1}]
    box = operator.lootbox(cost_winz=trillion, prize_table=one)
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": alice})
    assert opened.status_code == 201, opened.text
    assert operator.balance(alice) == 1
    game = {"name": "Wheel", "kind": "wheel", "prize_table": PRIZES, "cost_winz": trillion}
    assert operator.client.post("/v1/mini-games", json=game).json()["cost_winz"] == trillion
    steps = [{"trigger": "deposit", "count": 1}]
    journey = {"name": "Big", "steps": steps, "reward_winz": trillion}
    assert operator.client.post("/v1/journeys", json=journey).json()["reward_winz"] == trillion


def test_default_client_seed_is_the_raffle_id(operator: Operator) -> None:
    username = operator.player()
    raffle = _raffle(operator, ticket_cost_winz=0)
    operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": username, "tickets": 7})
    body = operator.client.post(f"/v1/raffles/{raffle['id']}/draw").json()
    assert body["client_seed"] == raffle["id"]
    verify_draw(body)


def test_empty_raffle_cannot_be_drawn_and_short_balance_is_402(operator: Operator) -> None:
    username = operator.player()
    raffle = _raffle(operator)
    assert operator.client.post(f"/v1/raffles/{raffle['id']}/draw").status_code == 409
    short = operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": username, "tickets": 1})
    assert short.status_code == 402
    assert operator.client.get(f"/v1/raffles/{raffle['id']}").json()["total_tickets"] == 0


def test_concurrent_entries_never_overdraw(stack: Stack, operator: Operator) -> None:
    """200 concurrent entries for a player whose balance covers 50: exactly 50 succeed."""
    username = operator.player()
    grant(operator, username, 500)
    raffle = _raffle(operator)

    responses = post_many(
        [
            (
                f"http://127.0.0.1:{stack.ports[i % 2]}/v1/raffles/{raffle['id']}/enter",
                {"user_id": username, "tickets": 1, "idempotency_key": f"e{i}"},
            )
            for i in range(200)
        ],
        operator.key,
    )
    statuses = [operator.outcome(response) for response in responses]
    assert statuses.count(201) == 50 and statuses.count(402) == 150
    assert operator.balance(username) == 0
    assert operator.client.get(f"/v1/raffles/{raffle['id']}").json()["total_tickets"] == 50
    entries = operator.client.get(f"/v1/raffles/{raffle['id']}/entries", params={"limit": 500}).json()["data"]
    assert sorted(entry["first_ticket"] for entry in entries) == list(range(50))


def test_scheduler_draws_at_draw_at(operator: Operator) -> None:
    username = operator.player()
    draw_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    raffle = _raffle(operator, ticket_cost_winz=0, draw_at=draw_at)
    operator.client.post(f"/v1/raffles/{raffle['id']}/enter", json={"user_id": username, "tickets": 1})
    wait_until(lambda: operator.client.get(f"/v1/raffles/{raffle['id']}").json()["status"] == "completed", what="draw")
    assert operator.balance(username) == 500


def test_a_draw_still_ahead_moves_and_one_done_does_not(operator: Operator) -> None:
    username = operator.player()

    def soon(seconds: float) -> str:
        return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()

    unscheduled = _raffle(operator)
    scheduled = operator.client.patch(f"/v1/raffles/{unscheduled['id']}", json={"draw_at": soon(3600)}).json()
    assert scheduled["draw_at"] is not None and unscheduled["draw_at"] is None
    raffle = _raffle(operator, ticket_cost_winz=0, draw_at=soon(1))
    path = f"/v1/raffles/{raffle['id']}"
    wait_until(lambda: datetime.now(UTC) > datetime.fromisoformat(str(raffle["draw_at"])), what="draw_at")
    assert operator.client.post(f"{path}/enter", json={"user_id": username}).status_code == 409
    assert operator.client.patch(path, json={"draw_at": soon(-1)}).json()["errors"][0]["field"] == "draw_at"
    assert operator.client.patch(path, json={"draw_at": soon(3600)}).status_code == 200  # it came without tickets
    assert operator.client.post(f"{path}/enter", json={"user_id": username}).status_code == 201
    assert operator.client.patch(path, json={"draw_at": soon(2)}).status_code == 200
    wait_until(lambda: operator.client.get(path).json()["status"] == "completed", what="the draw at the moved time")
    assert operator.balance(username) == 500
    done = operator.client.patch(path, json={"draw_at": soon(3600)})
    assert done.status_code == 409 and done.json()["errors"][0]["field"] == "draw_at"


def test_a_change_racing_the_draw_leaves_the_raffle_completed(stack: Stack, operator: Operator) -> None:
    """A ``PATCH`` read the raffle while a draw was committing, then wrote its status over ``completed``: the
    raffle hid its revealed seed and, set active again, sold tickets that no draw could ever settle."""
    raffle = _raffle(operator, ticket_cost_winz=0)
    db = Database(load_settings({"DATABASE_URL": stack.database_url}))

    async def race() -> httpx.Response:
        try:
            async with db.transaction() as session:  # a draw in flight: the raffle flipped, not yet committed
                await session.execute(update(Raffle).where(col(Raffle.id) == raffle["id"]).values(status="completed"))
                path = f"/v1/raffles/{raffle['id']}"
                patched = asyncio.create_task(asyncio.to_thread(operator.client.patch, path, json={"status": "paused"}))
                await asyncio.sleep(1)
            return await patched
        finally:
            await db.dispose()

    answered = asyncio.run(race())
    assert answered.status_code == 409, answered.text
    assert operator.client.get(f"/v1/raffles/{raffle['id']}").json()["status"] == "completed"


def test_bad_raffle_config_is_refused(operator: Operator) -> None:
    past = operator.client.post(
        "/v1/raffles", json={"name": "x", "ticket_cost_winz": 1, "prize_winz": 1, "draw_at": "2000-01-01T00:00:00Z"}
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "draw_at"
    naive = operator.client.post(
        "/v1/raffles", json={"name": "x", "ticket_cost_winz": 1, "prize_winz": 1, "draw_at": "2099-01-01T00:00:00"}
    )
    assert naive.status_code == 400 and naive.json()["errors"][0]["field"] == "draw_at"
