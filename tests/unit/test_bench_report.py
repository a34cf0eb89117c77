"""The benchmark's scale-out verdict: each run drains with one events process and with two back to back,
and the ratio judged is the median of those pairs' ratios, as for every figure measured beside its floor."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report


def _session(one: list[float], two: list[float], database: str = "postgresql") -> dict[str, Any]:
    return {"runs": [{} for _ in one], "database": {"kind": database}, "scaleout": {"1": one, "2": two}}


def _scale_out_row(session: dict[str, Any]) -> Any:
    rows = report.verdicts(session, report.medians(session), quick=False)
    return next(row for row in rows if row.target == "6")


def test_the_ratio_is_the_median_of_the_runs_pairs_not_of_the_medians() -> None:
    session = _session([5000.0, 2500.0, 4000.0], [8500.0, 4500.0, 6000.0])  # pairs 1.7x, 1.8x, 1.5x
    row = _scale_out_row(session)
    assert row.ratio == pytest.approx(1.7)  # the medians' ratio would be 6000 / 4000 = 1.5
    assert row.passed is True
    assert "1.70x, 1.80x, 1.50x" in " ".join(report.observations(session))


def test_pairs_mostly_under_the_target_fail_it() -> None:
    row = _scale_out_row(_session([5000.0, 5000.0, 5000.0], [7500.0, 9000.0, 7900.0]))  # 1.5x, 1.8x, 1.58x
    assert row.ratio == pytest.approx(1.58)
    assert row.passed is False


def test_scale_out_is_judged_on_postgresql_only() -> None:
    row = _scale_out_row(_session([5000.0], [9000.0], database="sqlite"))
    assert row.passed is None and row.ratio is None
