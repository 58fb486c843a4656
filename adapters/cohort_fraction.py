"""Exact rationals for the cohort's independent reference (:mod:`itdose.adapters.cohort_physics`,
:mod:`itdose.adapters.cohort_drive`): ``quicktions.Fraction`` when it is installed (the optional
extra ``cohort``; a compiled build of the standard library's ``fractions.Fraction`` with the same
API and the same exact results, about 2.7 times faster on the reference), else
``fractions.Fraction``.

Either way every value is an exact rational, so the reference's verdicts do not depend on which
one is used (tests/adapters/test_cohort_reference_fractions.py runs it on both and compares). The
reference is evidence tooling, outside the dosing path: the core never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["FAST", "Fraction"]

if TYPE_CHECKING:  # one type for the type checker: the standard library's
    from fractions import Fraction

    FAST: bool
else:
    try:
        from quicktions import Fraction

        FAST = True
    except ImportError:  # pragma: no cover - the extra is installed in CI
        from fractions import Fraction

        FAST = False
