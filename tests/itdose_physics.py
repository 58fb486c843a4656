"""An independent physical reference of what reaches the patient, and a bench that drives a device.

This module shares NO code with the core's accounting (no ledger, governor, dosing, path or tip
module is imported). It is written from the rules of docs/dosing-rules.md ("What reaches the
patient", "Limits") and from library DATA only (pump tubing volume, catheter volume per length
and reference length, the drugs' hard daily maxima). Everything is exact: volumes in nanolitres,
amounts in nanograms and times in seconds, all as :class:`fractions.Fraction`.

The physics:

- The fluid path (pump tubing + catheter) holds its dead volume first in, first out, as a list of
  segments, each a volume with the amount of every drug it holds. At implant it holds no drug
  (saline). Whatever volume the drive pushes enters the path from the reservoir and the same
  volume leaves the catheter tip, in order: the tip amount of every push is computed from the
  segments that leave.
- The reservoir is well mixed: a refill withdraws the residual first, so after it the reservoir
  holds only the new drug at the new concentration; a withdrawal without a refill leaves it empty.
- The drive keeps the trust SAFETY.md states ("What the drive is trusted for"): it moves each
  ``DeliveryOrder`` no faster than the order's pace (its volume over its duration, in whole nL
  per hour rounded up; computed here from that rule, not by the core's helper), and reports
  truthfully what it moved. Its behaviours (:data:`MODES`): ``uniform`` (the whole volume evenly
  over the duration), ``pace`` (at the pace itself from the start, so it may finish a little
  early), ``slow`` (evenly, 99 % of the order: slower than the pace), ``pause`` (idle for the
  first third of the order, then at the pace until the volume or the end: what it misses is not
  caught up). ``ahead`` (:data:`AHEAD`) breaks the trust on purpose (the whole order at its start)
  to show that the core catches it when the controller polls (``poll_every_s``). A
  ``CancelOrder`` stops an order now and ``StopDelivery`` stops them all; each stopped or ended
  order gets a final ``DriveReport`` of the whole nanolitres really pushed. Concurrent orders
  would add their flows (the core never issues them: the bench notes it as an anomaly).
- The amount leaving the tip is a non-decreasing function of time, linear between the ends of
  the pushes (and of the tip pieces they split into) with jumps at instantaneous pushes. The
  rolling 24 h window ``(t - 86400, t]`` is therefore largest (and smallest) at a breakpoint or a
  breakpoint plus 24 h, approached from the left or the right: :func:`window_extremes` evaluates
  every one of those instants, per drug, over the whole history (brute force, no bucketing; a
  float pass picks the few instants within 0.01 ng of the extreme, which are then evaluated
  exactly, unless two instants are too close for floats, when all are evaluated exactly).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from itdose.core import Device, DosingError, LimitViolation, Outcome, Phase, Role, step
from itdose.core import commands as c
from itdose.core.effects import CancelOrder, DeliveryOrder, Effect, StopDelivery
from itdose.core.library import Library

DAY_S = 86_400
HOUR_S = 3600
NL_PER_ML = 1_000_000
MRI_WORST_CASE_NL = 10_000
"""Prometra II emergency MRI: the labelled worst case, 10 uL, leaves the tip
(docs/dosing-rules.md)."""

S = Role.SERVICE
C = Role.CLINICIAN

TICKED = frozenset(
    {Phase.IMPLANTED, Phase.PRIMING, Phase.ACTIVE, Phase.SUSPENDED, Phase.REFILL, Phase.ALARM}
)
"""Phases in which the bench ticks the device."""

Mode = Literal["uniform", "pace", "slow", "pause", "ahead"]
MODES: tuple[Mode, ...] = ("uniform", "pace", "slow", "pause")
"""The drive behaviours that keep the pace (see the module doc)."""
FULL_MODES: tuple[Mode, ...] = ("uniform", "pace")
"""Those that move every order whole (a program can be delivered in full only with these)."""
AHEAD: Mode = "ahead"
"""A drive ahead of its pace (all of an order at its start): it breaks the stated trust."""
SLOW_SHARE = Fraction(99, 100)
"""The share of each order the ``slow`` drive moves."""


def pace_nl_per_s(volume_nl: int, duration_s: int) -> Fraction:
    """The pace an order may be moved at (SAFETY.md): ``volume x 3600 / duration`` nL per hour,
    rounded up to a whole nL per hour, here per second."""
    per_hour = -(-volume_nl * HOUR_S // max(1, duration_s))
    return Fraction(per_hour, HOUR_S)


# --- fluids and the path -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fluid:
    """A well-mixed fluid: the concentration of each drug in ng per nL (exact)."""

    ng_per_nl: tuple[tuple[str, Fraction], ...] = ()

    @staticmethod
    def of(drug: str, concentration_ng_per_ml: int) -> Fluid:
        return Fluid(((drug, Fraction(concentration_ng_per_ml, NL_PER_ML)),))

    def amounts(self, volume_nl: Fraction) -> dict[str, Fraction]:
        return {d: k * volume_nl for d, k in self.ng_per_nl if k}


SALINE = Fluid()


@dataclass
class Segment:
    """A slug of fluid in the path: its volume and the amount of each drug in it."""

    volume_nl: Fraction
    ng: dict[str, Fraction]

    def same_mix(self, other: Segment) -> bool:
        drugs = set(self.ng) | set(other.ng)
        return all(
            self.ng.get(d, 0) * other.volume_nl == other.ng.get(d, 0) * self.volume_nl
            for d in drugs
        )


class FluidPath:
    """Pump tubing + catheter: first in, first out."""

    def __init__(self, volume_nl: Fraction) -> None:
        assert volume_nl > 0
        self.volume_nl = volume_nl
        self.segments: list[Segment] = [Segment(volume_nl, {})]

    def push(self, entering: Segment) -> list[Segment]:
        """Push ``entering`` in at the reservoir end; return what leaves the tip, in order."""
        if entering.volume_nl <= 0:
            return []
        last = self.segments[-1] if self.segments else None
        if last is not None and last.same_mix(entering):
            last.volume_nl += entering.volume_nl
            for d, a in entering.ng.items():
                last.ng[d] = last.ng.get(d, Fraction(0)) + a
        else:
            self.segments.append(Segment(entering.volume_nl, dict(entering.ng)))
        out: list[Segment] = []
        left = entering.volume_nl
        while left > 0:
            head = self.segments[0]
            if head.volume_nl <= left:
                out.append(self.segments.pop(0))
                left -= head.volume_nl
            else:
                part = left / head.volume_nl
                taken = {d: a * part for d, a in head.ng.items()}
                out.append(Segment(left, taken))
                head.ng = {d: a - taken[d] for d, a in head.ng.items()}
                head.volume_nl -= left
                left = Fraction(0)
        assert sum(s.volume_nl for s in self.segments) == self.volume_nl
        return out

    def contents(self) -> list[tuple[Fraction, dict[str, Fraction]]]:
        return [(s.volume_nl, {d: a / s.volume_nl for d, a in s.ng.items()}) for s in self.segments]


def catheter_dead_volume_nl(
    library: Library, pump_id: str, catheter_id: str, trimmed_mm: int
) -> Fraction:
    """Tubing + (reference length - trimmed) x volume per length, exact, from library data."""
    pump = library.pump(pump_id)
    cath = library.catheter(catheter_id)
    assert pump.tubing_volume is not None
    assert cath.reference_length is not None and cath.volume_per_length is not None
    metres = Fraction(cath.reference_length.value - trimmed_mm, 1000)  # mm -> m
    return Fraction(pump.tubing_volume.value) + metres * cath.volume_per_length.value


# --- pushes and the tip --------------------------------------------------------------------------


@dataclass(frozen=True)
class Push:
    """The drive moved ``volume_nl`` of ``fluid`` into the path, uniformly over [t0, t1]
    (at once when t0 == t1)."""

    t0: Fraction
    t1: Fraction
    volume_nl: Fraction
    fluid: Fluid
    label: str = ""


@dataclass(frozen=True)
class TipPiece:
    """Fluid that left the tip uniformly over [t0, t1] (at once when t0 == t1): its volume and
    the amount of each drug in it (none for saline)."""

    t0: Fraction
    t1: Fraction
    ng: dict[str, Fraction]
    volume_nl: Fraction = Fraction(0)

    def is_only(self, fluid: Fluid) -> bool:
        """True when this piece is exactly ``fluid`` (one drug at one concentration)."""
        return self.volume_nl > 0 and {d: a for d, a in self.ng.items() if a} == fluid.amounts(
            self.volume_nl
        )


def tip_history(dead_volume_nl: Fraction, pushes: Iterable[Push]) -> list[TipPiece]:
    """What left the tip, in time order (see :func:`sweep`)."""
    return sweep(dead_volume_nl, pushes)[0]


def sweep(dead_volume_nl: Fraction, pushes: Iterable[Push]) -> tuple[list[TipPiece], FluidPath]:
    """Sweep the pushes in time: between two breakpoints the total flow is constant; the fluid
    that leaves is the head of the path, spread over the interval in proportion to volume.
    Returns the tip pieces and the path as it is after the last push."""
    pushes = [p for p in pushes if p.volume_nl > 0]
    path = FluidPath(dead_volume_nl)
    points = sorted({p.t0 for p in pushes} | {p.t1 for p in pushes})
    impulses: dict[Fraction, list[Push]] = {}
    for p in pushes:
        if p.t0 == p.t1:
            impulses.setdefault(p.t0, []).append(p)
    flows = sorted((p for p in pushes if p.t1 > p.t0), key=lambda p: p.t0)
    pieces: list[TipPiece] = []
    active: list[Push] = []
    j = 0
    for i, a in enumerate(points):
        for p in impulses.get(a, ()):
            for s in path.push(Segment(p.volume_nl, p.fluid.amounts(p.volume_nl))):
                pieces.append(TipPiece(a, a, s.ng, s.volume_nl))
        if i + 1 == len(points):
            break
        b = points[i + 1]
        while j < len(flows) and flows[j].t0 <= a:
            active.append(flows[j])
            j += 1
        active = [p for p in active if p.t1 > a]
        if not active:
            continue
        volume = Fraction(0)
        ng: dict[str, Fraction] = {}
        for p in active:
            v = p.volume_nl * (b - a) / (p.t1 - p.t0)
            volume += v
            for d, x in p.fluid.amounts(v).items():
                ng[d] = ng.get(d, Fraction(0)) + x
        t = a
        for s in path.push(Segment(volume, ng)):
            dt = (b - a) * s.volume_nl / volume
            pieces.append(TipPiece(t, t + dt, s.ng, s.volume_nl))
            t += dt
    return pieces, path


class Cumulative:
    """The amount of one drug that has left the tip by time t (exact, right-continuous), with a
    float twin used only to find the candidate instants worth evaluating exactly."""

    def __init__(self, pieces: Sequence[TipPiece], drug: str) -> None:
        flows = [(p.t0, p.t1, p.ng[drug]) for p in pieces if p.t1 > p.t0 and p.ng.get(drug)]
        flows.sort()
        jumps = sorted((p.t0, p.ng[drug]) for p in pieces if p.t1 == p.t0 and p.ng.get(drug))
        self.flows = flows
        self.flow_ends = [f[1] for f in flows]
        self.flow_prefix = [Fraction(0)]
        for f in flows:
            self.flow_prefix.append(self.flow_prefix[-1] + f[2])
        self.jump_times = [t for t, _ in jumps]
        self.jump_prefix = [Fraction(0)]
        for _, a in jumps:
            self.jump_prefix.append(self.jump_prefix[-1] + a)
        for (_, e, _), (s, _, _) in itertools.pairwise(flows):
            assert e <= s, "tip flows overlap"
        self.f_flows = [(float(s), float(e), float(a)) for s, e, a in flows]
        self.f_ends = [float(e) for e in self.flow_ends]
        self.f_prefix = [float(x) for x in self.flow_prefix]
        self.f_jump_times = [float(t) for t in self.jump_times]
        self.f_jump_prefix = [float(x) for x in self.jump_prefix]

    def breakpoints(self) -> set[Fraction]:
        return {f[0] for f in self.flows} | set(self.flow_ends) | set(self.jump_times)

    def at(self, t: Fraction, *, left: bool = False) -> Fraction:
        """Amount by ``t`` (``left``: just before ``t``, jumps at ``t`` excluded)."""
        k = bisect.bisect_left(self.flow_ends, t)
        total = self.flow_prefix[k]
        if k < len(self.flows):
            s, e, a = self.flows[k]
            if s < t:
                total += a * (min(t, e) - s) / (e - s)
        n = (bisect.bisect_left if left else bisect.bisect_right)(self.jump_times, t)
        return total + self.jump_prefix[n]

    def window(self, t: Fraction, *, left: bool = False) -> Fraction:
        """Amount in the rolling window (t - 24 h, t] (``left``: its limit from the left)."""
        return self.at(t, left=left) - self.at(t - DAY_S, left=left)

    def _at_f(self, t: float, left: bool) -> float:
        k = bisect.bisect_left(self.f_ends, t)
        total = self.f_prefix[k]
        if k < len(self.f_flows):
            s, e, a = self.f_flows[k]
            if s < t:
                total += a * (min(t, e) - s) / (e - s)
        n = (bisect.bisect_left if left else bisect.bisect_right)(self.f_jump_times, t)
        return total + self.f_jump_prefix[n]

    def window_f(self, t: float, left: bool) -> float:
        return self._at_f(t, left) - self._at_f(t - DAY_S, left)


_MARGIN_NG = 0.01
"""Float evaluations are within far less than this of the exact value (sums of at most a few
thousand terms below 1e9 ng); candidates within it of the float extreme are evaluated exactly."""


def _extreme(
    cum: Cumulative, points: list[tuple[Fraction, bool]], largest: bool
) -> tuple[Fraction, Fraction] | None:
    """The exact largest (or smallest) window among ``points`` (instant, from the left)."""
    if not points:
        return None
    floats = sorted({float(t) for t, _ in points} | {float(t) - DAY_S for t, _ in points})
    faithful = all(b - a > 1e-6 for a, b in itertools.pairwise(floats))
    if faithful:
        values = [cum.window_f(float(t), left) for t, left in points]
        target = max(values) if largest else min(values)
        tol = _MARGIN_NG + 1e-12 * abs(target)
        points = [
            pt
            for pt, v in zip(points, values, strict=True)
            if (v >= target - tol if largest else v <= target + tol)
        ]
    best: tuple[Fraction, Fraction] | None = None
    for t, left in points:
        w = cum.window(t, left=left)
        if best is None or (w > best[0] if largest else w < best[0]):
            best = (w, t)
    return best


@dataclass(frozen=True)
class Extremes:
    drug: str
    max_ng: Fraction
    max_at_s: Fraction
    min_ng: Fraction | None
    min_at_s: Fraction | None


def window_extremes(
    pieces: Sequence[TipPiece],
    drug: str,
    *,
    min_from: Fraction | None = None,
    min_to: Fraction | None = None,
    with_max: bool = True,
) -> Extremes:
    """The largest 24 h window of ``drug`` over the whole history and, when ``[min_from,
    min_to]`` is given, the smallest window ending in that range (both as suprema/infima over
    every real instant: breakpoints and breakpoints + 24 h, from both sides; the windows are
    exact fractions, floats only pick which candidates to evaluate exactly)."""
    cum = Cumulative(pieces, drug)
    bps = cum.breakpoints()
    candidates = sorted(bps | {b + DAY_S for b in bps})
    best, best_at = Fraction(0), Fraction(0)
    if with_max:
        found = _extreme(cum, [(t, left) for t in candidates for left in (False, True)], True)
        if found is not None and found[0] > 0:
            best, best_at = found
    low: Fraction | None = None
    low_at: Fraction | None = None
    if min_from is not None and min_to is not None:
        inner = [x for x in candidates if min_from < x < min_to]
        points = [(min_from, False)]
        points += [(t, left) for t in [*inner, min_to] for left in (False, True)]
        found = _extreme(cum, points, False)
        assert found is not None
        low, low_at = found
    return Extremes(drug, best, best_at, low, low_at)


# --- the bench: a device, a drive, a reservoir and the path --------------------------------------


class Runaway(AssertionError):
    """The simulated history exploded (the core keeps issuing orders without progress)."""


@dataclass
class _Running:
    order: DeliveryOrder
    start: int
    end: int
    fluid: Fluid


@dataclass
class Bench:
    """A device driven by timed commands, with the physical drive, reservoir and path.

    Every order is executed by the drive in ``mode`` (or ``mode_of(order)``), reported final at
    its end (or when cancelled/stopped), and the device is ticked at every order end, every
    basal boundary and at least every ``tick_every_s``. With ``poll_every_s`` the controller
    also polls the drive that often and reports each running order's progress (not final).
    """

    library: Library
    mode: Mode = "uniform"
    mode_of: Callable[[DeliveryOrder], Mode] | None = None
    max_segment_s: int = 3600
    tick_every_s: int = 3600
    poll_every_s: int | None = None
    device: Device = field(default_factory=Device)
    now: int = 0
    drug: str | None = None
    indication: str | None = None
    dead_volume_nl: Fraction | None = None
    max_steps: int = 20_000
    """More accepted commands than this is a runaway (e.g. an endless stream of tiny orders):
    the bench stops with :class:`Runaway` instead of simulating it."""
    max_orders_per_hour: int = 200
    """More orders than this within an hour is a runaway too (a normal history issues a few)."""
    delivers: Fraction = Fraction(1)
    """The share of each order the drive really moves (reported truthfully): below 1, a drive
    that under-delivers within whatever tolerance the core allows."""
    mri_nl: Fraction = Fraction(MRI_WORST_CASE_NL)
    """The volume an emergency MRI pushes out of the tip: the labelled worst case, or less."""
    reservoir: Fluid = SALINE
    reservoir_nl: Fraction = Fraction(0)
    pushes: list[Push] = field(default_factory=list)
    given: list[TipPiece] = field(default_factory=list)
    running: dict[int, _Running] = field(default_factory=dict)
    log: list[tuple[int, c.Command, tuple[Effect, ...]]] = field(default_factory=list)
    phases: list[tuple[int, Phase, Any, frozenset[str]]] = field(default_factory=list)
    """After every accepted command: (time, phase, program, active alarm kinds)."""
    anomalies: list[str] = field(default_factory=list)
    _last_tick: int = -1
    _issued: list[int] = field(default_factory=list)
    _polled: dict[int, int] = field(default_factory=dict)

    # -- commands

    def submit(self, command: c.Command, at: int | None = None) -> Outcome:
        """Advance to ``at`` (default: now) and apply ``command``; raises the core's error."""
        if at is not None:
            self.advance(at)
        out = step(self.device, command, self.now, self.library)
        self._accepted(command, out)
        if command.name in DISRUPTIVE and self.device.phase in TICKED:
            # a controller ticks at once after a command that may make basal due
            self._last_tick = self.now
            tick = c.Tick(S, self.max_segment_s)
            self._accepted(tick, step(self.device, tick, self.now, self.library))
        return out

    def attempt(self, command: c.Command, at: int | None = None) -> Outcome | DosingError:
        try:
            return self.submit(command, at)
        except DosingError as exc:
            return exc

    def submit_overriding(
        self, command: c.Command, at: int | None = None, *, reason: str = "clinical decision"
    ) -> Outcome:
        """Submit, adding an override with a reason for every SOFT limit the core names."""
        if at is not None:
            self.advance(at)
        for _ in range(12):
            try:
                return self.submit(command)
            except LimitViolation as exc:
                if exc.level != "soft" or not hasattr(command, "overrides"):
                    raise
                ov = c.Override(exc.limit_id, reason)
                if ov in command.overrides:  # type: ignore[attr-defined]
                    raise
                command = dataclasses.replace(
                    command,  # type: ignore[type-var]
                    overrides=(*command.overrides, ov),  # type: ignore[attr-defined]
                )
        raise AssertionError("too many soft limits")

    def probe(self, command: c.Command) -> Outcome | DosingError:
        """What the core would answer now, without applying it."""
        try:
            return step(self.device, command, self.now, self.library)
        except DosingError as exc:
            return exc

    def _accepted(self, command: c.Command, out: Outcome) -> None:
        self.device = out.device
        self.log.append((self.now, command, out.effects))
        if len(self.log) > self.max_steps:
            orders = sum(
                1 for _, _, fx in self.log[-1000:] for e in fx if isinstance(e, DeliveryOrder)
            )
            raise Runaway(
                f"more than {self.max_steps} commands by t={self.now} ({orders} orders in the "
                f"last 1000): the core never settles"
            )
        alarms = frozenset(a.kind.value for a in out.device.alarms)
        self.phases.append((self.now, out.device.phase, out.device.program, alarms))
        if isinstance(command, c.StartTrial):
            self.drug, self.indication = command.drug, command.indication
        elif isinstance(command, c.RecordTrialDose):
            assert self.drug is not None
            t = Fraction(self.now)
            amount = {self.drug: Fraction(command.amount_ng)}
            self.given.append(TipPiece(t, t, amount))
        elif isinstance(command, c.Implant):
            self.dead_volume_nl = catheter_dead_volume_nl(
                self.library, command.pump, command.catheter, command.trimmed_mm
            )
        elif isinstance(command, c.Fill):
            assert self.drug is not None
            self.reservoir = Fluid.of(self.drug, command.concentration_ng_per_ml)
            self.reservoir_nl = Fraction(command.volume_nl)
        elif isinstance(command, (c.RecordWithdrawal, c.EmptyReservoir)):
            self.reservoir_nl = Fraction(0)  # the whole residual is withdrawn
        elif isinstance(command, c.CompleteRefill):
            if command.drug is not None:
                self.drug = command.drug
            assert self.drug is not None
            self.reservoir = Fluid.of(self.drug, command.concentration_ng_per_ml)
            self.reservoir_nl = Fraction(command.added_nl)
        elif isinstance(command, c.BeginMri) and getattr(command, "emergency", False):
            t = Fraction(self.now)
            self._push(Push(t, t, self.mri_nl, self.reservoir, "mri"))
        self._effects(out.effects)

    def _effects(self, effects: Iterable[Effect]) -> None:
        finished: list[tuple[int, int]] = []
        for e in effects:
            if isinstance(e, DeliveryOrder):
                self._issued.append(self.now)
                while self._issued[0] <= self.now - HOUR_S:
                    self._issued.pop(0)
                if len(self._issued) > self.max_orders_per_hour:
                    raise Runaway(
                        f"{len(self._issued)} orders within the hour before t={self.now} "
                        f"(the last: {e}): the core never settles"
                    )
                if e.order_id in self.running:
                    self.anomalies.append(f"order id {e.order_id} reused at {self.now}")
                elif self.running:
                    self.anomalies.append(
                        f"order {e.order_id} issued at {self.now} while {sorted(self.running)} run"
                    )
                self.running[e.order_id] = _Running(
                    e, self.now, self.now + e.duration_s, self.reservoir
                )
            elif isinstance(e, CancelOrder):
                if e.order_id in self.running:
                    finished.append((e.order_id, self._finish(e.order_id, self.now)))
            elif isinstance(e, StopDelivery):
                for oid in sorted(self.running):
                    finished.append((oid, self._finish(oid, self.now)))
        for oid, volume in finished:
            self._report(oid, volume)

    def _report(self, order_id: int, volume: int) -> None:
        command = c.DriveReport(S, order_id, volume, True)
        out = step(self.device, command, self.now, self.library)
        self._accepted(command, out)

    # -- the drive

    def _mode(self, order: DeliveryOrder) -> Mode:
        return self.mode_of(order) if self.mode_of is not None else self.mode

    def _push(self, p: Push) -> None:
        if p.volume_nl <= 0:
            return
        self.pushes.append(p)
        self.reservoir_nl -= p.volume_nl
        if self.reservoir_nl < 0:
            self.anomalies.append(f"reservoir below empty at {float(p.t1)} s")

    def _finish(self, order_id: int, at: int) -> int:
        """Stop order ``order_id`` at ``at``; record its push; return the volume delivered."""
        r = self.running.pop(order_id)
        push = self._delivered(r, at, whole_nl=True)
        if push is None:
            return 0
        self._push(push)
        return int(push.volume_nl)

    def _delivered(self, r: _Running, at: int, *, whole_nl: bool) -> Push | None:
        """What the drive has pushed for running order ``r`` by ``at`` (``whole_nl``: the drive
        stops on a whole nanolitre, as it reports; otherwise the exact volume so far).

        Every mode is "idle for ``delay``, then at ``rate`` until ``target`` is moved or the
        order ends"; the rate never exceeds the order's pace except in ``ahead``."""
        ordered = r.order.volume_nl
        target: Fraction = ordered * self.delivers
        start, end = Fraction(r.start), Fraction(r.end)
        t = Fraction(min(at, r.end))
        mode = self._mode(r.order)
        kind = r.order.kind
        pace = pace_nl_per_s(ordered, r.end - r.start)
        delay = Fraction(0)
        if mode == "ahead" or end == start:
            done = target  # all of it at once, at the start
            if whole_nl:
                done = Fraction(int(done))
            return Push(start, start, done, r.fluid, kind) if done else None
        if mode == "uniform":
            rate = target / (end - start)
        elif mode == "slow":
            target *= SLOW_SHARE
            rate = target / (end - start)
        elif mode == "pace":
            rate = pace
        elif mode == "pause":
            delay, rate = (end - start) / 3, pace
        else:  # pragma: no cover - Mode is a closed set
            raise AssertionError(mode)
        assert rate <= pace
        begin = start + delay
        if t <= begin or rate == 0:
            return None
        done = min(target, rate * (t - begin))
        if whole_nl:
            done = Fraction(int(done))
        if done <= 0:
            return None
        return Push(begin, begin + done / rate, done, r.fluid, kind)

    # -- the clock

    def advance(self, to: int) -> None:
        """Run the drive and the ticks up to ``to`` (inclusive: orders ending at ``to`` are
        reported and a tick is issued at ``to``)."""
        assert to >= self.now, (to, self.now)
        while True:
            nxt = [r.end for r in self.running.values() if r.end > self.now]
            due = getattr(self.device, "basal_until_s", 0)  # a hint only: ticks are hourly too
            if due > self.now:
                nxt.append(due)
            nxt.append(self.now + self.tick_every_s)
            if self.poll_every_s is not None and self.running:
                nxt.append(self.now + self.poll_every_s)
            t = min(min(nxt), to)
            self.now = t
            self._events()
            if t >= to:
                return

    def _events(self) -> None:
        for oid in sorted(self.running, key=lambda i: (self.running[i].end, i)):
            if oid in self.running and self.running[oid].end <= self.now:
                self._report(oid, self._finish(oid, self.now))
        if self.poll_every_s is not None:
            for oid in sorted(self.running):
                r = self.running.get(oid)
                if r is None or not r.start < self.now < r.end:
                    continue
                push = self._delivered(r, self.now, whole_nl=True)
                moved = int(push.volume_nl) if push is not None else 0
                if moved > self._polled.get(oid, 0):
                    self._polled[oid] = moved
                    command = c.DriveReport(S, oid, moved, False)
                    self._accepted(command, step(self.device, command, self.now, self.library))
        if self.device.phase in TICKED and self._last_tick != self.now:
            self._last_tick = self.now
            try:
                self.submit(c.Tick(S, self.max_segment_s))
            except DosingError as exc:  # pragma: no cover - a tick is accepted in these phases
                self.anomalies.append(f"tick rejected at {self.now}: {exc}")

    # -- results

    def tip(self) -> list[TipPiece]:
        """Everything that left the tip up to now (trial doses included as given), counting
        what the running orders have pushed so far."""
        pieces = list(self.given)
        if self.dead_volume_nl is not None:
            running = [self._delivered(r, self.now, whole_nl=False) for r in self.running.values()]
            pushes = self.pushes + [p for p in running if p is not None]
            pieces += tip_history(self.dead_volume_nl, pushes)
        return pieces

    def drugs(self) -> set[str]:
        return {d for p in self.tip() for d in p.ng}

    def extremes(self, drug: str, **kw: Any) -> Extremes:
        return window_extremes(self.tip(), drug, **kw)

    def hard_max_ng(self, drug: str) -> int:
        assert self.indication is not None
        return self.library.drug(drug, self.indication).max_daily.value


