"""Dose at the catheter tip: every limit holds on what reaches the patient, across refills, and a
program accepted at entry is delivered in full (docs/dosing-rules.md "What reaches the patient",
"Limits", "Patient-activated bolus", "MRI").

Judged by the independent physical reference of ``itdose_physics`` (a first-in-first-out fluid
path, a drive that keeps each order's pace as SAFETY.md "What the drive is trusted for" states:
evenly, at the pace, slower, or pausing then at the pace; exact fractions), never by the core's
own accounting. A drive ahead of its pace breaks that trust: no core could keep every window
within the maximum with it, so it is tested only for being caught. The attack sequences are the
ones of the issue that introduced the tip model: on the core that counted drug at the reservoir
concentration they let 22-23 mg of morphine leave the tip in 24 h against the 20 mg/day hard
maximum.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from itdose_physics import (
    AHEAD,
    DAY_S,
    FULL_MODES,
    HOUR_S,
    MG,
    MODES,
    Bench,
    Cumulative,
    Fluid,
    FluidPath,
    Mode,
    Push,
    Segment,
    greedy_clinician_boluses,
    implanted_and_dosing,
    max_clinician_bolus_ng,
    refill,
    sweep,
    tip_history,
    window_extremes,
)

from itdose.core import DosingError, Library, Phase, Priority, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, priority_of
from itdose.core.effects import Annunciate, BolusDecision, DeliveryOrder, StopDelivery
from itdose.core.flight import is_lag, ledger_of
from itdose.core.ledger import Ledger
from itdose.core.program import Basal, PatientBolusProgram, Program

C = Role.CLINICIAN
P = Role.PATIENT

MORPHINE_25 = Program(
    "morphine", "pain", 25 * MG, Basal.continuous(10 * MG), None, "opioid-tolerant"
)
"""Infumorph 25 mg/mL at 10 mg/day (0.4 mL/day)."""
MORPHINE_10 = dataclasses.replace(MORPHINE_25, concentration_ng_per_ml=10 * MG)
"""Infumorph 10 mg/mL at 10 mg/day (1 mL/day)."""
DEAD_NL = Fraction(234_000)
"""Prometra II (tubing 0) with the Prometra catheter trimmed 20 cm: 90 cm x 0.0026 mL/cm."""
BRIDGE_SKIP = c.Override("morphine.pain.bridge_skip", "catheter flushed")


def _morphine_max_ng(library: Library) -> int:
    value = library.drug("morphine", "pain").max_daily.value
    assert value == 20 * MG
    return value


# --- the reference itself ------------------------------------------------------------------------


def test_reference_shares_no_code_with_the_core_accounting():
    """The reference imports only the core's public API (step, commands, effects, errors, state
    and library data types), never its accounting (ledger, governor, dosing, path, tip...)."""
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parent.parent / "itdose_physics.py"
    modules: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            if node.module == "itdose.core":
                names.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
    core = {m for m in modules if m.startswith("itdose")}
    assert core <= {
        "itdose.core",
        "itdose.core.commands",
        "itdose.core.effects",
        "itdose.core.library",
    }
    assert names <= {
        "Device",
        "DosingError",
        "LimitViolation",
        "Outcome",
        "Phase",
        "Role",
        "step",
        "commands",
    }


def test_reference_worked_bridge_example():
    """docs/dosing-rules.md worked example: 0.234 mL of 10 mg/mL pushed at 0.1 mL/day by
    25 mg/mL takes 2.34 days and delivers 2.34 mg, then 1.0 mg/day; the reference reproduces it
    exactly."""
    path = FluidPath(DEAD_NL)
    old = path.push(Segment(DEAD_NL, Fluid.of("morphine", 10 * MG).amounts(DEAD_NL)))
    assert old == [Segment(DEAD_NL, {})]  # saline out, the path holds 10 mg/mL
    pushes = [
        Push(Fraction(0), Fraction(DEAD_NL), DEAD_NL, Fluid.of("morphine", 10 * MG)),  # prime
        Push(
            Fraction(DEAD_NL),
            Fraction(DEAD_NL) + 10 * DAY_S,
            Fraction(400_000),
            Fluid.of("morphine", 25 * MG),
        ),  # 0.04 mL/day for 10 days
    ]
    tip = tip_history(DEAD_NL, pushes)
    cum = Cumulative(tip, "morphine")
    start = Fraction(DEAD_NL)
    # 0.04 mL/day x 25 mg/mL = 1 mg/day once the 25 mg/mL arrives, 0.4 mg/day before
    assert cum.at(start) == 0
    ex = window_extremes(tip, "morphine", min_from=start + 7 * DAY_S, min_to=start + 10 * DAY_S)
    assert ex.max_ng == MG and ex.min_ng == MG
    # the 10 mg/mL slug (2.34 mg) takes 0.234 / 0.04 = 5.85 days to leave
    assert cum.at(start + Fraction(585, 100) * DAY_S) == Fraction(2_340_000)


def test_reference_conserves_volume_and_drug():
    """Drug pushed in = drug out of the tip + drug still in the path (exact)."""
    fluid_a, fluid_b = Fluid.of("morphine", 25 * MG), Fluid.of("baclofen", 2 * MG)
    pushes = [
        Push(Fraction(0), Fraction(100), Fraction(150_000), fluid_a),
        Push(Fraction(50), Fraction(50), Fraction(30_000), fluid_b),
        Push(Fraction(70), Fraction(400), Fraction(200_001), fluid_b),
        Push(Fraction(90), Fraction(95), Fraction(7), fluid_a),
    ]
    tip, path = sweep(DEAD_NL, pushes)
    assert sum(seg.volume_nl for seg in path.segments) == DEAD_NL
    for drug in ("morphine", "baclofen"):
        pushed = sum(
            (p.fluid.amounts(p.volume_nl).get(drug, Fraction(0)) for p in pushes), Fraction(0)
        )
        left = sum((x.ng.get(drug, Fraction(0)) for x in tip), Fraction(0))
        held = sum((seg.ng.get(drug, Fraction(0)) for seg in path.segments), Fraction(0))
        assert left > 0
        assert left + held == pushed
    # the saline that filled the path leaves first: the first 234 000 nL out carry no drug
    saline = [x for x in tip if not any(x.ng.values())]
    assert sum(x.volume_nl for x in saline) == DEAD_NL
    assert min(x.t0 for x in tip if any(x.ng.values())) >= max(x.t1 for x in saline)


def test_reference_agrees_with_the_core_in_the_plain_case(library: Library):
    """One drug, no change of concentration: what the core counts equals what left the tip
    (within rounding), so the reference and the harness are calibrated."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    b.advance(t0 + 3 * DAY_S)
    tip = b.tip()
    left = sum((p.ng.get("morphine", Fraction(0)) for p in tip), Fraction(0))
    trial = Fraction(300_000)
    reports = sum(1 for _, cmd, _ in b.log if isinstance(cmd, c.DriveReport))
    assert 0 <= b.device.delivered_ng - left <= reports
    assert left > trial  # drug reached the patient
    ex = b.extremes(
        "morphine", min_from=Fraction(t0 + DAY_S + HOUR_S), min_to=Fraction(t0 + 3 * DAY_S)
    )
    assert ex.max_ng == 10 * MG
    assert ex.min_ng is not None and ex.min_ng >= 10 * MG - 25


