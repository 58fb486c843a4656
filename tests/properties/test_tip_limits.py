"""Every rolling 24 h window of each drug leaving the catheter tip stays at or under its hard
daily maximum, on random dosing histories judged by the independent physical reference
(tests/tip_histories.py describes the histories and the drives)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, note
from itdose_physics import MG, window_extremes
from tip_histories import SETTINGS, histories, simulate


@SETTINGS
@given(histories)
def test_tip_amounts_stay_under_the_hard_maximum(history: dict[str, Any]):
    """Every rolling 24 h window of each drug leaving the catheter tip stays at or under its hard
    daily maximum, through refills (back to back, during a bridge, aborted), concentration and
    drug changes, boluses at the lockout's end and at the cap, and soft overrides (REQ-GOV-002,
    REQ-BRIDGE-002)."""
    b = simulate(history, runaway_fails=False)
    tip = b.tip()
    for drug in sorted({d for x in tip for d, a in x.ng.items() if a}):
        ex = window_extremes(tip, drug)
        note(f"{drug}: max {float(ex.max_ng)} ng in the 24 h ending at t={float(ex.max_at_s)}")
        assert ex.max_ng <= b.hard_max_ng(drug), (
            f"{float(ex.max_ng) / MG:.4f} mg of {drug} left the tip in the 24 h ending at "
            f"t={float(ex.max_at_s)} (hard maximum {b.hard_max_ng(drug) / MG} mg)"
        )