DISRUPTIVE = frozenset(
    {
        "fill",
        "prime",
        "start_dosing",
        "set_program",
        "suspend",
        "resume",
        "begin_refill",
        "record_withdrawal",
        "complete_refill",
        "abort_refill",
        "empty_reservoir",
        "begin_mri",
        "end_mri",
        "confirm_post_mri",
        "raise_alarm",
        "clear_alarm",
        "explant",
    }
)
"""Commands after which a program's steady delivery is judged afresh."""
DELIVERY_LIMITED = "delivery_limited"
"""The MEDIUM alarm the core raises when it withholds scheduled basal (docs/dosing-rules.md);
the name (``AlarmKind`` value) is an assumption."""


@dataclass(frozen=True)
class Period:
    """An interval in which one program ran in ``active`` with no disruptive command."""

    start: int
    end: int
    program: Any
    limited: bool
    """The "delivery limited" alarm was annunciated or active in the period."""


def steady_periods(b: Bench) -> list[Period]:
    """The periods of the bench's history in which one accepted program ran undisturbed."""
    periods: list[Period] = []
    open_at: int | None = None
    program: Any = None
    limited = False
    for (t, command, effects), (_, phase, prog, alarms) in zip(b.log, b.phases, strict=True):
        flagged = DELIVERY_LIMITED in alarms or any(
            getattr(getattr(e, "kind", None), "value", None) == DELIVERY_LIMITED for e in effects
        )
        disrupted = command.name in DISRUPTIVE or phase is not Phase.ACTIVE or prog != program
        if open_at is not None and disrupted:
            periods.append(Period(open_at, t, program, limited or flagged))
            open_at = None
        if open_at is None and phase is Phase.ACTIVE and prog is not None and disrupted:
            open_at, limited = t, False
        limited = limited or flagged
        program = prog
    if open_at is not None:
        periods.append(Period(open_at, b.now, program, limited))
    return periods


