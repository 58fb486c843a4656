"""LEDGER-Z3-PACE, LEDGER-Z3-INPUTS and LEDGER-Z3-BOOK read the live ledger, and each of their
seeded defects fails with a counterexample (REQ-GOV-004, REQ-GOV-005, REQ-GOV-011, REQ-TIP-004).
A ledger function that raises on a valid input fails a claim with a counterexample: the proof is
still built (proof-only mutation counts such a defect as killed by a claim, not by a crash)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

pytest.importorskip("z3")

from itdose.core import ledger as ledger_mod
from itdose.core.ledger import Ledger
from itdose.proofs import ledger_book_z3, ledger_z3
from itdose.proofs.obligations import ObligationResult, check_claim, run_obligation

OBLIGATIONS = {o.id: o for o in ledger_book_z3.obligations()}
SEEDED = {
    "LEDGER-Z3-PACE": {"pace-rounded-down", "ahead-no-nl-slack", "ahead-no-slack"},
    "LEDGER-Z3-INPUTS": {
        "piece-accepts-bool",
        "piece-end-before-start",
        "history-accepts-a-list",
        "ledger-unbounded",
    },
    "LEDGER-Z3-BOOK": {
        "record-keeps-reported-pace",
        "record-merges-one-more",
        "peak-fg-drops-pieces",
        "window-ng-rounded-down",
    },
}


@functools.cache
def _result(oid: str) -> ObligationResult:
    return run_obligation(OBLIGATIONS[oid])


@pytest.mark.parametrize("oid", sorted(SEEDED))
def test_the_obligation_passes_and_each_seeded_defect_gives_a_counterexample(oid: str) -> None:
    result = _result(oid)
    assert result.status == "pass", result.detail
    assert {c.status for c in result.claims} == {"proved"}
    caught = {b.id: b for b in result.broken}
    assert set(caught) == SEEDED[oid]
    for broken in caught.values():
        assert broken.status == "caught", broken.id
        assert broken.counterexample, broken.id


def test_the_ledger_obligations_are_registered() -> None:
    ids = {o.id for o in ledger_z3.obligations()}
    assert {"LEDGER-Z3", *SEEDED} <= ids


def _fails(claims: list[Any]) -> bool:
    return any(check_claim(c).status == "counterexample" for c in claims)


def test_the_pace_claims_read_the_live_pace_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-TIP-004: a report one nL over the allowance since the start is no longer seen."""
    live = ledger_mod.ahead_of_pace

    def lenient(reported_nl: Any, *args: Any, **kw: Any) -> Any:
        return live(reported_nl - 1, *args, **kw)

    monkeypatch.setattr(ledger_mod, "ahead_of_pace", lenient)
    assert _fails(ledger_book_z3.pace_claims())


def test_the_record_claims_read_the_live_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-005: a record that forgets the start of the order's first report is caught."""
    live = Ledger.record

    def late_start(
        self: Ledger, t_s: Any, order_id: Any, start_s: Any, *args: Any, **kw: Any
    ) -> Any:
        return live(self, t_s, order_id, t_s, *args, **kw)

    monkeypatch.setattr(Ledger, "record", late_start)
    assert _fails(ledger_book_z3.record_claims())


def test_the_peak_fg_claim_reads_the_live_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-004: a wrapper that answers 'within the limit' from the recorded pieces alone
    is caught."""
    live = ledger_mod.peak_fg

    def pieces_only(pieces: Any, flows: Any, now_s: Any, limit_fg: Any = None) -> Any:
        return live(pieces, (), now_s, limit_fg)

    monkeypatch.setattr(ledger_mod, "peak_fg", pieces_only)
    assert _fails(ledger_book_z3.peak_fg_claims())


def test_a_wrong_error_on_bad_input_is_a_counterexample(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-011: a negative time that raises ValueError instead of InvalidInput fails the
    input claim."""
    live = Ledger.window_total_fg

    def plain_error(self: Ledger, t_s: Any) -> Any:
        if t_s < 0:
            raise ValueError("negative")
        return live(self, t_s)

    monkeypatch.setattr(Ledger, "window_total_fg", plain_error)
    assert _fails(ledger_book_z3.input_claims())


def test_a_ledger_that_raises_on_a_valid_path_fails_a_claim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQ-GOV-005: a TypeError inside window_total_fg on valid input is a counterexample of
    LEDGER-Z3's window claims, not a proof that could not be built."""

    def broken(self: Ledger, t_s: Any) -> Any:
        raise TypeError("window_total() missing 1 required positional argument")

    monkeypatch.setattr(Ledger, "window_total_fg", broken)
    claims = ledger_z3.window_claims()
    assert _fails(claims)


def test_a_peak_that_raises_fails_every_peak_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-004: an exception of the peak on z3 terms is a counterexample on each shape."""

    def broken(*args: Any) -> Any:
        raise TypeError("min_() missing 1 required positional argument")

    monkeypatch.setattr(ledger_mod, "peak", broken)
    results = [check_claim(c) for c in ledger_z3.peak_claims(shapes=ledger_z3.PEAK_SHAPES[:1])]
    assert results and all(r.status == "counterexample" for r in results)
    assert all("raised" in (r.counterexample or {}) for r in results)