def test_reference_window_search_is_exhaustive(library: Library):
    """The extreme windows found equal an exact evaluation at every candidate instant (both
    sides), on a history with refills, boluses and every pace-keeping drive behaviour."""
    for mode in MODES:
        b = Bench(library, mode=mode)
        t0 = implanted_and_dosing(b, MORPHINE_25)
        refill(b, t0 + DAY_S + 1800, 10 * MG, program=MORPHINE_10)
        refill(b, t0 + DAY_S + 1860, 10 * MG)
        greedy_clinician_boluses(b, t0 + DAY_S + 1900, t0 + DAY_S + 4 * HOUR_S, 3600, 600, 5 * MG)
        b.advance(t0 + 3 * DAY_S)
        tip = b.tip()
        cum = Cumulative(tip, "morphine")
        bps = cum.breakpoints()
        every = [
            cum.window(t, left=left) for t in bps | {x + DAY_S for x in bps} for left in (0, 1)
        ]
        lo, hi = Fraction(t0 + DAY_S), Fraction(t0 + 3 * DAY_S)
        inner = [
            cum.window(t, left=left)
            for t in bps | {x + DAY_S for x in bps} | {hi}
            if lo < t <= hi
            for left in (0, 1)
        ]
        ex = window_extremes(tip, "morphine", min_from=lo, min_to=hi)
        assert ex.max_ng == max(every)
        assert ex.min_ng == min([cum.window(lo), *inner])