def _has_cause(b: Bench, tip: Sequence[TipPiece], p: Period, pure_from: Fraction) -> bool:
    """True when other drug could share the windows of period ``p``: any drug leaving the tip
    in the day before the period, a bolus pushed during it, or old fluid flushed at its
    start."""
    if pure_from > p.start:
        return True
    before = p.start - DAY_S
    if any(x.t1 > before and x.t0 < p.start and any(x.ng.values()) for x in tip):
        return True
    return any(
        push.label not in ("basal", "bridge") and push.t1 >= p.start and push.t0 <= p.end
        for push in b.pushes
    )


def basal_shortfalls(b: Bench) -> list[str]:
    """Every steady period in which, once the tip delivers only the program's drug at its
    concentration, some full 24 h window holds less than the programmed daily basal minus one
    rounding unit (1 nL at that concentration).

    A "delivery limited" alarm excuses a shortfall only when something could have made it
    necessary (:func:`_has_cause`): a program accepted at entry running alone never needs it,
    since its worst case fits under the hard maximum (accounting margins are the core's to
    remove, not the patient's to absorb: docs/dosing-rules.md "What reaches the patient").

    Only a drive that moves every order whole (:data:`FULL_MODES`, all of each order) can deliver
    a program in full; the others find nothing here. A drive at the ``pace`` (rounded up to a
    whole nL/h) moves each order a little early: a window's start and end each shift by less
    than 1 nL, so it gets one more unit of margin; the first window after other fluid starts
    with the next order, not in the early-finished order's idle end. The uniform drive is the
    exact check."""
    tip = b.tip()
    found = []
    if b.delivers != 1 or b.mode_of is not None or b.mode not in FULL_MODES:
        return found
    early = b.mode == "pace"
    for p in steady_periods(b):
        steps = p.program.basal.steps
        if len(steps) != 1:
            continue
        daily = steps[0].dose_ng_per_day
        if daily == 0:
            continue
        fluid = Fluid.of(p.program.drug, p.program.concentration_ng_per_ml)
        pure_from = Fraction(p.start)
        for x in tip:
            if x.t1 > p.start and x.t0 < p.end and not x.is_only(fluid):
                pure_from = max(pure_from, x.t1)
        if early:
            # the order that pushed the last other fluid out finished early and the drive idled
            # until the next order's start, in that order's scheduled time: the program's time
            # begins with the next order (the idle second's fraction at the new rate can be
            # worth more than a nanolitre after a slower order: 1.7 nL at hydromorphone 2 mg/mL,
            # 10 mg/day after a morphine order of 20,817 nL/h)
            pure_from = min(
                (q.t0 for q in b.pushes if pure_from <= q.t0 < pure_from + 1), default=pure_from
            )
        lo, hi = pure_from + DAY_S, Fraction(p.end)
        if lo > hi:
            continue
        if p.limited and _has_cause(b, tip, p, pure_from):
            continue
        ex = window_extremes(tip, p.program.drug, min_from=lo, min_to=hi, with_max=False)
        unit = Fraction(p.program.concentration_ng_per_ml, NL_PER_ML)
        margin = 2 * unit if early else unit
        assert ex.min_ng is not None
        if ex.min_ng < daily - margin:
            found.append(
                f"{p.program.drug} {daily} ng/day from t={p.start}: only {float(ex.min_ng)} ng "
                f"in the 24 h ending at t={float(ex.min_at_s or 0)} (pure from {float(pure_from)})"
            )
    return found


