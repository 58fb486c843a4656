"""Boluses asked for through a drug change while the drive resets (its reports then only an upper
bound with a doubt, R-TIP-6) and emergency scans widen the path (R-MRI-5): the history, what was
asked and answered, and the independent judgement of what left the tip (the FIFO reference of
tests/itdose_physics.py on what the drive moved, tests/reset_bench.py). Shares no code with the
core's accounting.

Morphine 25 mg/mL at 10 mg/day with a 1 mg patient bolus (room under the 20 mg maximum), refilled
with hydromorphone 2 mg/mL at 5 mg/day (no patient bolus on a Prometra II: clinician boluses),
and, with ``back_s``, morphine again that long after (the patient's own bolus then), at 25 mg/mL or
(``back`` :data:`MORPHINE_10`) 10 mg/mL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from drug_change_kit import busiest
from itdose_physics import (
    DAY_S,
    MG,
    NL_PER_ML,
    Cumulative,
    Mode,
    implanted_and_dosing,
    refill,
    window_extremes,
)
from reset_bench import ResetBench

from itdose.core import DosingError, Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision, DeliveryOrder
from itdose.core.path import drugs_in
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import Phase

C, P = Role.CLINICIAN, Role.PATIENT
PTC = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=1800, max_per_24h=6)
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(10 * MG), PTC, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(5 * MG), None, None)
MORPHINE_10 = Program(
    "morphine", "pain", 10 * MG, Basal.continuous(10 * MG), PTC, "opioid-tolerant"
)
PROGRAMS = {"morphine": MORPHINE, "hydromorphone": HYDROMORPHONE}
CAPS = {"morphine": 20 * MG, "hydromorphone": 10 * MG}
ARRIVAL_S = 50_542
"""The hydromorphone reaches the tip this long after the refill (234,000 nL at 16,667 nL/h)."""
SHADOW_NL = 10_000
"""The most of another drug an order may push out unsized (R-MRI-5, REQ-TIP-006)."""


@dataclass
class Asked:
    """One bolus asked for: when, granted (the order id) or why not, and what the core's model
    held at that instant (the drugs of the path and of its shadows, orders in flight)."""

    at: int
    order_id: int | None
    why: str
    program_drug: str
    path_drugs: tuple[str, ...]
    shadow_drugs: tuple[str, ...]
    only_basal_in_flight: bool
    other_shadow_nl: int
    """The volume of the shadows of drugs other than the program's (overlaps counted each)."""


@dataclass
class History:
    bench: ResetBench
    refill_s: int
    scans: int = 0
    asked: list[Asked] = field(default_factory=list)