# --- attacks on the hard daily maximum -----------------------------------------------------------


def _attack(library: Library, case: str, mode: Mode) -> Bench:
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    t1 = t0 + 3 * DAY_S + 1800  # steady state, a basal order half done
    if case == "double-refill-same":
        refill(b, t1, 10 * MG, program=MORPHINE_10)
        refill(b, t1 + 60, 10 * MG)
    elif case == "double-refill-back":
        refill(b, t1, 10 * MG, program=MORPHINE_10)
        refill(b, t1 + 60, 25 * MG, program=MORPHINE_25)
    else:
        raise AssertionError(case)
    greedy_clinician_boluses(b, t1 + 120, t1 + DAY_S, 600, 600, 20 * MG)
    b.advance(t1 + 2 * DAY_S)
    return b


@pytest.mark.parametrize("mode", FULL_MODES)
@pytest.mark.parametrize("case", ["double-refill-same", "double-refill-back"])
def test_double_refill_with_greedy_clinician_boluses_stays_under_the_hard_maximum(
    case: str, mode: Mode, library: Library
):
    """Morphine 25 mg/mL at 10 mg/day, Prometra II, catheter trimmed 20 cm; refill to 10 mg/mL at
    10 mg/day, then at once a second refill (the same 10 mg/mL without a program, or back to
    25 mg/mL with one); clinician boluses every 10 min as large as the core accepts. No rolling
    24 h window of morphine leaving the tip exceeds 20 mg (REQ-GOV-002, REQ-BRIDGE-002). The
    drives that move every order whole (even, at the pace) put the most at the tip; the slower
    ones take minutes per attack here (the core grants ever smaller boluses into the room they
    leave) and are judged by the property tests instead."""
    b = _attack(library, case, mode)
    ex = b.extremes("morphine")
    assert not b.anomalies
    assert ex.max_ng <= _morphine_max_ng(library), (
        f"{float(ex.max_ng) / MG:.4f} mg left the tip in the 24 h ending at t={float(ex.max_at_s)}"
    )
    # the attack had teeth: the core granted boluses up to (nearly) the cap
    assert ex.max_ng >= 19 * MG, f"only {float(ex.max_ng) / MG:.4f} mg: the boluses were refused"


def _bridge_skip_run(library: Library, skip: bool) -> tuple[Bench, DosingError | None]:
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    t1 = t0 + 3 * DAY_S + 1800
    try:
        refill(b, t1, 10 * MG, program=MORPHINE_10, overrides=(BRIDGE_SKIP,) if skip else ())
    except DosingError as exc:
        return b, exc
    greedy_clinician_boluses(b, t1 + 120, t1 + DAY_S, 600, 600, 20 * MG)
    b.advance(t1 + 2 * DAY_S)
    return b, None


