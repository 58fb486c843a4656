"""A change to a richer fluid at the hard maximum, on a drive that moves whole nanolitres at whole
seconds (R-TIP-5, docs/dosing-rules.md#r-tip-5), reduced from default cohort patient 198.

Patient 198 (morphine, Prometra II, 18.992 mg/day basal and three 336 ug boluses a day: 20 mg,
the hard maximum) got 20,000,005 ng at the tip in the window ``(19,623,484 s, 19,709,884 s]``:
refilled from 10 to 25 mg/mL at t = 19,694,153 s, and refilled again with 25 mg/mL 5,155 s later
(so the order that ends the 10 mg/mL run is planned whole from that refill and ends on the
second the 25 mg/mL fluid reaches the tip). The window starts in an hourly order of the 10 mg/mL
fluid 2,902 s after its start, where the drive is 0.99 nL behind the order's pace line, and ends
in an order of the 25 mg/mL fluid 0.003 nL behind its line. The ledger counts every order on its
pace line: it counted 19,999,996 ng there (3.9 ng of room, the basal's whole-nanolitre
rounding), and the window held 9.9 ng (0.99 nL of 10 mg/mL) more at its start than counted and
0.08 ng less at its end.

R-TIP-5 counts one nanolitre of a fluid once more only where it is followed at the tip by a
leaner one (a fall). Its argument for one concentration (the two lag terms cancel in whole
nanolitres of that concentration, and the maximum is a whole number of them) does not hold for a
window that holds two: across a rise the window holds whole nanolitres of each fluid, a multiple
of their common divisor (5 ng for 10 and 25 ng/nL), and can be above the maximum by up to one
nanolitre of the leaner fluid less that divisor (10 - 5 = 5 ng here). For the library's other
pairs at their drug's maximum a rise cannot go over (baclofen 500 -> 1000 -> 2000 mcg/mL: each
richer strength a multiple of the leaner), so morphine 10 -> 25 mg/mL is the one case.

The sequence below is the patient's last 3.4 days cut down (delta debugging on the cohort's own
checker) to four patient boluses and the two refills, the controller and the simulated drive as
the cohort runs them. It is judged twice, by the cohort's reference on the drive's whole
nanolitre steps (adapters/cohort_drive.py) and by a brute force over every whole second of the
drive's own trace (tests/whole_nl_drive.py). The fix (core/drive_reports.py): the lag term of
R-TIP-5 is counted at every change of concentration at the tip, not only at a fall (a report
whose fluid is followed by fluid of another concentration counts one nanolitre of its richest
fluid once more, in the windows across it); the window is now within the maximum.

Requirements: REQ-TIP-005, REQ-GOV-004."""

from __future__ import annotations

import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cohort_spies import drive_commands, spy_on_run
from whole_nl_drive import largest_window

from itdose.adapters import cohort_run
from itdose.adapters.cohort_draw import START_S, load_cohort
from itdose.adapters.cohort_physics import FillEvent
from itdose.specs import load_library

DEFAULT = Path(__file__).resolve().parents[2] / "examples" / "cohorts" / "default.toml"
HARD_MAX_NG = 20_000_000
REFILL_S = 1_022_253
END_S = REFILL_S + 16_000

_PROGRAM = """
concentration = "%s"
basal = { mode = "continuous", dose = "18992 mcg/day" }
patient_bolus = { dose = "336000 ng", duration = "600 s", lockout = "4500 s", max_per_24h = 3 }
override = [
  { limit = "morphine.pain.starting_range.opioid-tolerant", reason = "established patient" },
  { limit = "morphine.pain.soft_max_daily", reason = "near the limit" },
]
"""