def run(sequence: Iterable[tuple[int, c.Command]], library: Library, **bench: Any) -> Bench:
    """Drive a fresh device with timed commands (each must be accepted; soft limits are
    overridden with a reason), executing its orders on the reference drive. Returns the bench:
    ``bench.device`` and ``bench.tip()`` (the tip history)."""
    b = Bench(library, **bench)
    for at, command in sequence:
        b.submit_overriding(command, at)
    return b


# --- scenario building blocks (public commands only) ---------------------------------------------

MG = 1_000_000
ML = 1_000_000
IMPLANT_AT = 7 * DAY_S


def implanted_and_dosing(
    b: Bench,
    program: Any,
    *,
    pump: str = "prometra-ii-20",
    catheter: str = "prometra-catheter",
    trimmed_mm: int = 200,
    fill_nl: int = 20 * ML,
    trial_ng: int = 300_000,
) -> int:
    """Screening/trial (or baclofen screening), implant, fill at the program's concentration,
    program, prime and start dosing. Returns the instant dosing started. ``trial_ng``: the trial
    bolus (not baclofen), within the drug's trial range."""
    drug, indication = program.drug, program.indication
    b.submit(c.RecordScreening(C, candidate=True, baseline_pain=8), 0)
    b.submit_overriding(c.StartTrial(C, drug, indication, plan="single intrathecal bolus"), 60)
    if drug == "baclofen":
        b.submit(c.RecordTrialDose(C, amount_ng=50_000), 120)
        b.submit(c.RecordScreeningResponse(C, positive=True), 4 * HOUR_S)
    else:
        b.submit(c.RecordTrialDose(C, amount_ng=trial_ng), 120)
        b.submit(c.RecordPainScore(C, score=3), 4 * HOUR_S)
    b.submit(c.ConcludeTrial(C), 5 * HOUR_S)
    b.submit_overriding(c.Implant(C, pump, catheter, trimmed_mm=trimmed_mm), IMPLANT_AT)
    assert b.device.implant is not None and b.dead_volume_nl is not None
    if b.device.implant.dead_volume_nl is not None:  # the core's own figure, cross-checked
        assert abs(b.device.implant.dead_volume_nl - b.dead_volume_nl) < 1
    b.submit_overriding(c.Fill(C, fill_nl, program.concentration_ng_per_ml), IMPLANT_AT + 60)
    b.submit_overriding(c.SetProgram(C, program), IMPLANT_AT + 90)
    # priming runs on an even drive that moves it whole (the drive's behaviour applies to
    # dosing: a drive that moved less would leave the catheter unprimed and dosing unstarted)
    mode, b.mode = b.mode, "uniform"
    b.submit(c.Prime(C, duration_s=480), IMPLANT_AT + 120)
    b.advance(IMPLANT_AT + 700)
    b.mode = mode
    assert not b.running, "the priming order should be done"
    b.submit(c.StartDosing(C))
    return b.now


