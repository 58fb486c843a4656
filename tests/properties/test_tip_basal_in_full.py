"""A program accepted at entry delivers its whole basal, on random dosing histories judged by the
independent physical reference (tests/tip_histories.py describes the histories and the drives)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from itdose_physics import FULL_MODES, basal_shortfalls
from tip_histories import SETTINGS, histories, simulate


@SETTINGS
@given(histories)
def test_accepted_basal_is_delivered_in_full(history: dict[str, Any]):
    """A program accepted at entry delivers its whole basal: once the tip delivers only its
    drug at its concentration, every full 24 h window of a steady period holds the programmed
    daily dose minus at most one rounding unit; a "delivery limited" alarm excuses a shortfall
    only when other drug could share the window. With a drive that moves every order whole the
    history never runs away in ever smaller orders (REQ-GOV-008)."""
    whole = history["delivers"] == 1 and history["mode"] in FULL_MODES
    b = simulate(history, runaway_fails=whole)
    if not whole:
        return  # the drive, not the core, fell short
    shortfalls = basal_shortfalls(b)
    assert not shortfalls, shortfalls
