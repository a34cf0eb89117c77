"""Lootboxes: a prize engine opened by a player, with an optional cost and cooldown."""

from __future__ import annotations

from typing import Any

from models.base import iso
from models.prize_engines import Lootbox, LootboxOpen, PrizeDrawColumns, Spec, segment


def _answer(box: Lootbox, opened: PrizeDrawColumns, next_hash: str) -> dict[str, Any]:
    return {
        "open_id": opened.id,
        "lootbox_id": box.id,
        "user_id": opened.username,
        "reward": {"asset": opened.asset, "amount": segment(opened)["amount"], "segment_label": opened.segment_label},
        "cost_winz": opened.cost_winz,
        "server_seed": opened.server_seed,
        "server_seed_hash": opened.server_seed_hash,
        "nonce": opened.nonce,
        "client_seed": opened.client_seed,
        "next_server_seed_hash": next_hash,
        "opened_at": iso(opened.created_at),
        "deduped": False,
    }


def _event(box: Lootbox, opened: PrizeDrawColumns) -> dict[str, Any]:
    return {
        "lootbox_id": box.id,
        "lootbox_name": box.name,
        "user": opened.username,
        "open_id": opened.id,
        "reward": {"asset": opened.asset, "amount": segment(opened)["amount"], "segment_label": opened.segment_label},
        "server_seed_hash": opened.server_seed_hash,
        "opened_at": iso(opened.created_at),
    }


LOOTBOX = Spec(
    engine=Lootbox,
    draw=LootboxOpen,
    owner_type="lootbox",
    operation="lootbox.open",
    event_type="lootbox.opened",
    noun="lootbox",
    listing="opens",
    answer=_answer,
    event=_event,
)
