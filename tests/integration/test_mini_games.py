"""Mini-games play like lootboxes: a verifiable outcome, paid once per idempotency key."""

from __future__ import annotations

import pytest

from models.verify import verify_draw
from tests.support.api import PRIZES, Operator


def _game(operator: Operator, **config: object) -> dict[str, object]:
    created = operator.client.post(
        "/v1/mini-games", json={"name": "Wheel", "kind": "wheel", "prize_table": PRIZES, **config}
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_play_answers_a_verifiable_outcome_once(operator: Operator) -> None:
    username = operator.player()
    game = _game(operator)
    assert game["kind"] == "wheel"
    played = operator.client.post(
        f"/v1/mini-games/{game['id']}/play", json={"user_id": username, "idempotency_key": "p1"}
    )
    assert played.status_code == 201
    body = played.json()
    assert set(body) >= {"play_id", "outcome", "server_seed", "server_seed_hash", "nonce", "client_seed", "deduped"}
    assert body["outcome"]["segment_label"] in {"small", "big"}
    verify_draw(body, PRIZES)
    again = operator.client.post(
        f"/v1/mini-games/{game['id']}/play", json={"user_id": username, "idempotency_key": "p1"}
    )
    assert again.json() == {**body, "deduped": True}
    assert operator.balance(username) == body["outcome"]["amount"]


def test_lootbox_and_mini_game_share_the_players_nonce(operator: Operator) -> None:
    username = operator.player()
    game = _game(operator)
    box = operator.lootbox()
    first = operator.client.post(f"/v1/lootbox/{box['id']}/open", json={"user_id": username}).json()
    second = operator.client.post(f"/v1/mini-games/{game['id']}/play", json={"user_id": username}).json()
    assert (first["nonce"], second["nonce"]) == (0, 1)
    assert second["server_seed_hash"] == first["next_server_seed_hash"]


def test_cost_is_debited_and_short_balance_is_402(operator: Operator) -> None:
    username = operator.player()
    game = _game(operator, cost_winz=10)
    short = operator.client.post(f"/v1/mini-games/{game['id']}/play", json={"user_id": username})
    assert short.status_code == 402


@pytest.mark.parametrize(("config", "field"), [({"kind": "slots"}, "kind"), ({"prize_table": []}, "prize_table")])
def test_bad_config_names_the_field(operator: Operator, config: dict[str, object], field: str) -> None:
    refused = operator.client.post(
        "/v1/mini-games", json={"name": "x", "kind": "pick", "prize_table": PRIZES, **config}
    )
    assert refused.status_code in (400, 422)
    assert field in {error["field"] for error in refused.json()["errors"]}
    assert operator.client.get("/v1/mini-games").json()["data"] == []
