"""The architecture's guarantees, each attacked: duplicates, redelivery, Redis loss, concurrent debits."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import dramatiq
import httpx
import redis
from dramatiq.brokers.redis import RedisBroker

from actors.draws import player_lock
from actors.locks import lock_key
from models.idempotency import fingerprint
from tests.support.api import Operator
from tests.support.load import post_many, post_many_async
from tests.support.processes import wait_until
from tests.support.stack import Stack


def test_concurrent_duplicates_on_both_api_processes_get_one_original(stack: Stack, operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    body = {"user_id": username, "idempotency_key": "dup-" + uuid.uuid4().hex}
    bases = [f"http://127.0.0.1:{port}" for port in stack.ports]
    responses = post_many([(f"{bases[i % 2]}/v1/lootbox/{box['id']}/open", body) for i in range(20)], operator.key)
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["open_id"] for response in responses}) == 1
    assert sum(not response.json()["deduped"] for response in responses) <= 1
    assert operator.balance(username) == responses[0].json()["reward"]["amount"]
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 1


def test_flushing_redis_between_original_and_replay_draws_nothing_new(stack: Stack, operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox()
    body = {"user_id": username, "idempotency_key": "flush-me"}
    first = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=body)
    redis.Redis.from_url(stack.redis_url).flushall()
    replay = operator.client.post(f"/v1/lootbox/{box['id']}/open", json=body)
    assert replay.status_code == 201
    assert replay.json() == {**first.json(), "deduped": True}
    assert operator.balance(username) == first.json()["reward"]["amount"]
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 1


def test_after_a_flush_a_replayed_raffle_draw_jackpot_drop_or_close_pays_nothing_more(
    stack: Stack, operator: Operator
) -> None:
    """The other draw actions run again as new messages once Redis forgot their keys: each finds its first
    answer in the database (a raffle's and a drop's idempotency records, a tournament's close)."""
    from datetime import UTC, datetime, timedelta

    username = operator.player()
    client = operator.client
    raffle = client.post("/v1/raffles", json={"name": "r", "ticket_cost_winz": 0, "prize_winz": 100}).json()["id"]
    assert client.post(f"/v1/raffles/{raffle}/enter", json={"user_id": username}).status_code == 201
    jackpot = client.post("/v1/jackpots", json={"name": "j", "currency": "WINZ", "seed_amount": 7}).json()["id"]
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    prizes = [{"rank_from": 1, "rank_to": 1, "prize_winz": 1000}]
    tournament = client.post("/v1/tournaments", json={"name": "t", **window, "prizes": prizes}).json()["id"]
    score = {"user_id": username, "source_wager_id": "w", "points": 1}
    assert client.post(f"/v1/tournaments/{tournament}/score", json=score).status_code == 202
    wait_until(lambda: client.get(f"/v1/tournaments/{tournament}/leaderboard").json()["data"] != [], what="the score")
    calls = [
        (f"/v1/raffles/{raffle}/draw", {"idempotency_key": "draw"}),
        (f"/v1/jackpots/{jackpot}/drop", {"winner_user_id": username, "idempotency_key": "drop"}),
        (f"/v1/tournaments/{tournament}/close", {"idempotency_key": "close"}),
    ]
    first = [client.post(path, json=body) for path, body in calls]
    assert [answer.status_code for answer in first] == [201] * 3, [answer.text for answer in first]
    paid = operator.balance(username)
    assert paid == 100 + 7 + 1000
    redis.Redis.from_url(stack.redis_url).flushall()
    again = [client.post(path, json=body) for path, body in calls]
    assert [answer.status_code for answer in again] == [201] * 3, [answer.text for answer in again]
    assert [answer.json() for answer in again] == [answer.json() for answer in first]
    assert operator.balance(username) == paid
    assert "ledger balanced" in stack.cli(["audit"])


def test_an_open_message_delivered_twice_has_one_effect(stack: Stack, operator: Operator) -> None:
    """At-least-once delivery: the same actor message run twice finds the first result."""
    username = operator.player()
    box = operator.lootbox()
    broker = RedisBroker(url=stack.redis_url, namespace="wowsino")
    key = "twice-" + uuid.uuid4().hex
    draw = _open(stack, operator, box["id"], username, key)
    message = _draws_message([draw])
    broker.enqueue(message)
    broker.enqueue(_draws_message([[str(uuid.uuid4()), *draw[1:]]]))  # a redelivery under another operation
    wait_until(lambda: operator.balance(username) > 0, what="the open")
    wait_until(lambda: broker.client.llen("wowsino:draws") == 0 and not _in_flight(broker), what="both messages")
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": key})
    assert opened.status_code == 201, opened.text
    assert opened.json()["deduped"] is True
    assert operator.balance(username) == opened.json()["reward"]["amount"]
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 1


def test_a_message_of_several_opens_of_one_player_draws_each_once_in_turn(stack: Stack, operator: Operator) -> None:
    """An API process queues the opens submitted together as one message; a player's opens in it take turns."""
    username = operator.player()
    box = operator.lootbox()
    broker = RedisBroker(url=stack.redis_url, namespace="wowsino")
    keys = ["turns-" + uuid.uuid4().hex for _ in range(3)]
    draws = [_open(stack, operator, box["id"], username, key) for key in keys]
    broker.enqueue(_draws_message([*draws, draws[0]]))  # the first open twice: drawn once
    wait_until(lambda: operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 3, what="the opens")
    wait_until(lambda: broker.client.llen("wowsino:draws") == 0 and not _in_flight(broker), what="the message")
    opened = [
        operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": key})
        for key in keys
    ]
    assert [response.status_code for response in opened] == [201] * 3
    assert sorted(response.json()["nonce"] for response in opened) == [0, 1, 2]
    assert operator.balance(username) == sum(response.json()["reward"]["amount"] for response in opened)
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 3


def test_an_open_queued_as_a_message_of_its_own_by_an_earlier_version_is_drawn(
    stack: Stack, operator: Operator
) -> None:
    username = operator.player()
    box = operator.lootbox()
    broker = RedisBroker(url=stack.redis_url, namespace="wowsino")
    key = "single-" + uuid.uuid4().hex
    draw = _open(stack, operator, box["id"], username, key)
    broker.enqueue(
        dramatiq.Message(queue_name="draws", actor_name="draw_prize_actor", args=tuple(draw), kwargs={}, options={})
    )
    wait_until(lambda: operator.balance(username) > 0, what="the open")
    opened = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username, "idempotency_key": key})
    assert opened.status_code == 201 and opened.json()["deduped"] is True
    assert operator.balance(username) == opened.json()["reward"]["amount"]


