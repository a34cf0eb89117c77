"""Asset rails and their exact representation.

Every amount is stored as a whole number of *units*: WINZ and XP are integers (one unit each);
decimal rails (BONUS and real currencies) are stored in units of 10**-8, so sums are exact
integer arithmetic in SQLite and PostgreSQL alike. Decimal amounts cross the API as strings.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from models.errors import InvalidInput

INTEGER_ASSETS = frozenset({"WINZ", "XP"})
DECIMAL_PLACES = 8
_SCALE = Decimal(10) ** DECIMAL_PLACES
MAX_UNITS = 2**62
_MAX_DIGITS = len(str(MAX_UNITS))  # an amount whose leading digit is further left is out of range on every rail


def is_asset(code: str) -> bool:
    """WINZ, XP, BONUS or a three-letter upper-case currency code."""
    return code in INTEGER_ASSETS or code == "BONUS" or (len(code) == 3 and code.isascii() and code.isupper())


def to_units(asset: str, amount: int | str | Decimal, *, field: str = "amount") -> int:
    """The stored integer for *amount* of *asset*; refuses fractions of integer rails and excess precision."""
    if not is_asset(asset):
        raise InvalidInput(f"unknown asset {asset!r}", field="asset")
    if isinstance(amount, bool):
        raise InvalidInput("must be a number", field=field)
    if asset in INTEGER_ASSETS:
        if isinstance(amount, Decimal) and amount.is_finite():
            _refuse_huge(amount, field)
            if amount == amount.to_integral_value():
                amount = int(amount)
        if not isinstance(amount, int):
            raise InvalidInput(f"{asset} amounts are whole numbers", field=field)
        units = amount
    else:
        try:
            value = Decimal(amount) if not isinstance(amount, Decimal) else amount
        except InvalidOperation:
            raise InvalidInput("must be a decimal number", field=field) from None
        if not value.is_finite():
            raise InvalidInput("must be a finite decimal number", field=field)
        _refuse_huge(value, field)
        if _has_digits_past(value, DECIMAL_PLACES):
            raise InvalidInput(f"at most {DECIMAL_PLACES} decimal places", field=field)
        units = int(value * _SCALE)  # exact: at most 27 significant digits are left, within decimal's 28
    if abs(units) >= MAX_UNITS:
        raise InvalidInput("amount out of range", field=field)
    return units


def _refuse_huge(value: Decimal, field: str) -> None:
    """Refuse, before any arithmetic on it, an amount out of range by its exponent alone: a decimal keeps exponents
    up to about a billion, which scaling overflows and converting to an integer takes minutes over."""
    if value and value.adjusted() >= _MAX_DIGITS:
        raise InvalidInput("amount out of range", field=field)


def _has_digits_past(value: Decimal, places: int) -> bool:
    """Whether *value* has a non-zero digit past *places* decimal places, read from its digits: arithmetic
    rounds to 28 significant digits first, so ``1.0000000000000000000000000001`` would pass as 1."""
    _, digits, exponent = value.as_tuple()
    beyond = -places - int(exponent)  # how many of the last digits lie past the decimal places kept
    return beyond > 0 and any(digits[-beyond:])


def from_units(asset: str, units: int) -> int | str:
    """The API form of a stored amount: an int for integer rails, a decimal string otherwise."""
    if asset in INTEGER_ASSETS:
        return units
    return _plain(Decimal(units) / _SCALE)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
