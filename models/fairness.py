"""The provably fair draw (API contract, section 6), with no dependency beyond the standard library.

A draw commits to ``server_seed_hash = sha256(server_seed)`` before it happens. The random stream is
``HMAC-SHA256(server_seed, f"{client_seed}:{nonce}:{round}")`` for round 0, 1, 2, ...; indexes in
``[0, n)`` come from 8-byte big-endian words with rejection sampling, so every index is equally likely.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence

_SPACE = 2**64


def new_server_seed() -> str:
    """32 bytes from the OS CSPRNG as 64 lowercase hex characters."""
    return secrets.token_hex(32)


def seed_hash(server_seed: str) -> str:
    """SHA-256 of the seed's 64 ASCII hex characters, hex encoded."""
    return hashlib.sha256(server_seed.encode("ascii")).hexdigest()


def byte_stream(server_seed: str, client_seed: str, nonce: int) -> Iterator[bytes]:
    """The draw's bytes, 32 at a time, round after round."""
    key = server_seed.encode("ascii")
    round_ = 0
    while True:
        yield hmac.new(key, f"{client_seed}:{nonce}:{round_}".encode(), hashlib.sha256).digest()
        round_ += 1


def draw_index(server_seed: str, client_seed: str, nonce: int, n: int) -> int:
    """An unbiased index in ``[0, n)``."""
    if n <= 0:
        raise ValueError("n must be positive")
    limit = _SPACE - (_SPACE % n)
    for block in byte_stream(server_seed, client_seed, nonce):
        for offset in range(0, 32, 8):
            value = int.from_bytes(block[offset : offset + 8], "big")
            if value < limit:
                return value % n
    raise AssertionError("unreachable")  # pragma: no cover - the stream is endless


def pick_weighted(weights: Sequence[int], index: int) -> int:
    """Position of the first segment whose running weight sum exceeds *index*."""
    running = 0
    for position, weight in enumerate(weights):
        running += weight
        if index < running:
            return position
    raise ValueError("index is not below the sum of the weights")


def draw_weighted(server_seed: str, client_seed: str, nonce: int, weights: Sequence[int]) -> int:
    """Position of the segment a weighted draw lands on."""
    return pick_weighted(weights, draw_index(server_seed, client_seed, nonce, sum(weights)))