def _open(stack: Stack, operator: Operator, box_id: str, username: str, key: str) -> list[str | None]:
    """The arguments of one lootbox open in a ``draw_prizes_actor`` message, as the API queues them."""
    principal = _principal_ids(stack, operator)
    digest = fingerprint({"operation": "lootbox.open", "engine_id": box_id, "user_id": username, "client_seed": None})
    where = ["lootbox", principal["tenant_id"], "live", principal["brand_id"], box_id]
    return [str(uuid.uuid4()), *where, username, None, key, digest]


def _draws_message(draws: list[list[str | None]]) -> dramatiq.Message[None]:
    return dramatiq.Message(queue_name="draws", actor_name="draw_prizes_actor", args=(draws,), kwargs={}, options={})


def _in_flight(broker: RedisBroker) -> bool:
    return any(broker.client.scard(key) for key in broker.client.scan_iter("wowsino:__acks__.*.draws"))


def _principal_ids(stack: Stack, operator: Operator) -> dict[str, str]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def lookup() -> dict[str, str]:
        engine = create_async_engine(stack.database_url)
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT t.id, b.id FROM tenants t JOIN brands b ON b.tenant_id = t.id WHERE t.slug = :slug"),
                    {"slug": operator.slug},
                )
            ).one()
        await engine.dispose()
        return {"tenant_id": row[0], "brand_id": row[1]}

    return asyncio.run(lookup())


