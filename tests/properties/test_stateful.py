"""The whole lifecycle and the dose engine under a hypothesis ``RuleBasedStateMachine``.

Rules issue every command (valid and invalid, from every role), advance the clock by seconds to
months, tick, report on the orders the core issued (complete, partial, late, duplicated, 1 nL
over, unknown ids), request patient and clinician boluses, refill with random withdrawn volumes
and concentrations (findings and their acknowledgement, the old fluid still in the catheter),
raise and clear alarms.

After every step the invariants are checked against references written here, independently of
the core's own accounting:

- what reaches the patient is what leaves the catheter tip: a reference catheter, first in,
  first out (a plain list of ``[volume, drug, concentration]`` pieces, tip first, holding the
  implant's dead volume of drug-free fluid), takes every reported volume in from the reservoir
  and pushes the same volume out of the tip (REQ-TIP-001); the core's fluid path, with equal
  neighbours merged, equals it after every step;
- no rolling 24 h window ``(t - 86400, t]`` of a drug leaving the tip (plus trial doses) holds
  more than that drug's hard daily maximum: a brute-force sum, in exact fractions of a
  nanogram, over a plain list of ``(report time, drug, ng)`` (REQ-GOV-002, REQ-GOV-004);
  drive over-delivery beyond an order's volume is the drive's fault, not a grant, and is left
  out of the window reference (it must raise the HIGH delivery-deviation alarm instead);
- the lifetime total the core counts equals the reference, each drug leaving the tip in a report
  rounded up (ids recorded once: a duplicated or unknown report adds nothing; REQ-DOSE-007);
- the reservoir is never negative;
- a ``DeliveryOrder`` is only issued into a delivering phase; leaving one emits ``StopDelivery``
  (REQ-LIFE-005);
- terminal phases are absorbing: every command is rejected there (REQ-LIFE-004);
- a rejected command leaves the state unchanged (``to_json`` before and after), an accepted one
  round-trips through JSON and never moves the clock back (REQ-CORE-002, REQ-CORE-003);
- a HIGH alarm active implies a non-delivering phase (REQ-ALM-001);
- a granted patient bolus respects the lockout from the previous granted start and the maximum
  per rolling 24 h (REQ-GOV-009), comes with exactly one patient-bolus order: the largest whole
  volume that, pushed after the volume in flight, brings only the program's drug out of the tip
  and at most the programmed dose (REQ-TIP-002); a denial orders nothing.

Profiles (tests/conftest.py): ``dev`` runs a few dozen examples; ``ci`` runs 200 per machine
(derandomized; ``print_blob`` prints a ``@reproduce_failure`` line to replay a failure);
``ci-random`` 2000 with fresh examples.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from fractions import Fraction
from typing import Any

from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from itdose_testkit import MORPHINE_PROGRAM, PATHS, C, P, S

from itdose.core import DosingError, Phase, Role, TrialOutcome, from_json, step, to_json
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.effects import BolusDecision, DeliveryOrder, Record, StopDelivery
from itdose.core.lifecycle import DELIVERING, TERMINAL
from itdose.core.program import Basal, PatientBolusProgram
from itdose.core.state import Device
from itdose.specs import load_library

LIB = load_library()
DAY = 86_400
NL_PER_ML = 1_000_000
SOFT_DAILY = c.Override("morphine.pain.soft_max_daily", "pain not controlled")
MAX_CONC = c.Override("morphine.pain.max_concentration", "Infumorph 25 mg/mL")

_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")

# --- strategies --------------------------------------------------------------------------------

right_clin = st.sampled_from([C] * 12 + [S, P])
right_serv = st.sampled_from([S] * 12 + [C, P])
right_pat = st.sampled_from([P] * 12 + [C, S])
reasons = st.sampled_from(["clinical review"] * 5 + ["", "   "])
alarm_kinds = st.sampled_from(list(AlarmKind))
low_alarms = [k for k in AlarmKind if priority_of(k) is not Priority.HIGH]
injected_alarms = st.sampled_from(low_alarms * 3 + list(AlarmKind))
"""Drive faults and self-test findings: LOW/MEDIUM more often, so that dosing goes on."""

durations = st.one_of(
    st.integers(0, 120),  # seconds
    st.integers(120, 3 * 3600),  # minutes to hours
    st.integers(120, 3 * 3600),
    st.integers(3 * 3600, 3 * DAY),  # hours to days
    st.integers(3 * DAY, 120 * DAY),  # days to months
)
"""Clock advances: seconds to months."""

_BOLUS = PatientBolusProgram(dose_ng=1_000_000, duration_s=600, lockout_s=1800, max_per_24h=6)
PROGRAMS_10 = (
    MORPHINE_PROGRAM,
    dataclasses.replace(MORPHINE_PROGRAM, patient_bolus=None),
    dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(12_000_000), patient_bolus=_BOLUS),
    dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(19_000_000)),
    dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(30_000_000)),  # over the max
    dataclasses.replace(
        MORPHINE_PROGRAM,
        basal=Basal.continuous(2_000_000),
        patient_bolus=PatientBolusProgram(
            dose_ng=3_000_000, duration_s=300, lockout_s=300, max_per_24h=5
        ),
    ),
)
"""Morphine 10 mg/mL programs: the testkit's, no bolus, high doses near the 20 mg/day maximum,
one above it (rejected), short lockouts."""

PROGRAMS = PROGRAMS_10 + tuple(
    dataclasses.replace(p, concentration_ng_per_ml=25_000_000) for p in PROGRAMS_10[:4]
)

concentrations = st.sampled_from([10_000_000] * 3 + [25_000_000] * 2 + [12_000_000, 0])
volumes = st.one_of(
    st.sampled_from([0, 1, 500_000, 20_000_000, 20_000_001]),
    st.integers(0, 20_000_000),
)
overrides = st.sampled_from([(), (SOFT_DAILY,), (SOFT_DAILY,), (MAX_CONC,), (SOFT_DAILY, MAX_CONC)])

_ANY: dict[str, st.SearchStrategy[c.Command]] = {
    "record_screening": st.builds(
        c.RecordScreening, right_clin, st.booleans(), st.integers(-1, 11)
    ),
    "start_trial": st.builds(
        c.StartTrial,
        right_clin,
        st.sampled_from(["morphine", "morphine", "baclofen", "ziconotide", "hydromorphone"]),
        st.sampled_from(["pain", "pain", "spasticity-spinal"]),
        st.sampled_from(["plan", "plan", ""]),
    ),
    "record_trial_dose": st.builds(
        c.RecordTrialDose,
        right_clin,
        st.sampled_from([50_000, 100_000, 300_000, 300_000, 0, 25_000_000]),
    ),
    "record_pain_score": st.builds(c.RecordPainScore, right_clin, st.integers(-1, 11)),
    "record_screening_response": st.builds(c.RecordScreeningResponse, right_clin, st.booleans()),
    "conclude_trial": st.builds(
        c.ConcludeTrial, right_clin, st.none() | st.sampled_from(list(TrialOutcome)), reasons
    ),
    "implant": st.builds(
        c.Implant,
        right_clin,
        st.sampled_from(["prometra-ii-20", "prometra-ii-20", "synchromed-ii-40", "prometra-20"]),
        st.sampled_from(["prometra-catheter", "prometra-catheter", "medtronic-indura-1p-8709sc"]),
        st.sampled_from([0, 200, 200, 1099, 1100]),
    ),
    "fill": st.builds(c.Fill, right_clin, volumes, concentrations),
    "prime": st.builds(c.Prime, right_clin, st.sampled_from([0, 600, 600, 86_401])),
    "set_program": st.builds(
        c.SetProgram, right_clin, st.sampled_from(PROGRAMS), overrides, st.booleans()
    ),
    "start_dosing": st.builds(c.StartDosing, right_clin),
    "tick": st.builds(c.Tick, right_serv, st.sampled_from([3600, 7200, 86_400, 3599, 86_401])),
    "drive_report": st.builds(
        c.DriveReport,
        right_serv,
        st.integers(-1, 12),
        st.sampled_from([-1, 0, 1000, 234_000, 10**9]),
        st.booleans(),
    ),
    "request_bolus": st.builds(c.RequestBolus, right_pat),
    "clinician_bolus": st.builds(
        c.ClinicianBolus,
        right_clin,
        st.sampled_from([0, 100_000, 5_000_000, 19_000_000, 50_000_000]),
        st.sampled_from([0, 600]),
    ),
    "silence_alarm": st.builds(
        c.SilenceAlarm, st.sampled_from([P, C, S]), alarm_kinds, st.sampled_from([60, 600, 601])
    ),
    "suspend": st.builds(c.Suspend, right_clin, reasons, st.booleans()),
    "resume": st.builds(c.Resume, right_clin, reasons),
    "raise_alarm": st.builds(c.RaiseAlarm, right_serv, alarm_kinds),
    "clear_alarm": st.builds(c.ClearAlarm, right_clin, alarm_kinds, reasons),
    "begin_refill": st.builds(c.BeginRefill, right_clin),
    "record_withdrawal": st.builds(c.RecordWithdrawal, right_clin, volumes),
    "complete_refill": st.builds(c.CompleteRefill, right_clin, volumes, concentrations),
    "abort_refill": st.builds(c.AbortRefill, right_clin, reasons),
    "empty_reservoir": st.builds(c.EmptyReservoir, right_clin, volumes),
    "begin_mri": st.builds(c.BeginMri, right_clin),
    "end_mri": st.builds(c.EndMri, right_clin),
    "confirm_post_mri": st.builds(c.ConfirmPostMri, right_clin, reasons),
    "explant": st.builds(c.Explant, right_clin, reasons, st.booleans()),
}
assert set(_ANY) == set(c.COMMANDS)


segments = st.sampled_from([3600, 3600, 6 * 3600, 86_400])
"""The longest basal order a tick asks for (REQ-DOSE-009)."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


