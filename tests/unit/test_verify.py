"""The verifier recomputes draws from their responses and catches any tampering."""

from __future__ import annotations

import pytest

from models.fairness import draw_index, draw_weighted, seed_hash
from models.verify import VerificationError, verify_draw

TABLE = [{"label": "small", "weight": 70}, {"label": "big", "weight": 30}]
SEED = "0f" * 32


def _open(label: str | None = None) -> dict[str, object]:
    actual = TABLE[draw_weighted(SEED, "StarlordV7", 4, [70, 30])]["label"]
    return {
        "server_seed": SEED,
        "server_seed_hash": seed_hash(SEED),
        "client_seed": "StarlordV7",
        "nonce": 4,
        "reward": {"segment_label": label or actual},
    }


def test_honest_open_verifies() -> None:
    assert "verified" in verify_draw(_open(), TABLE)


def test_wrong_segment_or_seed_fails() -> None:
    wrong = "big" if _open()["reward"]["segment_label"] == "small" else "small"  # type: ignore[index]
    with pytest.raises(VerificationError):
        verify_draw(_open(wrong), TABLE)
    with pytest.raises(VerificationError):
        verify_draw({**_open(), "server_seed_hash": "0" * 64}, TABLE)


def test_raffle_draw_verifies_from_its_ticket_count() -> None:
    draw = {"server_seed": SEED, "server_seed_hash": seed_hash(SEED), "client_seed": "raffle-1", "total_tickets": 57}
    draw["winning_ticket_idx"] = draw_index(SEED, "raffle-1", 0, 57)
    assert "ticket" in verify_draw(draw)
    with pytest.raises(VerificationError):
        verify_draw({**draw, "winning_ticket_idx": (draw["winning_ticket_idx"] + 1) % 57})  # type: ignore[operator]
