"""Exact amounts: integers for WINZ/XP, decimals scaled to integer units for the other rails."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.assets import from_units, to_units
from models.errors import InvalidInput


def test_integer_rails_are_whole_numbers() -> None:
    assert to_units("WINZ", 1500) == 1500
    assert from_units("XP", 7) == 7
    with pytest.raises(InvalidInput):
        to_units("WINZ", "1.5")


def test_decimal_rails_round_trip_exactly() -> None:
    assert to_units("USD", "0.1") + to_units("USD", "0.2") == to_units("USD", "0.3")
    assert from_units("EUR", to_units("EUR", Decimal("12.34567891"))) == "12.34567891"
    assert from_units("USD", to_units("USD", "100")) == "100"


@pytest.mark.parametrize("amount", ["0.000000001", "NaN", "Infinity", "abc", True])
def test_bad_decimals_are_refused(amount: object) -> None:
    with pytest.raises(InvalidInput):
        to_units("USD", amount)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("asset", "amount", "message"),
    [
        ("USD", "1e999999999", "amount out of range"),  # decimal.Overflow when scaled
        ("USD", Decimal("-1e999999999"), "amount out of range"),
        ("USD", "1e-999999999", "at most 8 decimal places"),  # scaled to zero and taken
        ("WINZ", Decimal("1e20"), "amount out of range"),
        ("WINZ", Decimal("1e9999"), "amount out of range"),  # converted digit by digit before the range check
    ],
)
def test_amounts_out_of_range_by_their_exponent_are_refused_before_any_arithmetic(
    asset: str, amount: str | Decimal, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        to_units(asset, amount)


@pytest.mark.parametrize("amount", ["1.0000000000000000000000000001", "1.9999999999999999999999999999", "0.123456789"])
def test_a_digit_past_the_eighth_decimal_place_is_refused_however_far(amount: str) -> None:
    """Beyond decimal's 28 significant digits, scaling would round them away and take 1 or 2."""
    with pytest.raises(InvalidInput, match="at most 8 decimal places"):
        to_units("USD", amount)


def test_zeros_past_the_eighth_decimal_place_change_nothing() -> None:
    assert to_units("USD", "1.50000000000000000000000000000000000") == 150_000_000
    assert to_units("USD", "46116860184.27387903") == 2**62 - 1  # the largest amount, every digit kept


def test_unknown_asset_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        to_units("usd", "1")
    assert refused.value.field == "asset"
