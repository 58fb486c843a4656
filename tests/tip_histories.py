"""Random dosing histories judged at the catheter tip by the independent physical reference
(the histories and their runner; the two properties are in tests/properties/test_tip_limits.py and
tests/properties/test_tip_basal_in_full.py, in two files so that they run on two workers).

Hypothesis draws a history on a Prometra II with the Prometra catheter trimmed 20 cm (dead volume
0.234 mL): an initial morphine program (10 or 25 mg/mL), then waits (a second to two days),
refills (concentration changes 10 <-> 25 mg/mL, a drug change to compounded hydromorphone and
back, the same concentration with or without a new program, back-to-back refills and refills
during a bridge, refills aborted before or after the withdrawal, the bridge-skip override),
programs, suspensions and resumptions, patient boluses exactly at the lockout's end, and
clinician boluses as large as the core accepts (bisected: exactly at the cap), once or every
30 min for hours. Every soft limit the core names is overridden with a reason. The drive
(:data:`DRIVE_MODES`) keeps each order's pace, as SAFETY.md "What the drive is trusted for"
states (one behaviour per history, once dosing has started): evenly over the order, at the pace
itself (a little early), evenly at 99 % of the order, or idle for a third of the order and then
at the pace; each tick may ask for one-hour or one-day basal orders. In some histories
(:data:`DRIVE_SHARES`) the drive moves only 99 % or 90 % of every order and reports exactly what
it moved: the core's path must follow the reports. (A drive ahead of its pace breaks the trust:
with it no core can keep every window within the maximum; a directed test shows it is caught.)

Judged by ``itdose_physics`` (FIFO path, exact fractions, every instant), never by the core:

- every rolling 24 h window of each drug leaving the tip stays at or under that drug's hard
  daily maximum (docs/dosing-rules.md "What reaches the patient", "Limits");
- a program accepted at entry delivers its basal in full: in every steady period (one program,
  active, no disruptive command), once the tip delivers only that program's drug at its
  concentration, every full 24 h window holds at least the programmed daily dose minus one
  rounding unit (1 nL at that concentration; a drive at the pace, a little early, two), for the
  drives that move every order whole. A "delivery limited" alarm excuses a shortfall only when
  other drug could share the window (a bolus, old fluid, drug in the day before): a program
  accepted at entry running alone never needs one;
- the drive was never asked for more than the reservoir held, never given two orders at once,
  and, with a drive that moves every order whole, the history never runs away (an endless
  stream of ever smaller orders fails the example: basal would stall silently). With a drive
  that moves less it does run away at a change of concentration: a known core defect, pinned
  by a strict xfail in tests/core/test_tip_dose_limits.py.

Profiles (tests/conftest.py): ``dev`` runs 25 histories, ``ci`` 35 (derandomized): about 1.7 s
a history, within about two minutes for both properties.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    MODES,
    Bench,
    Mode,
    Runaway,
    greedy_clinician_boluses,
    implanted_and_dosing,
    max_clinician_bolus_ng,
    refill,
)

from itdose.core import DosingError, Phase, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.specs import load_library

LIB = load_library()
C = Role.CLINICIAN
P = Role.PATIENT

DRIVE_MODES: tuple[Mode, ...] = MODES
"""How the drive moves an order, never faster than its pace: evenly, at the pace, 99 % evenly,
pausing then at the pace."""
DRIVE_SHARES = (Fraction(1),) * 4 + (Fraction(99, 100), Fraction(9, 10))
"""The share of each order the drive moves once dosing has started (reported truthfully)."""

_THOROUGH = os.environ.get("HYPOTHESIS_PROFILE", "dev").startswith("ci")
MAX_HISTORY_S = 12 * DAY_S
"""Waits stop extending a history beyond this (keeps one example fast)."""


def _morphine(conc_mg: int, basal_mg: Fraction, bolus: PatientBolusProgram | None) -> Program:
    return Program(
        "morphine",
        "pain",
        conc_mg * MG,
        Basal.continuous(int(basal_mg * MG)),
        bolus,
        "opioid-tolerant",
    )


_BOLUSES = (
    None,
    PatientBolusProgram(dose_ng=500_000, duration_s=600, lockout_s=HOUR_S, max_per_24h=4),
    PatientBolusProgram(dose_ng=1_000_000, duration_s=300, lockout_s=1800, max_per_24h=6),
    PatientBolusProgram(dose_ng=2_500_000, duration_s=60, lockout_s=300, max_per_24h=4),
)
MORPHINE = tuple(
    _morphine(conc, Fraction(basal), bolus)
    for conc in (10, 25)
    for basal, bolus in (
        (1, _BOLUSES[1]),
        (5, _BOLUSES[2]),
        (10, None),
        (10, _BOLUSES[3]),
        (14, _BOLUSES[2]),  # worst case exactly 20 mg/day
        (19, None),
        (20, None),  # the hard maximum itself
        (Fraction(1, 2), None),
    )
)
"""Morphine programs at 10 and 25 mg/mL, up to the 20 mg/day hard maximum (worst cases above it
are rejected at entry)."""
HYDROMORPHONE = tuple(
    Program("hydromorphone", "pain", 2 * MG, Basal.continuous(dose), None, None)
    for dose in (100_000, 2 * MG, 10 * MG)
)
"""Compounded hydromorphone 2 mg/mL (every soft limit overridden), up to its 10 mg/day maximum."""

waits = st.sampled_from(
    [
        0,
        1,
        59,
        60,
        599,
        600,
        1800,
        3599,
        3600,
        3601,
        7200,
        6 * HOUR_S,
        23 * HOUR_S,
        DAY_S,
        DAY_S + 1,
        2 * DAY_S,
    ]
)
_wait = st.tuples(st.just("wait"), waits)
_refill = st.tuples(
    st.just("refill"),
    st.sampled_from([10 * MG, 25 * MG]),
    st.sampled_from(["new", "new", "none"]),
    st.sampled_from(["complete", "complete", "complete", "abort", "abort-withdrawn"]),
    st.booleans(),  # bridge-skip override
    st.integers(0, len(MORPHINE) - 1),
)
_back_to_back = st.tuples(
    st.just("back_to_back"),
    st.sampled_from([10 * MG, 25 * MG]),
    st.sampled_from([10 * MG, 25 * MG]),
    st.sampled_from(["new", "none"]),
    st.sampled_from([0, 1, 60, 3600]),
    st.integers(0, len(MORPHINE) - 1),
)
_drug = st.tuples(st.just("drug"), st.integers(0, len(HYDROMORPHONE) - 1), st.booleans())
_program = st.tuples(st.just("program"), st.integers(0, len(MORPHINE) + len(HYDROMORPHONE) - 1))
_patient = st.tuples(st.just("patient_bolus"), st.sampled_from([True, True, False]))
_clinician = st.tuples(st.just("clinician_bolus"), st.sampled_from([60, 600, 3600]))
_greedy = st.tuples(st.just("greedy"), st.sampled_from([2, 8, 24]), st.sampled_from([60, 600]))
_other = st.sampled_from([("suspend",), ("resume",), ("clear",)])
actions = st.one_of(
    _wait,
    _wait,
    _wait,
    _refill,
    _refill,
    _back_to_back,
    _back_to_back,
    _drug,
    _program,
    _patient,
    _patient,
    _clinician,
    _greedy,
    _greedy,
    _other,
)
"""Weighted towards what attacks a tip limit: refills, back-to-back refills and boluses."""
histories = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(DRIVE_MODES),
        "segment": st.sampled_from([3600, 3600, DAY_S]),
        "initial": st.integers(0, len(MORPHINE) - 1),
        "actions": st.lists(actions, min_size=2, max_size=16),
        "delivers": st.sampled_from(DRIVE_SHARES),
    }
)


class _Run:
    """Applies drawn actions to a bench; a rejected command is part of the history, not an
    error (it must just leave the device unchanged, which the bench relies on)."""

    def __init__(self, mode: Mode, segment: int, initial: Program) -> None:
        self.b = Bench(LIB, mode=mode, max_segment_s=segment)
        self.start = implanted_and_dosing(self.b, initial)
        self.last_patient_bolus: int | None = None

    def _try(self, f: Any, *args: Any, **kw: Any) -> Any:
        try:
            return f(*args, **kw)
        except DosingError as exc:
            note(f"t={self.b.now}: rejected {exc}")
            return None

    def _unstick(self) -> None:
        """A refill the core refused to complete is completed with a plain 10 mg/mL morphine
        program, so that the history goes on."""
        b = self.b
        if b.device.phase is Phase.REFILL and b.device.refill is not None:
            if b.device.refill.withdrawn_nl is None:
                b.submit(c.RecordWithdrawal(C, withdrawn_nl=int(b.reservoir_nl)))
            done = c.CompleteRefill(
                C,
                20_000_000,
                10 * MG,
                drug="morphine",
                program=MORPHINE[2],
                finding_reason="checked" if b.device.refill.finding else "",
            )
            self._try(b.submit_overriding, done)

    def programs_for(self, drug: str, conc: int) -> list[Program]:
        return [
            p
            for p in (*MORPHINE, *HYDROMORPHONE)
            if (p.drug, p.concentration_ng_per_ml) == (drug, conc)
        ]

    def apply(self, action: tuple[Any, ...]) -> None:
        b = self.b
        kind = action[0]
        if kind == "wait":
            if b.now - self.start < MAX_HISTORY_S:
                b.advance(b.now + action[1])
        elif kind == "refill":
            _, conc, with_program, how, skip, index = action
            drug = b.drug or "morphine"
            same = drug == "morphine" and b.reservoir == _fluid("morphine", conc)
            program = None
            if with_program == "new" or not same:
                program = dataclasses.replace(MORPHINE[index], concentration_ng_per_ml=conc)
            overrides = (
                (c.Override("morphine.pain.bridge_skip", "catheter flushed"),) if skip else ()
            )
            if how == "complete":
                self._try(
                    refill, b, b.now, conc, program=program, drug="morphine", overrides=overrides
                )
                self._unstick()
            else:
                if self._try(b.submit, c.BeginRefill(C)) is None:
                    return
                if how == "abort-withdrawn":
                    b.submit(c.RecordWithdrawal(C, withdrawn_nl=int(b.reservoir_nl)))
                b.submit(c.AbortRefill(C, reason="patient unwell"))
        elif kind == "back_to_back":
            _, first, second, with_program, gap, index = action
            self.apply(("refill", first, "new", "complete", False, index))
            b.advance(b.now + gap)
            self.apply(("refill", second, with_program, "complete", False, index))
        elif kind == "drug":
            _, index, back = action
            if back:
                program = MORPHINE[index % len(MORPHINE)]
                target = ("morphine", program.concentration_ng_per_ml)
            else:
                program = HYDROMORPHONE[index]
                target = ("hydromorphone", program.concentration_ng_per_ml)
            self._try(refill, b, b.now, target[1], program=program, drug=target[0])
            self._unstick()
        elif kind == "program":
            program = (*MORPHINE, *HYDROMORPHONE)[action[1]]
            drug = b.drug or "morphine"
            candidates = self.programs_for(drug, _conc(b))
            if program not in candidates and candidates:
                program = candidates[action[1] % len(candidates)]
            self._try(b.submit_overriding, c.SetProgram(C, program))
        elif kind == "patient_bolus":
            prog = b.device.program
            if (
                action[1]
                and self.last_patient_bolus is not None
                and prog is not None
                and (prog.patient_bolus is not None)
            ):
                boundary = self.last_patient_bolus + prog.patient_bolus.lockout_s
                if boundary >= b.now:
                    b.advance(boundary)
            out = self._try(b.submit, c.RequestBolus(P))
            if out is not None and any(
                isinstance(e, BolusDecision) and e.granted for e in out.effects
            ):
                self.last_patient_bolus = b.now
        elif kind == "clinician_bolus":
            drug = b.drug or "morphine"
            dose = max_clinician_bolus_ng(b, action[1], b.hard_max_ng(drug))
            if dose:
                b.submit(c.ClinicianBolus(C, dose, action[1]))
        elif kind == "greedy":
            _, hours, duration = action
            drug = b.drug or "morphine"
            greedy_clinician_boluses(
                b, b.now, b.now + hours * HOUR_S, 1800, duration, b.hard_max_ng(drug)
            )
        elif kind == "suspend":
            self._try(b.submit, c.Suspend(C, reason="review"))
        elif kind == "clear":
            for alarm in b.device.alarms:
                self._try(b.submit, c.ClearAlarm(C, alarm.kind, reason="resolved"))
        elif kind == "resume" and b.device.phase is Phase.SUSPENDED:
            self._try(b.submit, c.Resume(C, reason="review done"))


def _fluid(drug: str, conc: int) -> Any:
    from itdose_physics import Fluid

    return Fluid.of(drug, conc)


def _conc(b: Bench) -> int:
    ((_, k),) = b.reservoir.ng_per_nl
    return int(k * 1_000_000)


SETTINGS = settings(
    max_examples=35 if _THOROUGH else 25,  # about 1.7 s a history: ~1 min per property
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def simulate(history: dict[str, Any], *, runaway_fails: bool) -> Bench:
    """Run ``history`` and two more days. A runaway (the core issuing ever smaller orders
    without end) fails the example when ``runaway_fails``; otherwise the history is judged as
    far as it got (the full-basal property and a directed test judge the stall itself)."""
    run = _Run(history["mode"], history["segment"], MORPHINE[history["initial"]])
    run.b.max_steps = 5_000  # a normal history takes under 2 500 commands
    run.b.delivers = history["delivers"]  # from here on: a drive may under-deliver, truthfully
    try:
        for action in history["actions"]:
            run.apply(action)
        run.b.advance(run.b.now + 2 * DAY_S)
    except Runaway as exc:
        note(f"runaway: {exc}")
        if runaway_fails:
            raise
    b = run.b
    assert not b.anomalies, b.anomalies
    return b