def test_bridge_skip_override_cannot_defeat_the_hard_maximum(library: Library):
    """A soft override (``bridge_skip``) never lets tip amounts exceed a hard limit: it is either
    refused, or accepted with no effect on what the drive is ordered (REQ-BRIDGE-003,
    REQ-GOV-002)."""
    b, refused = _bridge_skip_run(library, skip=True)
    if refused is not None:
        return  # the override no longer exists: refusing it is the other acceptable answer
    ex = b.extremes("morphine")
    assert ex.max_ng <= _morphine_max_ng(library), (
        f"{float(ex.max_ng) / MG:.4f} mg left the tip in the 24 h ending at t={float(ex.max_at_s)}"
    )
    plain, err = _bridge_skip_run(library, skip=False)
    assert err is None

    def orders(bench: Bench) -> list[tuple[int, int, int]]:
        return [
            (t, e.volume_nl, e.duration_s)
            for t, _, effects in bench.log
            for e in effects
            if isinstance(e, DeliveryOrder)
        ]

    assert orders(b) == orders(plain)


MORPHINE_19 = dataclasses.replace(MORPHINE_25, basal=Basal.continuous(19 * MG))
HYDROMORPHONE_10 = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
"""Compounded hydromorphone 2 mg/mL at its 10 mg/day hard maximum (soft limits overridden)."""


@pytest.mark.parametrize("mode", MODES)
def test_drug_change_and_back_keeps_each_drug_under_its_hard_maximum(mode: Mode, library: Library):
    """Morphine 25 mg/mL at 19 mg/day; refill with hydromorphone 2 mg/mL at 10 mg/day, then at
    once back to morphine 25 mg/mL at 19 mg/day. Each drug's window counts that drug as it
    leaves the tip: the 0.234 mL of morphine in the path (5.85 mg) may not be flushed at the
    hydromorphone volume rate on top of a full morphine day (REQ-GOV-002, REQ-BRIDGE-002)."""
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, MORPHINE_19)
    t1 = t0 + 3 * DAY_S + 1800
    refill(b, t1, 2 * MG, program=HYDROMORPHONE_10, drug="hydromorphone")
    refill(b, t1 + 60, 25 * MG, program=MORPHINE_19, drug="morphine")
    b.advance(t1 + 2 * DAY_S)
    assert not b.anomalies
    tip = b.tip()
    for drug, cap in (("morphine", 20 * MG), ("hydromorphone", 10 * MG)):
        assert library.drug(drug, "pain").max_daily.value == cap
        ex = window_extremes(tip, drug)
        assert ex.max_ng <= cap, (
            f"{float(ex.max_ng) / MG:.4f} mg of {drug} left the tip in the 24 h ending at "
            f"t={float(ex.max_at_s)}"
        )


ZICONOTIDE_2_4 = Program("ziconotide", "pain", 25_000, Basal.continuous(2_400), None, None)
"""Ziconotide 25 mcg/mL at 2.4 mcg/day (its starting dose)."""


