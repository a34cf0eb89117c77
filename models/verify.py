"""Recompute a draw from its published response: the check any player or auditor can run.

For a weighted draw (lootbox open, mini-game play) pass the prize table; a raffle draw carries its
ticket count. See the API contract, section 6.
"""

from __future__ import annotations

from typing import Any

from models.fairness import draw_index, pick_weighted, seed_hash


class VerificationError(ValueError):
    """The response does not match what its seeds produce."""


def verify_draw(response: dict[str, Any], prize_table: list[dict[str, Any]] | dict[str, Any] | None = None) -> str:
    """Return a one-line account of the verified draw, or raise :class:`VerificationError`."""
    try:
        seed, committed = response["server_seed"], response["server_seed_hash"]
        client_seed, nonce = response["client_seed"], int(response.get("nonce", 0))
    except KeyError as missing:
        raise VerificationError(f"response lacks {missing}") from None
    if seed_hash(seed) != committed:
        raise VerificationError("sha256(server_seed) differs from server_seed_hash")
    if "winning_ticket_idx" in response:
        index = draw_index(seed, client_seed, nonce, int(response["total_tickets"]))
        if index != response["winning_ticket_idx"]:
            raise VerificationError(
                f"the seeds pick ticket {index}, the response says {response['winning_ticket_idx']}"
            )
        return f"verified: ticket {index} of {response['total_tickets']}"
    if prize_table is None:
        raise VerificationError("a weighted draw needs its prize table (--prize-table)")
    table = prize_table["prize_table"] if isinstance(prize_table, dict) else prize_table
    weights = [int(segment["weight"]) for segment in table]
    index = draw_index(seed, client_seed, nonce, sum(weights))
    label = table[pick_weighted(weights, index)]["label"]
    claimed = (response.get("reward") or response.get("outcome") or {}).get("segment_label")
    if label != claimed:
        raise VerificationError(f"the seeds pick segment {label!r}, the response says {claimed!r}")
    return f"verified: index {index} of {sum(weights)} -> segment {label!r}"
