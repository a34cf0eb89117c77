"""Recompute a draw from its published response: the check any player or auditor can run.

For a weighted draw (lootbox open, mini-game play) pass the prize table; a raffle draw carries its
ticket count. See the API contract, section 6.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from models.fairness import draw_index, pick_weighted, seed_hash


class VerificationError(ValueError):
    """The response does not match what its seeds produce."""


def verify_draw(response: dict[str, Any], prize_table: list[dict[str, Any]] | dict[str, Any] | None = None) -> str:
    """Return a one-line account of the verified draw, or raise :class:`VerificationError`."""
    try:
        seed, committed, client_seed = response["server_seed"], response["server_seed_hash"], response["client_seed"]
    except KeyError as missing:
        raise VerificationError(f"response lacks {missing}") from None
    if seed_hash(seed) != committed:
        raise VerificationError("sha256(server_seed) differs from server_seed_hash")
    if "winning_ticket_idx" in response:
        nonce = int(response.get("nonce", 0))  # a raffle's is 0
        index = draw_index(seed, client_seed, nonce, int(response["total_tickets"]))
        if index != response["winning_ticket_idx"]:
            raise VerificationError(
                f"the seeds pick ticket {index}, the response says {response['winning_ticket_idx']}"
            )
        return f"verified: ticket {index} of {response['total_tickets']}"
    if prize_table is None:
        raise VerificationError("a weighted draw needs its prize table (--prize-table)")
    if "nonce" not in response:  # the player's count of draws: no default would verify another draw
        raise VerificationError("response lacks 'nonce'")
    table = prize_table["prize_table"] if isinstance(prize_table, dict) else prize_table
    weights = [int(segment["weight"]) for segment in table]
    index = draw_index(seed, client_seed, int(response["nonce"]), sum(weights))
    drawn = table[pick_weighted(weights, index)]
    reward = response.get("reward") or response.get("outcome") or {}
    picked = _segment(drawn.get("label"), drawn.get("asset"), drawn.get("amount"))
    claimed = _segment(reward.get("segment_label"), reward.get("asset"), reward.get("amount"))
    if picked != claimed:  # the label alone would let a response pay another asset or amount than the segment's
        raise VerificationError(f"the seeds pick segment {_shown(picked)}, the response says {_shown(claimed)}")
    return f"verified: index {index} of {sum(weights)} -> segment {drawn['label']!r}"


def _segment(label: object, asset: object, amount: object) -> tuple[object, object, Decimal | None]:
    """A segment's label, asset and amount, the amount as a number (``"1.50"`` is ``1.5``)."""
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        return label, asset, None
    return label, asset, number if number.is_finite() else None


def _shown(segment: tuple[object, object, Decimal | None]) -> str:
    label, asset, amount = segment
    return f"{label!r} ({amount} {asset})"
