"""Mini-games (wheel, scratch card, pick): a prize engine played by a player, like a lootbox."""

from __future__ import annotations

from typing import Any

from models.base import iso
from models.prize_engines import MiniGame, MiniGamePlay, PrizeDrawColumns, Spec, segment


def _answer(game: MiniGame, play: PrizeDrawColumns, next_hash: str) -> dict[str, Any]:
    return {
        "play_id": play.id,
        "mini_game_id": game.id,
        "kind": game.kind,
        "user_id": play.username,
        "outcome": segment(play),
        "cost_winz": play.cost_winz,
        "server_seed": play.server_seed,
        "server_seed_hash": play.server_seed_hash,
        "nonce": play.nonce,
        "client_seed": play.client_seed,
        "next_server_seed_hash": next_hash,
        "played_at": iso(play.created_at),
        "deduped": False,
    }


def _event(game: MiniGame, play: PrizeDrawColumns) -> dict[str, Any]:
    return {
        "mini_game_id": game.id,
        "mini_game_name": game.name,
        "kind": game.kind,
        "user": play.username,
        "play_id": play.id,
        "outcome": segment(play),
        "server_seed_hash": play.server_seed_hash,
        "played_at": iso(play.created_at),
    }


MINI_GAME = Spec(
    engine=MiniGame,
    draw=MiniGamePlay,
    owner_type="mini_game",
    operation="mini_game.play",
    event_type="mini_game.played",
    noun="mini-game",
    listing="plays",
    answer=_answer,
    event=_event,
)
