"""Exact Clopper-Pearson upper bounds for cohort hazard rates (docs/cohort-schema.md)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from itdose.adapters.cohort_stats import clopper_pearson_upper, per_year_upper


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        (0, 10, 0.308497),  # 1 - 0.025 ** (1 / 10)
        (1, 10, 0.445016),  # published table value 0.4450
        (5, 10, 0.812914),  # 0.1871 .. 0.8129
        (3, 1000, 0.008742),  # R: binom.test(3, 1000)$conf.int[2]
        (0, 1000, 0.003682),
    ],
)
def test_upper_bound_matches_known_values(k: int, n: int, expected: float) -> None:
    assert abs(float(clopper_pearson_upper(k, n)) - expected) < 2e-6


def test_zero_events_is_the_closed_form_rounded_up() -> None:
    n = 37
    bound = clopper_pearson_upper(0, n)
    # P(X = 0) at the bound is at most 2.5 %, and just below it above 2.5 %
    assert (1 - bound) ** n <= Fraction(25, 1000)
    assert (1 - (bound - Fraction(1, 2**40))) ** n > Fraction(25, 1000)


def test_all_events_gives_one_and_bounds_rise_with_k() -> None:
    assert clopper_pearson_upper(4, 4) == 1
    bounds = [clopper_pearson_upper(k, 20) for k in range(21)]
    assert bounds == sorted(bounds)
    assert len(set(bounds)) == 21


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, 0)])
def test_invalid_counts_are_refused(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        clopper_pearson_upper(k, n)


def test_per_year_bound_from_a_multi_year_horizon() -> None:
    p = Fraction(1, 10)
    q = per_year_upper(p, Fraction(2))
    assert abs((1 - q) ** 2 - 0.9) < 1e-12
    assert per_year_upper(p, Fraction(1, 4)) == 0.1
