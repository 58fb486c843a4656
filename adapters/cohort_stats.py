"""Exact binomial bounds for cohort hazard rates (docs/cohort-schema.md, "Results").

:func:`clopper_pearson_upper` is the upper end of the two-sided exact (Clopper-Pearson) confidence
interval for a binomial proportion: the ``p`` at which observing ``k`` or fewer events in ``n``
trials has probability ``alpha / 2``. It is found by bisection on the binomial CDF evaluated with
exact integers (``p = m / 2**bits``), so the result is an upper bound on the true quantile to
within ``2**-bits``, rounded up (never optimistic). No floating point is used until the result is
returned.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

__all__ = ["clopper_pearson_upper", "per_year_upper"]


def _cdf_times(n: int, k: int, m: int, scale: int) -> int:
    """``P(X <= k) * scale**n`` for X ~ Binomial(n, m / scale), exactly."""
    q = scale - m
    return sum(comb(n, i) * m**i * q ** (n - i) for i in range(k + 1))


def clopper_pearson_upper(
    k: int, n: int, confidence: Fraction = Fraction(95, 100), bits: int = 40
) -> Fraction:
    """Upper end of the two-sided exact ``confidence`` interval for ``k`` events in ``n`` trials.

    ``k == n`` gives 1. Rounded up to a multiple of ``2**-bits``."""
    if (
        isinstance(k, bool)
        or isinstance(n, bool)
        or not isinstance(k, int)
        or not isinstance(n, int)
    ):
        raise TypeError("k and n must be int")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if k == n:
        return Fraction(1)
    tail = (1 - confidence) / 2
    scale = 1 << bits
    target_num, target_den = tail.numerator * scale**n, tail.denominator
    lo, hi = 0, scale  # CDF(lo) > tail >= CDF(hi): the CDF falls as p rises
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _cdf_times(n, k, mid, scale) * target_den > target_num:
            lo = mid
        else:
            hi = mid
    return Fraction(hi, scale)


def per_year_upper(p_upper: Fraction, years: Fraction) -> float:
    """The per patient-year probability bound from a bound over a ``years`` horizon, assuming
    independent years: ``1 - (1 - p) ** (1 / years)`` (for a horizon under a year, ``p`` itself,
    which is conservative)."""
    if years <= 1:
        return float(p_upper)
    keep: float = (1.0 - float(p_upper)) ** (1.0 / float(years))
    return 1.0 - keep
