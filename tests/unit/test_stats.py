"""Chi-square p-values against textbook values."""

from __future__ import annotations

import math

import pytest

from models.stats import chi_square, upper_gamma_q


@pytest.mark.parametrize(
    ("statistic", "freedom", "p_value"),
    [
        (3.841458820694124, 1, 0.05),
        (5.991464547107979, 2, 0.05),
        (6.634896601021214, 1, 0.01),
        (18.307038053275146, 10, 0.05),
    ],
)
def test_critical_values_give_their_significance(statistic: float, freedom: int, p_value: float) -> None:
    assert math.isclose(upper_gamma_q(freedom / 2, statistic / 2), p_value, rel_tol=1e-9)


def test_exponential_case_is_exact() -> None:
    assert math.isclose(upper_gamma_q(1.0, 2.5), math.exp(-2.5), rel_tol=1e-12)


def test_perfect_fit_has_p_one_and_skew_has_p_near_zero() -> None:
    assert chi_square([700, 300], [70, 30]) == (0.0, 1, 1.0)
    statistic, freedom, p_value = chi_square([900, 100], [70, 30])
    assert freedom == 1 and statistic > 100 and p_value < 1e-20


def test_no_draws_is_no_evidence() -> None:
    assert chi_square([0, 0], [1, 1]) == (0.0, 1, 1.0)
