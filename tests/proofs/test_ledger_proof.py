"""LEDGER-Z3 reads the live ledger, fails with a counterexample on each seeded defect, and the
integer arithmetic it evaluates on z3 terms is the runtime's, operation by operation
(REQ-GOV-004, REQ-GOV-005, REQ-GOV-007, REQ-TIP-004)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("z3")

import z3  # type: ignore[import-untyped]

from itdose.core import ledger as ledger_mod
from itdose.core.arith import INT_OPS
from itdose.core.ledger import WINDOW_S, Flow, Ledger, Piece, peak_fg
from itdose.proofs import ledger_z3
from itdose.proofs.obligations import ObligationResult, run_obligation
from itdose.proofs.z3ops import Z3Ops

LEDGER = ledger_z3.obligations()[0]


@functools.cache
def _result() -> ObligationResult:
    return run_obligation(LEDGER)


def test_the_ledger_obligation_passes_and_each_defect_gives_a_counterexample() -> None:
    result = _result()
    assert result.status == "pass", result.detail
    assert {c.status for c in result.claims} == {"proved"}
    caught = {b.id: b for b in result.broken}
    assert set(caught) >= {
        "peak-now-only",
        "peak-rounded-down",
        "peak-over-count",
        "rough-without-flows",
        "window-short",
        "window-bound-inclusive",
        "window-rounded-down",
        "record-overwrites",
        "record-drops-pieces",
        "merge-larger-pace",
        "instant-as-one-second",
    }
    for broken in caught.values():
        assert broken.status == "caught", broken.id
        assert broken.counterexample, broken.id


def test_a_record_that_overwrites_is_shown_with_the_lost_amount() -> None:
    broken = {b.id: b for b in _result().broken}["record-overwrites"]
    assert broken.counterexample is not None
    assert broken.counterexample["order"] == "1"  # the second report of an order with a piece
    assert "record adds exactly" in broken.failed_claim


def test_the_proof_reads_the_live_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    live_peak = ledger_mod.peak

    def one_short(ops: Any, pieces: Any, flows: Any, now: Any, period: Any) -> Any:
        return ops.max_(ops.lit(0), ops.sub(live_peak(ops, pieces, flows, now, period), ops.lit(1)))

    monkeypatch.setattr(ledger_mod, "peak", one_short)
    result = run_obligation(LEDGER)
    assert result.status == "fail"
    assert any(c.status == "counterexample" for c in result.claims)


def test_the_proof_reads_the_live_record(monkeypatch: pytest.MonkeyPatch) -> None:
    live_record = Ledger.record

    def forgets_the_window(self: Ledger, t_s: Any, *args: Any) -> Ledger:
        # the ledger's piece keeps the first report's end: a later report seems older
        new = live_record(self, t_s, *args)
        return Ledger(new.pieces[:-1]) if len(new.pieces) > 1 else new

    monkeypatch.setattr(Ledger, "record", forgets_the_window)
    claims = ledger_z3.record_claims()
    from itdose.proofs.obligations import check_claim

    assert any(check_claim(c).status == "counterexample" for c in claims)


def test_the_proof_reads_the_live_instant_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-005: the instant claim evaluates the live ``Piece.term`` of the recorded instant:
    an instant read as ending at its instant (not a second later) is caught."""
    from itdose.proofs.obligations import check_claim

    monkeypatch.setattr(Piece, "last_s", property(lambda self: self.end_s))
    claims = ledger_z3.instant_claims()
    assert any(check_claim(c).status == "counterexample" for c in claims)


def test_the_instant_claim_shows_the_window_that_loses_part_of_the_amount() -> None:
    """REQ-GOV-005: the seeded one-second encoding's counterexample is a window that still
    contains the instant (its end within 24 h after it) and holds more than the peak."""
    broken = {b.id: b for b in _result().broken}["instant-as-one-second"]
    assert broken.counterexample is not None
    assert "instant" in broken.failed_claim


# --- the same arithmetic on ints and on z3 terms ---------------------------------------------

_times = st.integers(0, 4 * WINDOW_S)
_amounts = st.integers(0, 10**13)
_paces = st.tuples(st.integers(0, 10**9), st.sampled_from([1, 3_600, WINDOW_S]))


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.tuples(_times, _amounts, _paces), max_size=3),
    flows=st.lists(st.tuples(_times, _amounts, _paces), max_size=3),
    later=st.integers(0, 2 * WINDOW_S),
)
def test_the_peak_on_z3_terms_equals_the_runtime_peak(
    pieces: list[tuple[int, int, tuple[int, int]]],
    flows: list[tuple[int, int, tuple[int, int]]],
    later: int,
) -> None:
    """REQ-GOV-007: the z3 term of ``peak`` at concrete inputs simplifies to the runtime value
    (the Ops operations agree one by one on these operands: no silent model difference)."""
    ends = sorted(t for t, _, _ in pieces)
    now = (ends[-1] if ends else 0) + later
    ps = tuple(
        Piece(i + 1, 0, end, amount, fg, s)
        for i, (end, (_, amount, (fg, s))) in enumerate(zip(ends, pieces, strict=True))
    )
    fs = tuple(Flow(start, amount, fg, s) for start, amount, (fg, s) in flows)
    period = ledger_mod.common_period(*(p.pace_s for p in ps), *(f.pace_s for f in fs))
    p_terms = [p.term(period) for p in ps]
    f_terms = [f.term(period) for f in fs]
    runtime = ledger_mod.peak(INT_OPS, p_terms, f_terms, now, period)
    ops = Z3Ops()
    lit = z3.IntVal
    symbolic = ledger_mod.peak(
        ops,
        [tuple(map(lit, t)) for t in p_terms],
        [tuple(map(lit, t)) for t in f_terms],
        lit(now),
        lit(period),
    )
    assert z3.simplify(symbolic).as_long() == runtime
    assert peak_fg(ps, fs, now) == runtime
    assert all(z3.is_true(z3.simplify(c)) for c in ops.side_conditions)
    window = ledger_mod.window_total(
        ops, [tuple(map(lit, t)) for t in p_terms], lit(now), lit(period)
    )
    assert z3.simplify(window).as_long() == Ledger(ps).window_total_fg(now)