def test_two_drug_changes_in_a_row_count_each_drug_as_it_leaves_the_tip(library: Library):
    """Morphine 25 mg/mL at 19 mg/day; refill with hydromorphone 2 mg/mL, and ten minutes later
    with ziconotide 25 mcg/mL: the path holds morphine, then a little hydromorphone, then
    ziconotide. Each drug's own window counts exactly what of it left the tip (the physical
    reference, rounded up to a whole ng), and no drug exceeds its hard maximum
    (REQ-GOV-002, REQ-TIP-001, REQ-BRIDGE-002)."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_19)
    t1 = t0 + DAY_S
    refill(b, t1, 2 * MG, program=HYDROMORPHONE_10, drug="hydromorphone")
    refill(b, t1 + 600, 25_000, program=ZICONOTIDE_2_4, drug="ziconotide")
    path = b.device.path
    assert path is not None
    assert [s.drug for s in path.segments] == ["morphine", "hydromorphone"]
    t = t1 + 12 * HOUR_S  # both old drugs have left the tip (0.234 mL at 0.76 mL/day)
    b.advance(t)
    d = b.device
    assert not b.anomalies
    tip = b.tip()

    def window_ng(drug: str) -> int:
        ledger = ledger_of(d, drug)
        # the drug that left, without the lag term of its last nanolitre (checked below)
        drug_only = Ledger(tuple(p for p in ledger.pieces if not is_lag(p)))
        return drug_only.window_total_ng(t)

    for drug in ("morphine", "hydromorphone"):
        physical = Cumulative(tip, drug).window(Fraction(t))
        assert physical > 0
        assert window_ng(drug) == math.ceil(physical), drug
        # REQ-TIP-005: each drug's last nanolitre counted once more when the next fluid held none
        lag = [p for p in ledger_of(d, drug).pieces if is_lag(p)]
        conc = {"morphine": MORPHINE_19, "hydromorphone": HYDROMORPHONE_10}[drug]
        assert [p.amount_fg for p in lag] == [conc.concentration_ng_per_ml], drug
    b.advance(t1 + 2 * DAY_S)
    tip = b.tip()
    for drug in ("morphine", "hydromorphone", "ziconotide"):
        assert window_extremes(tip, drug).max_ng <= library.drug(drug, "pain").max_daily.value


# --- accepted programs are delivered in full -----------------------------------------------------

BACLOFEN_MAX = Program(
    "baclofen", "spasticity-spinal", 2 * MG, Basal.continuous(2 * MG), None, None
)
"""Baclofen 2000 mcg/mL at 2000 mcg/day: exactly its hard daily maximum (1 mL/day)."""


@pytest.mark.parametrize("mode", FULL_MODES)
def test_baclofen_at_its_hard_maximum_is_delivered_in_full(mode: Mode, library: Library):
    """A program accepted at entry delivers its whole basal in every 24 h window: baclofen at
    its 2000 mcg/day hard maximum delivers 2000 mcg in every window after the first day (minus
    at most one rounding unit, 1 nL = 2 ng; a drive at the pace rounded up to a whole nL/h moves
    each order a little early, which shifts a window's ends by under 1 nL each: 2 units) and
    never more, with no alarm (REQ-GOV-008, REQ-GOV-002)."""
    assert library.drug("baclofen", "spasticity-spinal").max_daily.value == 2 * MG
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, BACLOFEN_MAX)
    b.advance(t0 + 4 * DAY_S)
    ex = b.extremes("baclofen", min_from=Fraction(t0 + DAY_S), min_to=Fraction(t0 + 4 * DAY_S))
    assert ex.max_ng <= 2 * MG
    assert ex.min_ng is not None
    assert ex.min_ng >= 2 * MG - (2 if mode == "uniform" else 4), (
        f"only {float(ex.min_ng)} ng in the 24 h ending at t={float(ex.min_at_s)}"
    )
    assert b.device.phase is Phase.ACTIVE
    assert not b.device.alarms
    assert not b.anomalies


def _capped(library: Library, cap_ng: int) -> Library:
    """TEST DATA ONLY: the shipped library with morphine's hard daily maximum set to ``cap_ng``."""
    entries = tuple(
        dataclasses.replace(e, max_daily=dataclasses.replace(e.max_daily, value=cap_ng))
        if (e.drug, e.indication) == ("morphine", "pain")
        else e
        for e in library.entries
    )
    return dataclasses.replace(library, entries=entries)


CAP3 = 3 * MG
MORPHINE_CAP3 = Program(
    "morphine",
    "pain",
    10 * MG,
    Basal.continuous(2_400_000),
    PatientBolusProgram(dose_ng=200_000, duration_s=600, lockout_s=HOUR_S, max_per_24h=3),
    "opioid-tolerant",
)
"""2.4 mg/day basal + 3 x 0.2 mg boluses: worst case exactly 3.0 mg/day."""


@pytest.mark.parametrize("mode", MODES)
def test_bolus_bringing_the_window_exactly_to_the_cap_is_granted(mode: Mode, library: Library):
    """A 3.0 mg/day cap, 2.4 mg/day basal and 0.2 mg boluses (lockout 1 h, 3 per 24 h): in
    steady state the third bolus brings the window exactly to 3.0 mg and is granted; the tip
    never exceeds 3.0 mg (REQ-GOV-009, REQ-GOV-002). A drive that moves less than ordered
    (``slow``, ``pause``) leaves the window below the cap and the basal below its dose. Each
    bolus cancels the basal order in flight: the drive stops it on a whole nanolitre, so up to
    1 nL (10 ng) of it is never moved (nor caught up) per bolus: the window reaches the cap
    within 3 such nL and the 1 nL rounding unit, 40 ng."""
    lib3 = _capped(library, CAP3)
    b = Bench(lib3, mode=mode)
    t0 = implanted_and_dosing(b, MORPHINE_CAP3)
    t = t0 + 3 * DAY_S + 1800
    decisions = []
    for k in range(4):
        out = b.submit(c.RequestBolus(P), t + k * HOUR_S)  # exactly at the lockout's end
        (d,) = [e for e in out.effects if isinstance(e, BolusDecision)]
        decisions.append(d)
    assert [d.granted for d in decisions[:3]] == [True, True, True], decisions
    assert not decisions[3].granted  # the fourth: count per 24 h
    b.advance(t + 2 * DAY_S)
    ex = b.extremes("morphine", min_from=Fraction(t0 + DAY_S), min_to=Fraction(t + 2 * DAY_S))
    assert ex.max_ng <= CAP3
    assert not b.anomalies
    if mode in FULL_MODES:
        assert ex.max_ng >= CAP3 - 40  # the window did reach the cap (see above)
        assert ex.min_ng is not None and ex.min_ng >= 2_400_000 - 20


# --- Prometra II emergency MRI -------------------------------------------------------------------


def _mri_run(library: Library, emergency: bool, after_refill: bool) -> tuple[Bench, int, int]:
    """Dosing 25 mg/mL (optionally refilled to 10 mg/mL just before: the path still holds
    25 mg/mL); an emergency MRI (or, as the control, a suspension) at the same instants; then
    the largest clinician bolus the core accepts. Returns the bench, that bolus, and the MRI
    instant."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    t = t0 + 2 * DAY_S + 1800
    if after_refill:
        refill(b, t, 10 * MG, program=MORPHINE_10)
    t_mri = t + 60
    if emergency:
        begin = c.BeginMri(C, emergency=True, reason="trauma: no time to empty the reservoir")  # type: ignore[call-arg]
        b.submit(begin, t_mri)
        b.submit(c.EndMri(C), t_mri + 1200)
        assert b.device.phase is not Phase.ACTIVE  # delivery held until the valve reset
        assert any(a.priority is Priority.MEDIUM for a in b.device.alarms)
        b.submit(c.ConfirmPostMri(C, "valve reset recorded"), t_mri + 1300)
    else:
        b.submit(c.Suspend(C, reason="control"), t_mri)
        b.advance(t_mri + 1300)
    if b.device.phase is Phase.SUSPENDED:
        b.submit(c.Resume(C, "valve reset"), t_mri + 1310)
    b.advance(t_mri + 1400)
    return b, max_clinician_bolus_ng(b, 600, 20 * MG), t_mri


@pytest.mark.parametrize("after_refill", [False, True])
def test_prometra_emergency_mri_counts_ten_microlitres_at_the_tip_concentration(
    after_refill: bool, library: Library
):
    """Prometra II emergency MRI with drug in the reservoir: 10 uL at the concentration leaving
    the tip (25 mg/mL = 0.25 mg, even when the reservoir was just refilled to 10 mg/mL) enters
    the 24 h window; no delivery until the valve reset (REQ-MRI-004, REQ-GOV-002)."""
    mri, room_mri, t_mri = _mri_run(library, emergency=True, after_refill=after_refill)
    _, room_ctrl, _ = _mri_run(library, emergency=False, after_refill=after_refill)
    held = [
        e
        for t, _, effects in mri.log
        if t_mri <= t < t_mri + 1300
        for e in effects
        if isinstance(e, DeliveryOrder)
    ]
    assert not held
    # The 0.25 mg is counted at the scan start; the basal held from the scan to the first push
    # after the valve reset (10 mg/day over the gap) is missing from the same windows, in both
    # runs, but only the scan's windows set the room: the room shrinks by 0.25 mg minus that
    # held basal (within the bisection's 1 ng and rounding; after the refill both bolus orders
    # cross the fall 25 -> 10 mg/mL and count R-TIP-5's one nanolitre of 25 mg/mL, which the
    # room pays in whole nanolitres of either fluid: 20 ng in one run, 30 in the other).
    before = max(p.t1 for p in mri.pushes if p.t0 < t_mri)
    starts = [p.t0 for p in mri.pushes if p.t0 >= t_mri and p.label != "mri"]
    after = min([*starts, *(Fraction(r.start) for r in mri.running.values())])
    held = Fraction(10 * MG) * (after - before) / DAY_S
    assert after - before >= 1300
    lost = room_ctrl - room_mri
    assert abs(lost - (250_000 - held)) <= 35, (room_ctrl, room_mri, float(held))
    # and the room left is safe: fill it, the tip stays under the cap
    greedy_clinician_boluses(mri, mri.now, mri.now + 6 * HOUR_S, 1800, 600, 20 * MG)
    mri.advance(mri.now + DAY_S)
    assert mri.extremes("morphine").max_ng <= _morphine_max_ng(library)
    assert not any(
        isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_DEVIATION
        for _, _, effects in mri.log
        for e in effects
    )


# --- docs/dosing-rules.md worked example: refilled again during the bridge ---------------------

MORPHINE_1_AT_10 = Program(
    "morphine", "pain", 10 * MG, Basal.continuous(MG), None, "opioid-tolerant"
)
MORPHINE_1_AT_25 = dataclasses.replace(MORPHINE_1_AT_10, concentration_ng_per_ml=25 * MG)


def test_worked_example_refilled_again_during_the_bridge(library: Library):
    """docs/dosing-rules.md: morphine 10 mg/mL at 1.0 mg/day refilled with 25 mg/mL at 1.0
    mg/day, then again with 25 mg/mL one day later. The path then holds 0.134 mL of 10 mg/mL
    followed by 0.1 mL of 25 mg/mL; the pump runs at 0.1 mL/day until the 25 mg/mL reaches the
    tip (2.34 days after the first refill), then at 0.04 mL/day; the tip delivers 1.0 mg/day
    throughout (REQ-BRIDGE-002, REQ-GOV-008). A uniform drive: with a drive that delivers a
    whole order at its start or at its end, the order a refill cancels is all or nothing, which
    shifts a window by up to one hourly order (judged by the properties instead)."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_1_AT_10)
    t1 = t0 + 2 * DAY_S
    refill(b, t1, 25 * MG, program=MORPHINE_1_AT_25)
    b.advance(t1 + DAY_S)
    refill(b, t1 + DAY_S, 25 * MG)
    # the path as the physics has it (exact), at the second refill
    _, path = sweep(DEAD_NL, b.pushes)
    contents = path.contents()
    assert sum(v for v, _ in contents) == DEAD_NL
    ten = sum((v for v, k in contents if k == {"morphine": Fraction(10)}), Fraction(0))
    assert abs(ten - 134_000) <= 4_200  # 0.134 mL of 10 mg/mL (within one hourly order)
    b.advance(t1 + 6 * DAY_S)
    # rates: 0.1 mL/day until the 25 mg/mL reaches the tip, 0.04 mL/day after
    switch = t1 + 202_176  # 2.34 days

    def pushed(a: int, z: int) -> Fraction:
        """Volume the drive pushed within [a, z)."""
        total = Fraction(0)
        for p in b.pushes:
            if p.t1 == p.t0:
                total += p.volume_nl if a <= p.t0 < z else 0
            elif p.t1 > a and p.t0 < z:
                total += p.volume_nl * (min(p.t1, z) - max(p.t0, a)) / (p.t1 - p.t0)
        return total

    assert abs(pushed(t1, switch) - 234_000) <= 4_200
    assert abs(pushed(switch + HOUR_S, switch + HOUR_S + DAY_S) - 40_000) <= 1_700
    ex = b.extremes("morphine", min_from=Fraction(t0 + DAY_S), min_to=Fraction(t1 + 6 * DAY_S))
    assert ex.min_ng is not None
    assert ex.min_ng >= MG - 25, f"only {float(ex.min_ng)} ng by t={float(ex.min_at_s or 0)}"
    assert ex.max_ng <= MG + 25, f"{float(ex.max_ng)} ng by t={float(ex.max_at_s)}"


# --- a drive that moves less than ordered (and says so) -----------------------------------------


@pytest.mark.parametrize(("before", "after"), [(25, 10), (10, 25)])
def test_under_delivering_drive_never_stalls_basal_silently(
    before: int, after: int, library: Library
):
    """A drive that moves only 90 % of every order and reports exactly what it moved, through a
    change of concentration: the core keeps delivering (at least 80 % of the basal in the last
    24 h) or raises an alarm; it never chases the fluid boundary with ever smaller orders that
    move nothing (silent under-infusion; REQ-GOV-004, REQ-BRIDGE-002)."""
    first = dataclasses.replace(
        MORPHINE_25, concentration_ng_per_ml=before * MG, basal=Basal.continuous(5 * MG)
    )
    second = dataclasses.replace(first, concentration_ng_per_ml=after * MG)
    b = Bench(library)
    t0 = implanted_and_dosing(b, first)
    b.delivers = Fraction(9, 10)
    t1 = t0 + 2 * DAY_S
    refill(b, t1, after * MG, program=second)
    start = len(b.log)
    b.advance(t1 + 3 * DAY_S)
    orders = [e for _, _, fx in b.log[start:] for e in fx if isinstance(e, DeliveryOrder)]
    assert len(orders) <= 3 * 24 * 4, f"{len(orders)} orders in 3 days"
    alarmed = any(
        isinstance(e, Annunciate) and priority_of(e.kind) >= Priority.MEDIUM
        for _, _, fx in b.log[start:]
        for e in fx
    )
    cum = Cumulative(b.tip(), "morphine")
    last_day = cum.window(Fraction(b.now))
    assert alarmed or last_day >= Fraction(4 * MG), f"{float(last_day)} ng in the last 24 h"


# --- a drive ahead of its pace --------------------------------------------------------------------


def test_a_drive_ahead_of_its_pace_is_caught_and_delivery_stops(library: Library):
    """A drive that moves a whole order at its start breaks the trust the limits rest on
    (SAFETY.md "What the drive is trusted for"). With the controller polling every 10 min, the
    first report shows the basal order ahead of its pace: a HIGH delivery deviation in that step,
    delivery stopped (``StopDelivery``, alarm phase) and nothing ordered after it (REQ-TIP-004,
    REQ-ALM-004, REQ-ALM-001)."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    b.advance(t0 + DAY_S)
    assert b.device.phase is Phase.ACTIVE and not b.device.alarms
    start = len(b.log)
    b.mode, b.poll_every_s = AHEAD, 600
    b.advance(t0 + DAY_S + 2 * HOUR_S)
    later = b.log[start:]
    caught = [
        (t, cmd)
        for t, cmd, fx in later
        if any(isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_DEVIATION for e in fx)
    ]
    assert caught, "the drive ahead of its pace was not caught"
    at, report = caught[0]
    assert isinstance(report, c.DriveReport) and not report.final
    assert at <= t0 + DAY_S + HOUR_S  # at the first poll of the first order ahead
    (stop_step,) = [fx for t, cmd, fx in later if cmd is report]
    assert any(isinstance(e, StopDelivery) for e in stop_step)
    assert b.device.phase is Phase.ALARM
    assert not [e for t, _, fx in later if t >= at for e in fx if isinstance(e, DeliveryOrder)]
    assert not b.running