def refill(
    b: Bench,
    at: int,
    concentration_ng_per_ml: int,
    *,
    program: Any = None,
    drug: str | None = None,
    added_nl: int = 20 * ML,
    overrides: tuple[c.Override, ...] = (),
) -> Outcome:
    """A complete refill at ``at``: begin, withdraw the whole physical residual, add new drug."""
    b.submit(c.BeginRefill(C), at)
    b.submit(c.RecordWithdrawal(C, withdrawn_nl=int(b.reservoir_nl)))
    done = c.CompleteRefill(
        C, added_nl, concentration_ng_per_ml, drug=drug, program=program, overrides=overrides
    )
    assert b.device.refill is not None
    if b.device.refill.finding:
        done = dataclasses.replace(done, finding_reason="pocket checked")
    return b.submit_overriding(done)


def max_clinician_bolus_ng(b: Bench, duration_s: int, hi: int) -> int:
    """The largest clinician bolus (ng, at most ``hi``) the core accepts now (0: none): halving
    from ``hi`` until one is accepted (a dose too small for a whole nanolitre may be refused),
    then bisecting between it and the smallest refused dose above it."""

    def ok(dose: int) -> bool:
        return not isinstance(b.probe(c.ClinicianBolus(C, dose, duration_s)), DosingError)

    lo = hi
    while lo >= 1 and not ok(lo):
        hi, lo = lo, lo // 2
    if lo < 1:
        return 0
    if lo == hi:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def greedy_clinician_boluses(
    b: Bench, start: int, stop: int, every_s: int, duration_s: int, hi: int
) -> list[tuple[int, int]]:
    """From ``start`` to ``stop``, every ``every_s``: give the largest clinician bolus the core
    accepts. Returns the boluses given (time, ng)."""
    given = []
    t = start
    while t <= stop:
        b.advance(t)
        dose = max_clinician_bolus_ng(b, duration_s, hi)
        if dose:
            b.submit(c.ClinicianBolus(C, dose, duration_s))
            given.append((t, dose))
        t += every_s
    return given
