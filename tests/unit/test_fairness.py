"""The fairness algorithm of the API contract, section 6, checked against a direct transcription."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

import pytest

from models.fairness import byte_stream, draw_index, draw_weighted, new_server_seed, pick_weighted, seed_hash

SEED = "a" * 64


def test_seed_is_64_lowercase_hex_and_hash_is_sha256_of_its_ascii() -> None:
    seed = new_server_seed()
    assert len(seed) == 64 and set(seed) <= set("0123456789abcdef")
    assert seed_hash(seed) == hashlib.sha256(seed.encode("ascii")).hexdigest()


def test_stream_is_hmac_of_client_seed_nonce_and_round() -> None:
    stream = byte_stream(SEED, "StarlordV7", 3)
    for round_ in range(3):
        expected = hmac.new(SEED.encode(), f"StarlordV7:3:{round_}".encode(), hashlib.sha256).digest()
        assert next(stream) == expected


def test_index_is_first_accepted_big_endian_word_modulo_n() -> None:
    first = hmac.new(SEED.encode(), b"c:0:0", hashlib.sha256).digest()[:8]
    assert draw_index(SEED, "c", 0, 100) == int.from_bytes(first, "big") % 100


def test_words_at_or_above_the_rejection_limit_are_skipped() -> None:
    n = 2**63 + 1  # limit = 2**63 + 1: roughly half of all words are rejected
    for nonce in range(50):
        words = []
        for block in byte_stream(SEED, "c", nonce):
            words += [int.from_bytes(block[i : i + 8], "big") for i in range(0, 32, 8)]
            if len(words) >= 16:
                break
        limit = 2**64 - (2**64 % n)
        expected = next(word for word in words if word < limit) % n
        assert draw_index(SEED, "c", nonce, n) == expected


def test_weighted_pick_uses_running_sums() -> None:
    assert [pick_weighted([70, 30], index) for index in (0, 69, 70, 99)] == [0, 0, 1, 1]
    with pytest.raises(ValueError):
        pick_weighted([70, 30], 100)


def test_weighted_draw_frequencies_follow_weights() -> None:
    counts = Counter(draw_weighted(SEED, "client", nonce, [1, 3]) for nonce in range(8000))
    assert 1700 < counts[0] < 2300  # expected 2000, sd ~39


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError):
        draw_index(SEED, "c", 0, 0)