def test_concurrent_paid_opens_for_one_player_never_overdraw(stack: Stack, operator: Operator) -> None:
    """100 opens with distinct keys, two worker processes: the balance ends exact and never went negative."""
    username = operator.player()
    funding = operator.lootbox(prize_table=[{"label": "grant", "asset": "WINZ", "amount": 1000, "weight": 1}])
    paid = operator.lootbox(cost_winz=30, prize_table=[{"label": "w", "asset": "WINZ", "amount": 5, "weight": 1}])
    operator.client.post(f"/v1/lootbox/{funding['id']}/open", json={"user_id": username})
    bases = [f"http://127.0.0.1:{port}" for port in stack.ports]
    responses = post_many(
        [
            (f"{bases[i % 2]}/v1/lootbox/{paid['id']}/open", {"user_id": username, "idempotency_key": f"c{i}"})
            for i in range(100)
        ],
        operator.key,
    )
    statuses = [operator.outcome(response) for response in responses]
    assert set(statuses) <= {201, 402}, statuses
    succeeded = statuses.count(201)
    # each open costs 30 and pays 5: 1000 covers exactly 39 (1000 - 39 * 25 = 25 < 30)
    assert succeeded == 39
    assert operator.balance(username) == 1000 - 25 * succeeded
    running = 0
    postings = _all_postings(operator, username)
    for amount in reversed(postings):  # oldest first
        running += amount
        assert running >= 0
    assert running == operator.balance(username)


def _all_postings(operator: Operator, username: str) -> list[int]:
    amounts: list[int] = []
    cursor = None
    while True:
        page = operator.client.get(
            f"/v1/players/{username}/ledger", params={"limit": 500, **({"cursor": cursor} if cursor else {})}
        ).json()
        amounts += [entry["amount"] for entry in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return amounts


def test_ledger_is_balanced(stack: Stack, operator: Operator) -> None:
    username = operator.player()
    box = operator.lootbox(cost_winz=0)
    for _ in range(3):
        operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username})
    assert "ledger balanced" in stack.cli(["audit"])


def test_killed_draw_workers_lose_nothing_and_double_nothing(stack: Stack, operator: Operator) -> None:
    """SIGKILL every draw worker while opens are in flight: each accepted open has exactly one effect."""
    username = operator.player()
    box = operator.lootbox(prize_table=[{"label": "ten", "asset": "WINZ", "amount": 10, "weight": 1}])
    bases = [f"http://127.0.0.1:{port}" for port in stack.ports]
    requests = [
        (bases[i % 2], f"/v1/lootbox/{box['id']}/open", {"user_id": username, "idempotency_key": f"kill-{i}"})
        for i in range(200)
    ]

    async def attack() -> list[httpx.Response]:
        burst = asyncio.ensure_future(
            post_many_async([(base + path, body) for base, path, body in requests], operator.key)
        )
        await asyncio.sleep(0.15)
        stack.draws.kill()
        await asyncio.sleep(0.5)
        stack.draws.start()
        return await burst

    responses = asyncio.run(attack())
    assert {response.status_code for response in responses} <= {201, 202}
    for _, path, body in requests:  # every request's outcome exists, once

        def settled(path: str = path, body: dict[str, object] = body) -> bool:
            return operator.client.post(path, json=body).status_code == 201

        wait_until(settled, timeout=60, what="outcome")
    opens = {operator.client.post(path, json=body).json()["open_id"] for _, path, body in requests}
    assert len(opens) == len(requests)
    assert operator.balance(username) == 10 * len(requests)
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == len(requests)
    assert "ledger balanced" in stack.cli(["audit"])


