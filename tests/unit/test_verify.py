"""The verifier recomputes draws from their responses and catches any tampering."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.fairness import draw_index, draw_weighted, seed_hash
from models.verify import VerificationError, verify_draw

TABLE = [
    {"label": "small", "asset": "WINZ", "amount": 100, "weight": 70},
    {"label": "big", "asset": "EUR", "amount": "1.50", "weight": 30},
]
SEED = "0f" * 32


def _open(label: str | None = None) -> dict[str, object]:
    drawn = TABLE[draw_weighted(SEED, "StarlordV7", 4, [70, 30])]
    return {
        "server_seed": SEED,
        "server_seed_hash": seed_hash(SEED),
        "client_seed": "StarlordV7",
        "nonce": 4,
        "reward": {"segment_label": label or drawn["label"], "asset": drawn["asset"], "amount": drawn["amount"]},
    }


def test_honest_open_verifies() -> None:
    assert "verified" in verify_draw(_open(), TABLE)


def test_wrong_segment_or_seed_fails() -> None:
    wrong = "big" if _open()["reward"]["segment_label"] == "small" else "small"  # type: ignore[index]
    with pytest.raises(VerificationError):
        verify_draw(_open(wrong), TABLE)
    with pytest.raises(VerificationError):
        verify_draw({**_open(), "server_seed_hash": "0" * 64}, TABLE)


def test_a_reward_other_than_the_segments_or_a_missing_nonce_fails() -> None:
    """The label matching is not enough: the segment's asset and amount are what the player was owed."""
    honest = _open()
    reward: dict[str, object] = honest["reward"]  # type: ignore[assignment]
    written_otherwise = str(Decimal(str(reward["amount"])).quantize(Decimal("0.001")))  # 100.000, 1.500
    assert "verified" in verify_draw({**honest, "reward": {**reward, "amount": written_otherwise}}, TABLE)
    for changed in ({"amount": 1_000_000}, {"asset": "USD"}):
        with pytest.raises(VerificationError, match="the seeds pick segment"):
            verify_draw({**honest, "reward": {**reward, **changed}}, TABLE)
    with pytest.raises(VerificationError, match="nonce"):
        verify_draw({key: value for key, value in honest.items() if key != "nonce"}, TABLE)


def test_raffle_draw_verifies_from_its_ticket_count() -> None:
    draw = {"server_seed": SEED, "server_seed_hash": seed_hash(SEED), "client_seed": "raffle-1", "total_tickets": 57}
    draw["winning_ticket_idx"] = draw_index(SEED, "raffle-1", 0, 57)
    assert "ticket" in verify_draw(draw)
    with pytest.raises(VerificationError):
        verify_draw({**draw, "winning_ticket_idx": (draw["winning_ticket_idx"] + 1) % 57})  # type: ignore[operator]
