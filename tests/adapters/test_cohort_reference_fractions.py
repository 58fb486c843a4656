"""The cohort reference gives the same verdicts and the same exact values whichever rational type
it computes with: ``quicktions.Fraction`` (the optional extra ``cohort``, a compiled build of the
standard library's type, used for speed) or ``fractions.Fraction`` (docs/cohort-schema.md,
"Speed"; ``itdose.adapters.cohort_fraction``).

Oracle: the same reference on the standard library's ``fractions.Fraction``, on the true
delivery logs of drawn patients (one at the hard maximum, one with patient boluses and a
concentration change, one far from the limits).

Requirements: REQ-GOV-004, REQ-TIP-004 (the reference that checks them must not depend on its
rational type)."""

from __future__ import annotations

import fractions
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from itdose.adapters import cohort_drive, cohort_physics, cohort_run
from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_fraction import FAST
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2]
DAY_S = 86_400


def _calls(indices: list[int], days: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    cohort = load_cohort(ROOT / "examples" / "cohorts" / "default.toml", load_library())
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    real = cohort_run.check_patient

    def capture(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cohort_run, "check_patient", capture)
        for i in indices:
            assert cohort_run.run_patient(cohort, i, days * DAY_S)["error"] is None
    return calls


def _verdicts(result: tuple[Any, Any, Any]) -> tuple[Any, ...]:
    counts, windows, ref = result
    return (
        counts,
        {d: (w.max_fg, w.at_s, w.episodes_over) for d, w in windows.items()},
        ref.delivered_ratio,
        ref.latencies,
        ref.unstoppable_nl,
        ref.negative,
        ref.reservoir_nl,
        ref.reservoir_fg,
        ref.lean_rich,
        {d: [(p.a, p.b, p.amount_fg) for p in ps] for d, ps in ref.pieces.items()},
    )


def test_the_reference_is_the_same_on_the_standard_librarys_fractions() -> None:
    """Patients 1 (baclofen near the hard maximum), 10 (morphine, patient boluses) and 0 (far from
    the limits), 60 days each: every count, window, ratio, latency, the reservoir and every
    piece at the tip equal, exactly, and of a value that is not trivial."""
    calls = _calls([1, 10, 0], 60)
    fast = [_verdicts(cohort_physics.check_patient(*a, **k)) for a, k in calls]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cohort_physics, "Fraction", fractions.Fraction)
        mp.setattr(cohort_drive, "Fraction", fractions.Fraction)
        slow = [
            _verdicts(cohort_physics.check_patient(fractions.Fraction(a[0]), *a[1:], **k))
            for a, k in calls
        ]
    assert slow == fast
    # not a vacuous comparison: the first patient's largest window is near the hard maximum
    # (2 mg of baclofen), and every patient's tip saw drug in many pieces
    assert max(v[0] for v in fast[0][1].values()) > Fraction(95, 100) * 2_000_000 * 10**6
    assert all(sum(len(p) for p in f[9].values()) > 20 for f in fast)


def test_the_fast_rationals_are_used_where_installed() -> None:
    """The extra ``cohort`` (in the test extra) is installed here: the reference runs on it."""
    pytest.importorskip("quicktions")
    assert FAST
    assert type(cohort_physics.Fraction(1, 3)).__module__ == "quicktions"
