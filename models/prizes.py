"""Prize tables: weighted segments, each paying an amount of one asset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.assets import from_units, to_units
from models.errors import InvalidInput

MAX_SEGMENTS = 100
MAX_WEIGHT = 10**9


def normalize_prize_table(segments: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated segments in their stored form; errors name the segment's field."""
    if not 1 <= len(segments) <= MAX_SEGMENTS:
        raise InvalidInput(f"needs 1 to {MAX_SEGMENTS} segments", field="prize_table")
    labels: set[str] = set()
    table = []
    for position, segment in enumerate(segments):
        where = f"prize_table[{position}]"
        label, asset, weight = segment["label"], segment["asset"], segment["weight"]
        if label in labels:
            raise InvalidInput(f"duplicate label {label!r}", field=f"{where}.label")
        labels.add(label)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT:
            raise InvalidInput(f"weight must be a whole number from 1 to {MAX_WEIGHT}", field=f"{where}.weight")
        units = to_units(asset, segment["amount"], field=f"{where}.amount")
        if units < 0:
            raise InvalidInput("must not be negative", field=f"{where}.amount")
        table.append({"label": label, "asset": asset, "amount": from_units(asset, units), "weight": weight})
    return table


def weights(table: Sequence[dict[str, Any]]) -> list[int]:
    return [segment["weight"] for segment in table]