def history(
    library: Library,
    *,
    back_s: int | None = None,
    back: Program = MORPHINE,
    resets: tuple[int, ...] = (),
    scans: tuple[int, ...] = (),
    every_s: int = 300,
    start_s: int = ARRIVAL_S - 7200,
    stop_s: int = ARRIVAL_S + 6 * 3600,
    clinician: bool = False,
    dose_ng: int = MG // 2,
    mode: Mode = "uniform",
    sure: Fraction = Fraction(1),
    report_after_s: int | None = None,
    keep_going: bool = False,
    cut_report_after_s: int = 0,
    scan_nl: int = 10_000,
    scan_s: int = 1800,
    days: int = 2,
) -> History:
    """The history (instants in seconds after the first refill): the resets, the emergency
    scans (each ``scan_s`` long, the valve reset and resume two minutes after it, ``scan_nl`` of
    what is at the tip really pushed out; a scan due while the device is not active is left
    out), and a bolus asked for every ``every_s`` from ``start_s`` to ``stop_s``
    (the patient's where the program has one and not ``clinician``, else a clinician's of
    ``dose_ng`` over 300 s)."""
    b = ResetBench(
        library,
        mode=mode,
        sure_share=sure,
        report_after_s=report_after_s,
        keep_going=keep_going,
        cut_report_after_s=cut_report_after_s,
        mri_nl=Fraction(scan_nl),
    )
    t0 = implanted_and_dosing(b, MORPHINE)
    t1 = t0 + DAY_S
    refill(b, t1, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    if back_s is not None:
        refill(b, t1 + back_s, back.concentration_ng_per_ml, program=back, drug="morphine")
    b.resets = sorted(t1 + r for r in resets)
    h = History(b, t1)
    events = sorted(
        [(t1 + s, 0) for s in scans] + [(t1 + s, 1) for s in range(start_s, stop_s, every_s)]
    )
    for at, bolus in events:
        if at < b.now:
            continue
        b.advance(at)
        if b.device.phase is not Phase.ACTIVE:
            continue
        if not bolus:
            h.scans += 1
            b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"))
            b.submit(c.EndMri(C), b.now + scan_s)
            b.submit(c.ConfirmPostMri(C, "valve reset recorded"), b.now + 60)
            b.submit(c.Resume(C, "valve reset"), b.now + 60)
            continue
        d = b.device
        assert d.program is not None
        patient = not clinician and d.program.patient_bolus is not None
        seen = (
            d.program.drug,
            drugs_in(d.path.segments) if d.path else (),
            tuple(sorted({s.drug for s in d.shadows})),
            all(o.kind.value == "basal" and not o.cut_s for o in d.orders),
            sum(s.volume_nl for s in d.shadows if s.drug != d.program.drug),
        )
        out = b.attempt(c.RequestBolus(P) if patient else c.ClinicianBolus(C, dose_ng, 300))
        if isinstance(out, DosingError):
            h.asked.append(Asked(b.now, None, str(out), *seen))
            continue
        ids = [e.order_id for e in out.effects if isinstance(e, DeliveryOrder)]
        why = " ".join(
            r.value for e in out.effects if isinstance(e, BolusDecision) for r in e.reasons
        )
        h.asked.append(Asked(b.now, ids[0] if ids else None, why, *seen))
    b.advance(t1 + days * DAY_S)
    assert not b.anomalies, b.anomalies
    return h


def other_drug_nl_in_boluses(h: History) -> tuple[Fraction, float]:
    """The most of a drug other than its own that left the tip while one bolus order moved (nL
    of that drug's one concentration, by the FIFO reference), and when that bolus started."""
    tip = h.bench.tip()
    cums = {d: Cumulative(tip, d) for d in CAPS}
    worst, when = Fraction(0), 0.0
    for p in h.bench.pushes:
        if p.label not in ("patient_bolus", "clinician_bolus"):
            continue
        own = p.fluid.ng_per_nl[0][0]
        for drug, cum in cums.items():
            if drug == own:
                continue
            k = Fraction(PROGRAMS[drug].concentration_ng_per_ml, NL_PER_ML)
            nl = (cum.at(p.t1) - cum.at(p.t0, left=True)) / k
            if nl > worst:
                worst, when = nl, float(p.t0)
    return worst, when


def day_faults(h: History) -> list[str]:
    """Each drug's largest 24 h window over its hard maximum, less the scans' own labelled dump
    (10 uL of what is at the tip each, which the core counts but cannot hold back: at a window
    already at the maximum it lies above it, as
    tests/core/test_an_emergency_scan_with_a_shadow_of_the_old_drug.py measures)."""
    tip = h.bench.tip()
    out = []
    for drug, cap in CAPS.items():
        k = Fraction(PROGRAMS[drug].concentration_ng_per_ml, NL_PER_ML)
        dump = h.scans * h.bench.mri_nl * k
        most = window_extremes(tip, drug).max_ng
        if most > cap + dump:
            out.append(f"{drug}: {float(most)} ng in 24 h > {cap} (+{float(dump)} scanned)")
    return out


def old_drug_ten_min_over(h: History, drug: str = "morphine") -> Fraction:
    """The old drug's busiest 10 min from the first refill on above its program's 10 min and two
    nanolitres (negative: under)."""
    p = PROGRAMS[drug]
    cum = Cumulative(h.bench.tip(), drug)
    bound = Fraction(p.basal.steps[0].dose_ng_per_day * 600, DAY_S) + 2 * Fraction(
        p.concentration_ng_per_ml, NL_PER_ML
    )
    return busiest(cum, 600, h.refill_s) - bound


def denied_with_nothing_in_the_way(h: History) -> list[Asked]:
    """The boluses denied as not deliverable while the core's model held no other drug in the
    path or its shadows and only a basal order was in flight (nothing that could stop it)."""
    return [
        a
        for a in h.asked
        if a.order_id is None
        and "not_delivering" in a.why
        and set(a.path_drugs) <= {a.program_drug}
        and set(a.shadow_drugs) <= {a.program_drug}
        and a.only_basal_in_flight
    ]