def test_draw_workers_killed_while_holding_messages_lose_none(stack: Stack, operator: Operator) -> None:
    """The player's lock is held elsewhere, so the draws worker holds the opens' messages, unacknowledged,
    while they wait for it: a SIGKILL then takes messages mid-work (checked in the broker's acknowledgement
    sets). Each open still has exactly one effect once the lock is free and the workers are back."""
    username = operator.player()
    box = operator.lootbox(prize_table=[{"label": "ten", "asset": "WINZ", "amount": 10, "weight": 1}])
    lock = lock_key(player_lock(_principal_ids(stack, operator)["brand_id"], "live", username))
    client = redis.Redis.from_url(stack.redis_url)
    path = f"/v1/lootbox/{box['id']}/open"
    bodies = [{"user_id": username, "idempotency_key": f"held-{i}"} for i in range(20)]

    def held() -> int:
        return sum(int(client.scard(key)) for key in client.scan_iter("*__acks__*draws*"))

    client.set(lock, "another-worker", px=60_000)
    try:
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = [pool.submit(operator.client.post, path, json=body) for body in bodies]
            wait_until(lambda: held() > 0, what="the opens' messages held by the draws worker")
            stack.draws.kill()
            client.delete(lock)
            stack.draws.start()
            assert {answer.result().status_code for answer in answers} <= {201, 202}
    finally:
        client.delete(lock)
    for body in bodies:
        wait_until(lambda body=body: operator.client.post(path, json=body).status_code == 201, what="the outcome")
    assert len({operator.client.post(path, json=body).json()["open_id"] for body in bodies}) == len(bodies)
    assert operator.balance(username) == 10 * len(bodies)
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == len(bodies)


def test_slow_draw_answers_202_then_the_outcome(stack: Stack, operator: Operator) -> None:
    """A draw that outlasts the wait answers 202 with a URL; the outcome appears there and on replay."""
    import signal

    from tests.support.processes import BIN, Process, free_port, wait_http

    port = free_port()
    impatient = Process(
        "api-impatient",
        [str(BIN / "uvicorn"), "api.app:create_app", "--factory", "--port", str(port)],
        {**stack.env, "DRAW_WAIT_TIMEOUT": "0.3"},
        stack.logs,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        username = operator.player()
        box = operator.lootbox()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {operator.key}"})
        body = {"user_id": username, "idempotency_key": "slow"}
        stack.draws.send(signal.SIGSTOP)
        try:
            pending = client.post(f"/v1/lootbox/{box['id']}/open", json=body)
            assert pending.status_code == 202
            assert client.get(pending.json()["url"]).status_code == 202
        finally:
            stack.draws.send(signal.SIGCONT)
        wait_until(lambda: client.get(pending.json()["url"]).status_code == 200, what="the outcome")
        result = client.get(pending.json()["url"]).json()["result"]
        replay = client.post(f"/v1/lootbox/{box['id']}/open", json=body)
        assert replay.status_code == 201 and replay.json()["open_id"] == result["open_id"]
        assert operator.balance(username) == result["reward"]["amount"]
        other = httpx.get(
            f"http://127.0.0.1:{port}{pending.json()['url']}",
            headers={"Authorization": f"Bearer {_other_key(stack)}"},
        )
        assert other.status_code == 404
    finally:
        impatient.stop()


def _other_key(stack: Stack) -> str:
    from tests.support.api import provision

    with stack.admin() as admin:
        return provision(admin, stack.url).key


def test_an_open_waits_while_its_players_lock_is_held_elsewhere(stack: Stack, operator: Operator) -> None:
    """Per-player serialization across processes: a draw never runs while another holder has the player."""
    username, other = operator.player(), operator.player()
    box = operator.lootbox()
    lock = lock_key(player_lock(_principal_ids(stack, operator)["brand_id"], "live", username))
    client = redis.Redis.from_url(stack.redis_url)
    client.set(lock, "another-worker", px=60_000)
    path, body = f"/v1/lootbox/{box['id']}/open", {"user_id": username, "idempotency_key": "w"}
    try:
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(operator.client.post, path, json=body)
            beside = operator.client.post(path, json={"user_id": other})
            assert beside.status_code == 201  # another player's draw goes on meanwhile
            assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 0
            client.delete(lock)
            assert waiting.result().status_code in {201, 202}  # 202 if the lock outlasted the API's wait
    finally:
        client.delete(lock)
    wait_until(lambda: operator.client.post(path, json=body).status_code == 201, what="the open")
    assert operator.client.get(f"/v1/players/{username}/fairness").json()["nonce"] == 1
    wait_until(lambda: not client.exists(lock), what="the lock's release")