SCENARIO = f"""
schema = "itdose-scenario/1"
title = "default cohort patient 198, reduced: a rise 10 -> 25 mg/mL at the hard maximum"
pump = {{ model = "prometra-ii-20" }}
catheter = {{ model = "prometra-catheter", trimmed = "360 mm" }}

[drug]
name = "morphine"
indication = "pain"
concentration = "10 mg/mL"
opioid_status = "tolerant"

[simulation]
end = {END_S}
max_segment = "24 h"
poll = "24 h"
drive_wakeups = true
segment_backoff = true

[programs.lean]
{_PROGRAM % "10 mg/mL"}
[programs.rich]
{_PROGRAM % "25 mg/mL"}
[[timeline]]
at = 32400
action = "screening"
baseline_pain = 8
[[timeline]]
at = 36000
action = "start_trial"
plan = "single intrathecal bolus"
[[timeline]]
at = 36900
action = "trial_dose"
dose = "100 mcg"
[[timeline]]
at = 57600
action = "pain_score"
score = 3
[[timeline]]
at = 61200
action = "conclude_trial"
[[timeline]]
at = 633600
action = "implant"
[[timeline]]
at = 637200
action = "fill"
volume = "20 mL"
[[timeline]]
at = 637500
action = "set_program"
program = "lean"
[[timeline]]
at = 637800
action = "prime"
duration = "8 min"
[[timeline]]
at = {START_S}
action = "start"
[[timeline]]
at = {REFILL_S - 120_971}
action = "bolus"
[[timeline]]
at = {REFILL_S - 39_101}
action = "bolus"
[[timeline]]
at = {REFILL_S - 34_601}
action = "bolus"
[[timeline]]
at = {REFILL_S - 30_101}
action = "bolus"
[[timeline]]
at = {REFILL_S}
action = "refill"
volume = "20 mL"
withdrawn = "auto"
concentration = "25 mg/mL"
program = "rich"
[[timeline]]
at = {REFILL_S + 5155}
action = "refill"
volume = "20 mL"
withdrawn = "auto"
"""


class _Push:
    """One drive command as the brute force reads it: the whole nanolitres it moved by second
    ``t`` are ``floor(rate x (t - start) / 3600)`` (the simulated drive's closed form), so its
    even line runs from its start to ``start + done x 3600 / rate``."""

    def __init__(self, start: int, rate: int, done: int, conc: int) -> None:
        self.t0, self.t1 = Fraction(start), Fraction(start) + Fraction(done * 3600, rate)
        self.volume_nl = Fraction(done)
        self.fluid = _Fluid(conc)


class _Fluid:
    def __init__(self, conc_ng_per_ml: int) -> None:
        self.ng_per_nl = (("morphine", Fraction(conc_ng_per_ml, 1_000_000)),)


def _run(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[_Push], Fraction]:
    doc = tomllib.loads(SCENARIO)
    spy = spy_on_run(monkeypatch)
    monkeypatch.setattr(cohort_run, "draw_patient", lambda cohort, index, horizon: doc)
    r = cohort_run.run_patient(load_cohort(DEFAULT, load_library()), 198, END_S - START_S)
    assert r["error"] is None, r["error"]
    assert r["rejected_actions"] == 0 and r["boluses_granted"] == 4
    fills = [(e.t_s, e.conc_ng_per_ml) for e in spy.log if isinstance(e, FillEvent)]
    assert [c for _, c in fills] == [10_000_000, 25_000_000, 25_000_000]
    pushes = [
        _Push(start, rate, done, [c for t, c in fills if t <= start][-1])
        for start, rate, done in drive_commands(spy.drives[0].trace)
        if done > 0  # moved something (-1: never ended in the trace)
    ]
    assert spy.dead_nl is not None
    return r, pushes, spy.dead_nl


def test_a_rise_to_a_richer_fluid_at_the_hard_maximum_stays_within_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQ-TIP-005, REQ-GOV-004: no window over every whole second holds more than the hard
    maximum, judged by the cohort's reference and by the brute force; the window that was over
    is at the maximum or below it (before the fix: 20,000,005 ng, both)."""
    r, pushes, dead = _run(monkeypatch)
    # every window that ends after the refill (the earlier ones hold one fluid), up to the end
    # of the last command the trace closes
    most, at = largest_window(dead, pushes, "morphine", (REFILL_S, int(pushes[-1].t1)))
    assert r["hard_max_ng"] == HARD_MAX_NG
    over = (r["max_window_ng"] - HARD_MAX_NG, float(most - HARD_MAX_NG))
    assert max(over) <= 0, (over, r["max_window_at_s"], at)
