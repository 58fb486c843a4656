"""The proofs on the code that runs (ARITH-Z3, DECIDE-Z3, CONVERT-Z3): each seeded defect of
issue 15 fails its obligation with a counterexample, the obligations read the live code, and the
runtime integer operations agree with the symbolic ones on generated values (REQ-GOV-007)."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

z3 = pytest.importorskip("z3")

from itdose.core import arith, governor, units  # noqa: E402
from itdose.core.arith import IntOps  # noqa: E402
from itdose.proofs import decisions_z3  # noqa: E402
from itdose.proofs.obligations import (  # noqa: E402
    ObligationResult,
    check_claims,
    run_obligation,
)
from itdose.proofs.z3ops import Z3Ops  # noqa: E402

OBLIGATIONS = {o.id: o for o in decisions_z3.obligations()}


@functools.cache
def _result(obligation_id: str) -> ObligationResult:
    return run_obligation(OBLIGATIONS[obligation_id])


@pytest.mark.parametrize(
    ("obligation_id", "broken_id"),
    [
        ("ARITH-Z3", "sub-adds"),  # IntOps.sub: a - b -> a + b
        ("DECIDE-Z3", "lockout-dropped"),  # the lockout term dropped in decide_bolus
        ("DECIDE-Z3", "window-ahead"),  # count_in_window: t - WINDOW_S -> t + WINDOW_S
        ("CONVERT-Z3", "volume-floors"),  # the volume of an amount: ceil_div -> floor_div
        ("CONVERT-Z3", "nl-per-ml-plus-1"),
        ("CONVERT-Z3", "nl-per-ml-minus-1"),
    ],
)
def test_each_seeded_defect_fails_with_a_counterexample(obligation_id: str, broken_id: str) -> None:
    """REQ-GOV-007, REQ-GOV-009, REQ-GOV-003: the defects issue 15 found surviving every proof
    now make a claim fail, with a counterexample in domain units."""
    broken = {b.id: b for b in _result(obligation_id).broken}[broken_id]
    assert broken.status == "caught", broken
    assert broken.counterexample, broken


def test_the_arithmetic_proof_reads_the_live_int_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-007: a change to the runtime IntOps is what ARITH-Z3 sees."""
    monkeypatch.setattr(IntOps, "max_", lambda self, a, b: a)
    result = run_obligation(OBLIGATIONS["ARITH-Z3"])
    assert result.status == "fail"
    failed = [c for c in result.claims if c.status == "counterexample"]
    assert [c.name.split("(")[0] for c in failed] == ["IntOps.max_"]


def test_the_decision_proof_reads_the_live_governor(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-009: a lockout that ends one second early in the live governor fails DECIDE-Z3."""
    live = governor.lockout_elapsed

    def early(ops: object, *, now_s: int, last_start_s: int, lockout_s: int) -> bool:
        return live(ops, now_s=now_s + 1, last_start_s=last_start_s, lockout_s=lockout_s)  # type: ignore[arg-type]

    monkeypatch.setattr(governor, "lockout_elapsed", early)
    results = check_claims(
        decisions_z3.bolus_decision_claims(shapes=decisions_z3.HISTORY_SHAPES[3:4])
    )
    assert any(r.status == "counterexample" for r in results)


def test_the_conversion_proof_reads_the_live_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-003: the live NL_PER_ML is what CONVERT-Z3 evaluates."""
    monkeypatch.setattr(units, "NL_PER_ML", 10**6 + 1)
    results = check_claims(decisions_z3.conversion_claims())
    assert results[0].status == "counterexample"


def test_a_seeded_defect_must_match_todays_source() -> None:
    """A variant whose snippet is no longer in the code is an error, not a silent pass."""
    with pytest.raises(ValueError, match="exactly once"):
        decisions_z3.mutated(arith.IntOps.sub, "a * b", "a")
    seeded = decisions_z3.mutated(arith.IntOps.sub, "a - b", "a + b")
    assert seeded(IntOps(), 5, 3) == 8


_BIG = st.integers(min_value=-(10**30), max_value=10**30)


@given(a=_BIG, b=_BIG, c=st.booleans())
def test_int_ops_equal_z3_ops_on_concrete_values(a: int, b: int, c: bool) -> None:
    """REQ-GOV-007: differential check of the ARITH-Z3 model: every IntOps method on ints gives
    what the Z3Ops method gives on the same constants (simplified by z3)."""
    ints, terms = IntOps(), Z3Ops()
    za, zb = z3.IntVal(a), z3.IntVal(b)

    def value(t: object) -> object:
        s = z3.simplify(t)
        return s.as_long() if z3.is_int_value(s) else z3.is_true(s)

    for name in ("add", "sub", "mul", "min_", "max_", "le", "lt", "ge", "gt", "eq"):
        assert getattr(ints, name)(a, b) == value(getattr(terms, name)(za, zb)), name
    assert ints.ite(c, a, b) == value(terms.ite(z3.BoolVal(c), za, zb))
    assert ints.lit(a) == value(terms.lit(a))
    if a >= 0 and b > 0:
        assert ints.floor_div(a, b) == value(terms.floor_div(za, zb))
        assert ints.ceil_div(a, b) == value(terms.ceil_div(za, zb))


def test_a_variant_that_no_longer_applies_fails_its_obligation_and_keeps_the_claims() -> None:
    """A seeded variant whose snippet left the code is reported (status ``error``), the
    obligation fails, and the claims on the live code are still decided and shown."""
    import dataclasses

    from itdose.proofs.obligations import Broken

    gone = Broken(
        "gone",
        "a snippet that is not there",
        lambda: [decisions_z3.mutated(units.volume_nl_for, "@@", "")],
    )
    result = run_obligation(dataclasses.replace(OBLIGATIONS["CONVERT-Z3"], broken=(gone,)))
    assert result.status == "fail" and "could not be built" in result.detail
    assert result.claims and all(c.status == "proved" for c in result.claims)
    assert result.broken[0].status == "error"