Piece = list[Any]
"""``[volume_nl, drug, concentration_ng_per_ml]``; drug ``""`` at 0 is fluid without drug."""


def ref_push(catheter: list[Piece] | None, volume: int, drug: str, conc: int) -> list[Piece]:
    """Push ``volume`` of reservoir fluid into the reference catheter (tip first, changed in
    place) and return what leaves the tip, in order. Without a catheter (dead volume unknown)
    the fluid leaves as it is."""
    if volume <= 0:
        return []
    if catheter is None:
        return [[volume, drug, conc]]
    catheter.append([volume, drug, conc])
    out: list[Piece] = []
    need = volume
    while need:
        head = catheter[0]
        take = min(need, head[0])
        out.append([take, head[1], head[2]])
        head[0] -= take
        need -= take
        if head[0] == 0:
            catheter.pop(0)
    return out


def ref_merged(catheter: list[Piece]) -> list[tuple[int, str, int]]:
    """The reference catheter with equal neighbouring fluids joined."""
    merged: list[tuple[int, str, int]] = []
    for volume, drug, conc in catheter:
        if merged and merged[-1][1:] == (drug, conc):
            merged[-1] = (merged[-1][0] + volume, drug, conc)
        elif volume:
            merged.append((volume, drug, conc))
    return merged


