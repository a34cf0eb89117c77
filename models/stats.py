"""Observed draw frequencies against configured weights: Pearson's chi-square test.

The p-value is the chi-square survival function, ``Q(df/2, x/2)``, the regularized upper incomplete
gamma function, computed by its series or continued fraction (Numerical Recipes, 6.2). These are
statistics, so floats are right here; money never goes through this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 10_000


def _lower_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    result = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = d if abs(d) > _TINY else _TINY
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        d = 1 / d
        step = d * c
        result *= step
        if abs(step - 1) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * result


def upper_gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma ``Q(a, x)`` for ``a > 0``, ``x >= 0``."""
    if a <= 0 or x < 0:
        raise ValueError("need a > 0 and x >= 0")
    if x == 0:
        return 1.0
    if x < a + 1:
        return max(0.0, 1.0 - _lower_series(a, x))
    return _upper_fraction(a, x)


def chi_square(observed: Sequence[int], weights: Sequence[int]) -> tuple[float, int, float]:
    """``(statistic, degrees of freedom, p-value)`` of observed counts against weights."""
    total, weight_sum = sum(observed), sum(weights)
    if total == 0 or len(weights) < 2:
        return 0.0, max(len(weights) - 1, 0), 1.0
    statistic = 0.0
    for count, weight in zip(observed, weights, strict=True):
        expected = total * weight / weight_sum
        statistic += (count - expected) ** 2 / expected
    freedom = len(weights) - 1
    return statistic, freedom, upper_gamma_q(freedom / 2, statistic / 2)