def fg_of(pieces: list[Piece]) -> dict[str, int]:
    """Exact amount of each drug in ``pieces`` (nL x ng/mL = fg)."""
    amounts: dict[str, int] = {}
    for volume, drug, conc in pieces:
        if drug:
            amounts[drug] = amounts.get(drug, 0) + volume * conc
    return amounts


@dataclasses.dataclass
class _RefOrder:
    """What the test knows about an order from the ``DeliveryOrder`` effect that issued it."""

    kind: str
    volume_nl: int
    reported_nl: int = 0


_REF_FIELDS = (
    "device",
    "device_json",
    "now",
    "open",
    "closed",
    "reports",
    "counted_ng",
    "limits",
    "catheter",
    "granted_boluses",
    "window_dirty",
)
_STARTS: dict[Phase, dict[str, Any]] = {}
"""The machine's state after each phase's path, computed once (the paths are fixed)."""


class LifecycleMachine(RuleBasedStateMachine):
    """Every command, in every phase; invariants against independent references."""

    START_PHASES: tuple[Phase, ...] = tuple(Phase)

    def __init__(self) -> None:
        super().__init__()
        self.device = Device()
        self.now = 0
        self.open: dict[int, _RefOrder] = {}
        self.closed: set[int] = set()
        self.reports: list[tuple[int, str, Fraction]] = []
        """(report time, drug, exact ng) of drug leaving the tip, trial doses too."""
        self.counted_ng = 0
        """The same, rounded up per report and drug as the core counts it (full over-delivery
        included)."""
        self.limits: dict[str, int] = {}
        """The hard daily maximum of every drug counted."""
        self.catheter: list[Piece] | None = None
        """The reference catheter (pump tubing + catheter), tip first; None before implant."""
        self.granted_boluses: list[int] = []
        self.window_dirty = False
        self.device_json = to_json(self.device)

    # --- the one place commands are applied ------------------------------------------------

    def _do(self, command: c.Command, at: int | None = None) -> bool:
        at = self.now if at is None else at
        self.now = max(self.now, at)
        before = self.device
        try:
            out = step(before, command, at, LIB)
        except DosingError as exc:
            assert to_json(before) == self.device_json, "a rejected command changed the state"
            event(f"rejected {command.name}")
            note(f"t={at} {command!r} -> rejected: {exc}")
            return False
        after = out.device
        note(f"t={at} {command!r} -> {before.phase.value} -> {after.phase.value}")
        event(f"accepted {command.name}")
        assert before.phase not in TERMINAL, f"{command.name} accepted in a terminal phase"
        assert after.clock_s == at
        self._check_effects(before, after, command, out.effects, at)
        self._track(before, after, command, out.effects, at)
        self.device = after
        self.device_json = to_json(after)
        return True

    def _check_effects(
        self, before: Device, after: Device, command: c.Command, effects: tuple[Any, ...], at: int
    ) -> None:
        orders = [e for e in effects if isinstance(e, DeliveryOrder)]
        if orders:
            assert after.phase in DELIVERING, (command.name, after.phase)
            assert before.phase in DELIVERING or command.name == "prime", command.name
        if before.phase in DELIVERING and after.phase not in DELIVERING:
            assert any(isinstance(e, StopDelivery) for e in effects), command.name
        for e in effects:
            if isinstance(e, Record) and e.event == "basal_withheld":
                event(f"basal withheld: {e.detail.split('reasons: ')[-1]}")
        decisions = [e for e in effects if isinstance(e, BolusDecision)]
        if command.name != "request_bolus":
            assert not decisions
            return
        assert len(decisions) == 1
        decision = decisions[0]
        if not decision.granted:
            assert not orders, "a denied bolus ordered drug"
            for reason in decision.reasons:
                event(f"patient bolus denied: {reason.value}")
            return
        assert before.phase is Phase.ACTIVE
        assert before.program is not None and before.reservoir is not None
        pb = before.program.patient_bolus
        assert pb is not None
        if self.granted_boluses:
            since = at - self.granted_boluses[-1]
            assert since >= pb.lockout_s, f"bolus {since} s after the last (lockout {pb.lockout_s})"
        in_window = sum(1 for t in self.granted_boluses if t > at - DAY) + 1
        assert in_window <= pb.max_per_24h, f"{in_window} boluses in 24 h (max {pb.max_per_24h})"
        assert len(orders) == 1 and orders[0].kind == "patient_bolus"
        # the largest volume that, after the volume in flight, brings at most the dose of the
        # program's drug (and nothing else) out of the tip. Changed by design: the bolus order
        # carries the basal due during it (``basal_nl``, it replaces the basal order in flight),
        # so the bolus part held to the dose is the order's volume less that basal
        assert 0 <= orders[0].basal_nl < orders[0].volume_nl
        volume = orders[0].volume_nl - orders[0].basal_nl
        drug = before.program.drug
        fluid = (before.reservoir.drug, before.reservoir.concentration_ng_per_ml)
        flight = sum(max(0, o.volume_nl - o.reported_nl) for o in self.open.values())

        def ahead(n: int) -> list[Piece]:
            catheter = copy.deepcopy(self.catheter)
            ref_push(catheter, flight, *fluid)
            return ref_push(catheter, n, *fluid)

        dose_fg = pb.dose_ng * NL_PER_ML
        out = ahead(volume)
        assert volume > 0 and all(p[1] == drug for p in out), out
        assert fg_of(out)[drug] <= dose_fg
        more = ahead(volume + 1)
        assert any(p[1] != drug for p in more) or fg_of(more)[drug] > dose_fg
        self.granted_boluses.append(at)
        event("patient bolus granted")

    def _track(
        self, before: Device, after: Device, command: c.Command, effects: tuple[Any, ...], at: int
    ) -> None:
        for e in effects:
            if isinstance(e, DeliveryOrder):
                assert e.order_id not in self.open and e.order_id not in self.closed
                self.open[e.order_id] = _RefOrder(e.kind, e.volume_nl)
        if isinstance(command, c.Implant):
            assert after.implant is not None
            dead = after.implant.dead_volume_nl
            self.catheter = None if dead is None else [[dead, "", 0]]
        if isinstance(command, c.RecordTrialDose):
            assert after.drug is not None
            self._count(at, after.drug, Fraction(command.amount_ng), command.amount_ng, after)
        if isinstance(command, c.DriveReport):
            order = self.open.get(command.order_id)
            if order is None:
                return  # unknown or finished: nothing may be counted (checked by invariant)
            delta = max(0, command.delivered_nl - order.reported_nl)
            within = max(
                0,
                min(command.delivered_nl, order.volume_nl)
                - min(order.reported_nl, order.volume_nl),
            )
            if command.delivered_nl > order.volume_nl:
                assert after.phase is Phase.ALARM
                assert after.has_alarm(AlarmKind.DELIVERY_DEVIATION)
                event("over-delivery reported")
            order.reported_nl = max(order.reported_nl, command.delivered_nl)
            if delta:
                # the drive moved ``delta`` of the reservoir's fluid: the part within the order
                # first, then any over-delivery
                assert before.reservoir is not None
                fluid = (before.reservoir.drug, before.reservoir.concentration_ng_per_ml)
                granted = ref_push(self.catheter, within, *fluid)
                extra = ref_push(self.catheter, delta - within, *fluid)
                exact = fg_of(granted)
                for drug, fg in fg_of(granted + extra).items():
                    self._count(
                        at,
                        drug,
                        Fraction(exact.get(drug, 0), NL_PER_ML),
                        _ceil_div(fg, NL_PER_ML),
                        after,
                    )
            if command.final:
                del self.open[command.order_id]
                self.closed.add(command.order_id)

    def _count(self, at: int, drug: str, exact: Fraction, counted: int, after: Device) -> None:
        assert after.indication is not None
        self.limits[drug] = LIB.drug(drug, after.indication).max_daily.value
        self.counted_ng += counted
        if exact:
            self.reports.append((at, drug, exact))
            self.window_dirty = True

    # --- start ---------------------------------------------------------------------------------

    @initialize(data=st.data())
    def start(self, data: st.DataObject) -> None:
        phase = data.draw(st.sampled_from(self.START_PHASES), label="start phase")
        if phase not in _STARTS:
            for command, at in PATHS[phase]:
                assert self._do(command, at), command
            assert self.device.phase is phase
            _STARTS[phase] = copy.deepcopy(self._refs())
        else:
            for name, value in copy.deepcopy(_STARTS[phase]).items():
                setattr(self, name, value)
        note(f"start in {phase.value} at t={self.now} (via PATHS)")
        self.prepare(data)

    def _refs(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k in _REF_FIELDS}

    def prepare(self, data: st.DataObject) -> None:
        """Hook for subclasses: more set-up after the start phase is reached."""

    # --- rules ---------------------------------------------------------------------------------

    @rule(dt=durations)
    def advance_time(self, dt: int) -> None:
        self.now += dt

    @rule(role=right_serv, dt=st.sampled_from([0, 0, 1, 60, 600, 3600]), seg=segments)
    def tick(self, role: Role, dt: int, seg: int) -> None:
        self.now += dt
        self._do(c.Tick(role, max_segment_s=seg))

    @rule(role=right_serv, n=st.integers(1, 30), seg=segments)
    def run_a_while(self, role: Role, n: int, seg: int) -> None:
        """A well-behaved drive: tick, then report every open order complete at its end.
        ``seg`` is the longest basal order asked for (REQ-DOSE-009)."""
        for _ in range(n):
            self._do(c.Tick(role, max_segment_s=seg))
            for oid, order in sorted(self.open.items()):
                self._do(c.DriveReport(role, oid, order.volume_nl, final=True))
            self.now += 3600

    @rule(
        n=st.integers(1, 12),
        dose=st.integers(1, 8_000_000),
        gap=st.sampled_from([0, 300, 1800, 3600]),
        tail=st.integers(0, 600),
    )
    def push_towards_the_cap(self, n: int, dose: int, gap: int, tail: int) -> None:
        """Clinician and patient boluses, basal and complete reports in quick succession: the
        way to bring a 24 h window to the hard maximum."""
        for _ in range(n):
            self._do(c.ClinicianBolus(C, dose, 600))
            self._do(c.RequestBolus(P))
            self._do(c.Tick(S))
            self.now += tail
            for oid, order in sorted(self.open.items()):
                self._do(c.DriveReport(S, oid, order.volume_nl, final=True))
            self.now += gap

    @precondition(lambda self: self.open)
    @rule(
        data=st.data(),
        role=right_serv,
        mode=st.sampled_from(["complete", "complete", "partial", "zero", "over", "late"]),
        final=st.booleans(),
    )
    def report_open_order(self, data: st.DataObject, role: Role, mode: str, final: bool) -> None:
        oid = data.draw(st.sampled_from(sorted(self.open)), label="order")
        order = self.open[oid]
        if mode == "complete":
            delivered, final = order.volume_nl, True
        elif mode == "partial":
            delivered = data.draw(st.integers(0, order.volume_nl), label="delivered")
        elif mode == "zero":
            delivered = 0
        elif mode == "over":
            delivered = order.volume_nl + 1
        else:  # late: long after the order ended
            self.now += data.draw(st.integers(601, 2 * DAY), label="late by")
            delivered = order.volume_nl
        self._do(c.DriveReport(role, oid, delivered, final))

    @precondition(lambda self: self.closed)
    @rule(data=st.data(), final=st.booleans())
    def report_duplicate(self, data: st.DataObject, final: bool) -> None:
        oid = data.draw(st.sampled_from(sorted(self.closed)), label="finished order")
        delivered = data.draw(st.sampled_from([0, 1, 234_000, 10**6]), label="delivered")
        self._do(c.DriveReport(S, oid, delivered, final))

    @rule(oid=st.integers(0, 50), delivered=st.integers(0, 10**7), final=st.booleans())
    def report_unknown(self, oid: int, delivered: int, final: bool) -> None:
        if oid in self.open:
            return
        self._do(c.DriveReport(S, oid, delivered, final))

    @rule(role=right_pat, dt=st.sampled_from([0, 1, 299, 300, 1799, 1800, 3599, 3600, 7200]))
    def request_bolus(self, role: Role, dt: int) -> None:
        self.now += dt
        self._do(c.RequestBolus(role))

    @rule(
        role=right_clin,
        dose=st.one_of(st.integers(1, 20_000_000), st.sampled_from([0, 19_999_999, 20_000_001])),
        duration=st.sampled_from([1, 600, 3600]),
    )
    def clinician_bolus(self, role: Role, dose: int, duration: int) -> None:
        self._do(c.ClinicianBolus(role, dose, duration))

    @rule(
        role=right_clin,
        program=st.sampled_from(PROGRAMS),
        ov=overrides,
    )
    def set_program(self, role: Role, program: Any, ov: tuple[c.Override, ...]) -> None:
        self._do(c.SetProgram(role, program, ov))

    @rule(role=right_clin)
    def begin_refill(self, role: Role) -> None:
        self._do(c.BeginRefill(role))

    @rule(role=right_clin, data=st.data())
    def record_withdrawal(self, role: Role, data: st.DataObject) -> None:
        refill = self.device.refill
        expected = refill.expected_residual_nl if refill is not None else 0
        fill = self.device.last_fill_nl
        used = max(0, fill - expected)
        withdrawn = data.draw(
            st.one_of(
                st.just(expected),
                st.integers(max(0, expected - used // 5), expected + used // 5),
                st.integers(0, 20_000_000),
            ),
            label="withdrawn_nl",
        )
        self._do(c.RecordWithdrawal(role, withdrawn))

    @rule(
        role=right_clin,
        added=volumes,
        conc=concentrations,
        data=st.data(),
        finding_reason=st.sampled_from(["", "pocket checked, pump interrogated"]),
        ov=overrides,
    )
    def complete_refill(
        self,
        role: Role,
        added: int,
        conc: int,
        data: st.DataObject,
        finding_reason: str,
        ov: tuple[c.Override, ...],
    ) -> None:
        matching = [p for p in PROGRAMS if p.concentration_ng_per_ml == conc]
        program = data.draw(st.none() | st.sampled_from(matching or list(PROGRAMS)), label="prog")
        self._do(
            c.CompleteRefill(
                role, added, conc, program=program, finding_reason=finding_reason, overrides=ov
            )
        )

    @rule(
        added=st.integers(1_000_000, 20_000_000),
        conc=st.sampled_from([10_000_000, 25_000_000]),
        data=st.data(),
        abort=st.booleans(),
    )
    def refill_cycle(self, added: int, conc: int, data: st.DataObject, abort: bool) -> None:
        """A whole refill, usually with a change of concentration: the catheter then holds the
        old fluid ahead of the new one (REQ-TIP-003); sometimes aborted after the withdrawal."""
        if not self._do(c.BeginRefill(C)):
            return
        refill = self.device.refill
        assert refill is not None
        self._do(c.RecordWithdrawal(C, refill.expected_residual_nl))
        if abort:
            self._do(c.AbortRefill(C, "clinical review"))
            return
        matching = [p for p in PROGRAMS if p.concentration_ng_per_ml == conc]
        program = data.draw(st.sampled_from(matching), label="refill program")
        self._do(
            c.CompleteRefill(C, added, conc, program=program, overrides=(SOFT_DAILY, MAX_CONC))
        )

    @rule(role=right_clin, reason=reasons)
    def abort_refill(self, role: Role, reason: str) -> None:
        self._do(c.AbortRefill(role, reason))

    @rule(role=right_serv, kind=injected_alarms)
    def raise_alarm(self, role: Role, kind: AlarmKind) -> None:
        self._do(c.RaiseAlarm(role, kind, detail="drive fault injected"))

    @rule(role=right_clin, data=st.data(), reason=reasons)
    def clear_alarm(self, role: Role, data: st.DataObject, reason: str) -> None:
        active = [a.kind for a in self.device.alarms]
        kind = data.draw(st.sampled_from(active) if active else alarm_kinds, label="kind")
        self._do(c.ClearAlarm(role, kind, reason))

    @rule(role=right_clin, reason=reasons, confirm=st.booleans())
    def suspend(self, role: Role, reason: str, confirm: bool) -> None:
        self._do(c.Suspend(role, reason, confirm))

    @rule(role=right_clin, reason=reasons)
    def resume(self, role: Role, reason: str) -> None:
        self._do(c.Resume(role, reason))

    @rule(data=st.data())
    def any_command(self, data: st.DataObject) -> None:
        """Any command at all, with the role and fields drawn loosely (mostly invalid)."""
        name = data.draw(st.sampled_from(sorted(_ANY)), label="command")
        self._do(data.draw(_ANY[name], label=name))

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def reservoir_never_negative(self) -> None:
        r = self.device.reservoir
        assert r is None or r.volume_nl >= 0

    @invariant()
    def high_alarm_stops_delivery(self) -> None:
        if self.device.high_alarms():
            assert self.device.phase not in DELIVERING, self.device.phase

    @invariant()
    def lifetime_total_matches_reference(self) -> None:
        assert self.device.delivered_ng == self.counted_ng

    @invariant()
    def fluid_path_matches_the_reference_catheter(self) -> None:
        path = self.device.path
        if self.catheter is None:
            assert path is None
            return
        assert path is not None
        got = [(p.volume_nl, p.drug, p.concentration_ng_per_ml) for p in path.segments]
        assert got == ref_merged(self.catheter)
        if len(got) > 1:
            event("the path holds two or more fluids")

    def _window(self, drug: str, t: int) -> Fraction:
        return sum((ng for r, d, ng in self.reports if d == drug and t - DAY < r <= t), Fraction(0))

    @invariant()
    def no_window_above_the_hard_maximum(self) -> None:
        if not self.window_dirty:
            return
        self.window_dirty = False
        t = self.reports[-1][0]
        for drug, limit in self.limits.items():
            total = self._window(drug, t)
            assert total <= limit, f"{float(total)} ng of {drug} in the 24 h window ending at t={t}"
            if 10 * total >= 9 * limit:
                event("a 24 h window reached 90 % of the hard maximum")

    def teardown(self) -> None:
        assert from_json(self.device_json) == self.device
        # the full brute force once per run: every window that ends at a report
        for t, drug, _ in self.reports:
            total = self._window(drug, t)
            assert total <= self.limits[drug], (t, drug, total)


class DosingMachine(LifecycleMachine):
    """The same rules from the phases where dosing happens, to reach the daily cap often."""

    START_PHASES = (Phase.ACTIVE, Phase.ACTIVE, Phase.ACTIVE, Phase.SUSPENDED, Phase.REFILL)

    def prepare(self, data: st.DataObject) -> None:
        program = data.draw(st.sampled_from(PROGRAMS_10[:4]), label="program")
        self.now += 60
        self._do(c.SetProgram(C, program, (SOFT_DAILY,)))


def _settings() -> settings:
    """The stateful budget of the loaded profile (``<profile>-stateful``, tests/conftest.py)."""
    return settings.get_profile(f"{_PROFILE}-stateful")


TestLifecycle = LifecycleMachine.TestCase
TestLifecycle.settings = _settings()
TestDosing = DosingMachine.TestCase
TestDosing.settings = _settings()
