"""The independent physical reference of a cohort patient (docs/cohort-schema.md, "Checks").

It shares no code with the core's accounting (no import of ``itdose.core`` dosing, ledger, path or
governor): it takes what the simulated drive *truly* moved (fluid drawn from the reservoir, in nL,
over a time interval at the commanded rate), what the clinician put into and took out of the
reservoir, and the library's dead volume data, and pushes the fluid through its own
first-in-first-out catheter. Everything is exact (:class:`fractions.Fraction`): the reservoir is a
well-mixed volume (a withdrawal takes its mixture, a fill adds fluid), the catheter a queue of
segments, tip first, holding no drug at implant.

Model of one delivery interval: the drive moves ``volume_nl`` over ``[t0, t1]`` (the simulated
drive integrates in closed form between events, so an interval never spans a change of rate).
The fluid that leaves the tip during it is the head of the catheter, so one interval can leave as
several pieces, each with one composition. The pieces spread each interval evenly (the
under-delivery and delivery-after-HIGH checks: within 1 nL of the drive at a window's edges,
inside their allowance); the hard maximum is judged on the drive's own whole-nanolitre steps
(:mod:`itdose.adapters.cohort_drive`, from the command's law that each logged interval carries).

Checks (hazard kinds, :data:`HAZARDS`):

* ``tip_over_hard_max``: for each drug, every rolling 24 h window ``(T - 86400, T]`` of drug
  leaving the tip against the drug's hard daily maximum, at every whole second ``T`` of the
  drive's steps (:func:`itdose.adapters.cohort_drive.max_windows_of_drive`). A log without the
  drive's law (an idealised drive in tests) is spread evenly: the window amount is then
  piecewise linear in ``T``, largest where a piece ends (``T = b``) or where the window's start
  passes a piece's start (``T = a + 86400``): every such instant is evaluated
  (:func:`max_windows`), and a brute force over the same instants (:func:`max_window_brute`) is
  its test oracle.
* ``lockout``, ``bolus_count``: granted patient boluses closer than the lockout, more than the
  maximum in any rolling 24 h.
* ``delivery_after_high``: fluid moved while a HIGH alarm was active (after it was raised,
  before it was cleared) by a command started after the raise. Fluid of a command started
  before the raise that the controller could not stop (a communication loss: the drive finishes
  its command or its watchdog stops it) is not counted as a hazard but reported in nL.
* ``reservoir_negative``: the drive drew more fluid than the reservoir held.
* ``alarm_latency``: a drive fault injected by the drawn schedule (stall, occlusion, reset,
  communication loss, partial delivery, garbled reply) not followed by a HIGH alarm within
  :data:`LATENCY_LIMIT_STEPS` controller steps taken while dosing (phase ``active`` or
  ``alarm``), counted from the fault's instant to the step that raised the alarm, inclusive
  (:func:`alarm_latencies`). A fault while a HIGH alarm is already active needs none.
* ``count_lost``: an order the drive's own log of its commands says it moved fluid for, of
  which the core counts less (:func:`lost_counts`: the largest count the core accepted for it,
  final or not; an order the core never counted, forgotten at a restart, counts as 0): what the
  core counts must never be less than what the drive moved, across a controller restart above
  all (the orders found in flight are reconciled from the drive, REQ-PERS-004).
* ``silent_stop``: a stop the clinician did not choose (phase ``alarm``, or ``suspended``
  entered from it) with no HIGH alarm sounding (none present, or each one silenced) for more
  than :data:`SILENT_STOP_LIMIT_S` (:func:`silent_stops`, :func:`sounding_spans`).
* ``under_delivery``: a rolling 24 h window, wholly inside a quiet stretch (phase ``active``,
  no alarm of any priority, no drawn fault), in which less drug left the tip than the accepted
  program asks for (its basal over the window plus the patient boluses granted in it; a bolus
  granted while the fluid path holds two concentrations at the lean / rich share of its dose,
  as the core sizes it at the richer one), beyond :data:`UNDER_DELIVERY_ALLOWANCE`
  (:func:`under_delivery_windows`: every window end, exactly, not a sample).
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from itdose.adapters.cohort_drive import DriveInterval, max_windows_of_drive
from itdose.adapters.cohort_fraction import Fraction
from itdose.core.units import DAY_S

__all__ = [
    "DAY_S",
    "HAZARDS",
    "LATENCY_LIMIT_STEPS",
    "SILENT_STOP_LIMIT_S",
    "UNDER_DELIVERY_ALLOWANCE",
    "BasalPeriod",
    "Catheter",
    "Delivery",
    "FillEvent",
    "Piece",
    "PumpEvent",
    "Reference",
    "WindowResult",
    "WithdrawEvent",
    "alarm_latencies",
    "bolus_hazards",
    "check_patient",
    "high_alarm_hazards",
    "lost_counts",
    "max_window_brute",
    "max_windows",
    "max_windows_exact",
    "silent_stops",
    "sounding_spans",
    "under_delivery_windows",
]

HAZARDS = (
    "tip_over_hard_max",
    "lockout",
    "bolus_count",
    "delivery_after_high",
    "reservoir_negative",
    "alarm_latency",
    "under_delivery",
    "count_lost",
    "silent_stop",
)
"""Every hazard kind the reference counts, in report order."""


@dataclass(frozen=True)
class FillEvent:
    """Fluid added to the reservoir at ``t_s``: ``volume_nl`` of ``drug`` at ``conc_ng_per_ml``."""

    t_s: int
    volume_nl: int
    drug: str
    conc_ng_per_ml: int


@dataclass(frozen=True)
class WithdrawEvent:
    """Fluid taken out of the reservoir through the fill port at ``t_s``."""

    t_s: int
    volume_nl: int


@dataclass(frozen=True)
class PumpEvent:
    """The drive drew ``volume_nl`` of fluid from the reservoir over ``[t0_s, t1_s]``, for a
    command it started at ``command_s`` (``None``: not known, taken as ``t0_s``).

    With ``rate_nl_per_h`` (the simulated drive's log), the drive's own steps: by whole second
    ``n`` the command had turned ``floor(rate x (n - command_s) / 3600)`` nominal nL, ``done_nl``
    of them before ``t0_s``, and drew that times ``(10**6 + ppm) / 10**6`` of fluid, rounded
    down with the remainder carried (``carry`` millionths of a nL at ``t0_s``). Without it, the
    fluid moves uniformly over the interval (an idealised drive)."""

    t0_s: int
    t1_s: int
    volume_nl: int
    command_s: int | None = None
    rate_nl_per_h: int | None = None
    done_nl: int = 0
    ppm: int = 0
    carry: int = 0


Delivery = FillEvent | WithdrawEvent | PumpEvent


LATENCY_LIMIT_STEPS = 1
"""A drive fault must raise a HIGH alarm within this many controller steps while dosing: the
step at the fault's instant polls the drive (a fault is a wake-up) and must raise it
(REQ-ALM-001, REQ-ALM-004): a controller that misses the fault and raises an alarm only when the
order's count falls behind takes 2 or more."""

UNDER_DELIVERY_ALLOWANCE = Fraction(1, 200)
"""Share of the programmed amount a quiet 24 h window may fall short by: the drive's whole-
nanolitre counts, the orders' rounding down (carried to the next order) and a remnant of old fluid
moved with the next order after a concentration change. The fault model's own shortfalls (a
partial delivery, a lost count, a stall) come with an alarm and are outside quiet windows."""


SILENT_STOP_LIMIT_S = 600
"""The longest a stop the clinician did not choose may go without a HIGH alarm present: the
rules' bound on a HIGH alarm's silence (R-ALM-2, 10 minutes). A clinician who clears the last
HIGH alarm and resumes at the same visit leaves the pump stopped, attended, for the seconds
between the two (the cohort's answers: at most 150 s)."""


@dataclass(frozen=True)
class Piece:
    """Drug that left the tip: ``amount_fg`` of one drug, uniformly over ``[a, b]`` (seconds)."""

    a: Fraction
    b: Fraction
    amount_fg: Fraction


@dataclass
class Catheter:
    """A first-in-first-out fluid path of fixed volume: segments ``[volume_nl, {drug: fg}]``,
    tip first. At implant it holds ``volume_nl`` of fluid without drug."""

    volume_nl: Fraction
    segments: deque[tuple[Fraction, dict[str, Fraction]]] = field(default_factory=deque)
    changes: int = field(default=0, compare=False)
    """Segments appended or removed so far. The concentrations the segments hold change only
    then: fluid merged into the last segment has its concentrations, and a segment the tip
    takes a share of keeps its own (both exact)."""

    def __post_init__(self) -> None:
        if not self.segments and self.volume_nl > 0:
            self.segments.append((self.volume_nl, {}))

    def push(
        self, volume: Fraction, composition: dict[str, Fraction]
    ) -> list[tuple[Fraction, Fraction, dict[str, Fraction]]]:
        """Push ``volume`` (carrying ``composition``: fg per drug) in at the pump end; return
        what leaves the tip as ``(start, end, fg per drug)`` volume offsets within the push."""
        out: list[tuple[Fraction, Fraction, dict[str, Fraction]]] = []
        if self.volume_nl == 0:
            return [(Fraction(0), volume, dict(composition))] if volume else []
        last = self.segments[-1] if self.segments else None
        same = last is not None and last[1].keys() == composition.keys()
        if same:
            assert last is not None
            last_v, last_c = last
            for d, fg in composition.items():
                if fg * last_v != last_c[d] * volume:
                    same = False
                    break
        if same:
            assert last is not None
            # the same concentrations as the fluid last pushed: one segment (a FIFO of uniform
            # fluid is the same whatever its segments; this keeps the queue short)
            if len(self.segments) == 1 and last[0] > 0 and volume > 0:
                # the path holds only this fluid: the volume pushed leaves the tip with the
                # drug pushed, the path unchanged (what merging and taking the head gives, in
                # exact arithmetic, without the sums)
                return [(Fraction(0), volume, {d: composition[d] for d in last[1]})]
            self.segments[-1] = (
                last[0] + volume,
                {d: fg + composition[d] for d, fg in last[1].items()},
            )
            if last[0] == 0:  # an empty segment (nothing pushed) takes concentrations now
                self.changes += 1
        else:
            self.segments.append((volume, dict(composition)))
            self.changes += 1
        left, pos = volume, Fraction(0)
        while left > 0:
            v, comp = self.segments[0]
            take = min(v, left)
            share = take / v
            moved = {d: fg * share for d, fg in comp.items()}
            out.append((pos, pos + take, moved))
            if take == v:
                self.segments.popleft()
                self.changes += 1
            else:
                self.segments[0] = (v - take, {d: fg - moved[d] for d, fg in comp.items()})
            left -= take
            pos += take
        return out


@dataclass(frozen=True)
class WindowResult:
    """The largest rolling 24 h amount of one drug and the windows above the limit."""

    max_fg: Fraction
    at_s: Fraction
    """The end of the largest window."""
    episodes_over: int
    """Runs of consecutive evaluated window ends above the limit."""


def _cum(
    pieces: Sequence[Piece], ends: Sequence[Fraction], prefix: Sequence[Fraction], x: Fraction
) -> Fraction:
    """Drug that left by ``x`` (pieces sorted, non-overlapping)."""
    i = bisect.bisect_right(ends, x)  # pieces [0, i) have ended by x
    total = prefix[i]
    if i < len(pieces):
        p = pieces[i]
        if p.a < x < p.b:
            total += p.amount_fg * (x - p.a) / (p.b - p.a)
    return total


def max_windows_exact(pieces: Sequence[Piece], limit_fg: int) -> WindowResult:
    """:func:`max_windows` in exact arithmetic at every candidate (the slow reference of the
    fast path, and the path taken when a piece has no duration)."""
    ps = sorted(pieces, key=lambda p: (p.a, p.b))
    if not ps:
        return WindowResult(Fraction(0), Fraction(0), 0)
    ends = [p.b for p in ps]
    prefix = [Fraction(0)]
    for p in ps:
        prefix.append(prefix[-1] + p.amount_fg)
    cands = sorted({p.b for p in ps} | {p.a + DAY_S for p in ps})
    best, best_t, episodes, over = Fraction(-1), Fraction(0), 0, False
    for t in cands:
        w = _cum(ps, ends, prefix, t) - _cum(ps, ends, prefix, t - DAY_S)
        if w > best:
            best, best_t = w, t
        now_over = w > limit_fg
        if now_over and not over:
            episodes += 1
        over = now_over
    return WindowResult(best, best_t, episodes)


def max_windows(pieces: Sequence[Piece], limit_fg: int) -> WindowResult:
    """The largest amount in any window ``(T - 86400, T]`` over sorted, non-overlapping pieces,
    and the runs of candidate window ends above ``limit_fg``.

    Exact where it matters, fast elsewhere: every candidate is first evaluated in floating point
    (two pointers over the pieces); a candidate whose value is within a bound of the float error
    of the limit or of the largest value is evaluated again exactly, so the over/under decision
    of every candidate and the maximum are those of :func:`max_windows_exact`. Candidates are
    ordered exactly (by ``(float(t), t)``: rounding to float is monotone)."""
    ps = sorted(pieces, key=lambda p: (p.a, p.b))
    if not ps:
        return WindowResult(Fraction(0), Fraction(0), 0)
    if any(p.a == p.b for p in ps):
        return max_windows_exact(ps, limit_fg)
    fa, fb, fw, fprefix = _float_table(ps)
    cands = [(x, p.b) for x, p in zip(fb, ps, strict=True)]
    cands += [(x + DAY_S, p.a + DAY_S) for x, p in zip(fa, ps, strict=True)]
    cands.sort()
    tol = 1e-9 * (fprefix[-1] + limit_fg) + 1e4
    his = _float_cums(ps, fa, fb, fw, fprefix, (t for t, _ in cands))
    los = _float_cums(ps, fa, fb, fw, fprefix, (t - DAY_S for t, _ in cands))
    approx = [hi - lo for hi, lo in zip(his, los, strict=True)]
    ends = [p.b for p in ps]
    prefix = [Fraction(0)]
    for p in ps:
        prefix.append(prefix[-1] + p.amount_fg)

    def exact(t: Fraction) -> Fraction:
        return _cum(ps, ends, prefix, t) - _cum(ps, ends, prefix, t - DAY_S)

    top = max(approx)
    best, best_t = Fraction(-1), Fraction(0)
    episodes, over = 0, False
    for (_, t), w in zip(cands, approx, strict=True):
        value: Fraction | None = None
        if w >= top - tol:
            value = exact(t)
            if value > best:
                best, best_t = value, t
        if abs(w - limit_fg) <= tol:
            value = exact(t) if value is None else value
            now_over = value > limit_fg
        else:
            now_over = w > limit_fg
        if now_over and not over:
            episodes += 1
        over = now_over
    return WindowResult(best, best_t, episodes)


def _overlap(p: Piece, lo: Fraction, hi: Fraction) -> Fraction:
    """Drug of ``p`` in the window ``(lo, hi]``."""
    if p.a == p.b:
        return p.amount_fg if lo < p.a <= hi else Fraction(0)
    a, b = max(p.a, lo), min(p.b, hi)
    return p.amount_fg * (b - a) / (p.b - p.a) if b > a else Fraction(0)


def max_window_brute(pieces: Sequence[Piece]) -> Fraction:
    """Test oracle: every window end at a piece boundary or a boundary + 24 h, summed directly."""
    cands = {p.a for p in pieces} | {p.b for p in pieces}
    cands |= {c + DAY_S for c in cands}
    return max(
        (sum((_overlap(p, t - DAY_S, t) for p in pieces), Fraction(0)) for t in cands),
        default=Fraction(0),
    )


@dataclass
class Reference:
    """The reference state of one patient: reservoir mixture, catheter, pieces per drug."""

    dead_volume_nl: Fraction
    reservoir_nl: Fraction = field(default_factory=lambda: Fraction(0))
    reservoir_fg: dict[str, Fraction] = field(default_factory=dict)
    pieces: dict[str, list[Piece]] = field(default_factory=dict)
    pumped: list[PumpEvent] = field(default_factory=list)
    negative: int = 0
    unstoppable_nl: Fraction = field(default_factory=lambda: Fraction(0))
    latencies: list[int | None] = field(default_factory=list)
    """Per drawn drive fault: controller steps to its HIGH alarm (:func:`alarm_latencies`)."""
    delivered_ratio: Fraction = field(default_factory=lambda: Fraction(1))
    """The smallest tip amount / programmed amount over the quiet 24 h windows."""
    lean_rich: list[tuple[int, Fraction]] = field(default_factory=list)
    """From each instant on, the leanest / richest concentration of drug in the fluid path (1
    while it holds one): the share of its dose a bolus granted then is planned to deliver."""
    intervals: list[DriveInterval] = field(default_factory=list)
    """The drive's intervals with their own whole-nanolitre steps and what they drew."""
    stepped: bool = True
    """Every interval came with the drive's steps (``PumpEvent.rate_nl_per_h``)."""
    catheter: Catheter = field(init=False)
    _ratio_seen: int = field(default=-1, init=False, repr=False, compare=False)
    """``catheter.changes`` when ``lean_rich``'s last ratio was computed (-1: never)."""

    def __post_init__(self) -> None:
        self.catheter = Catheter(self.dead_volume_nl)

    def apply(self, event: Delivery) -> None:
        """Apply one fill, withdrawal or delivery interval."""
        if isinstance(event, FillEvent):
            self.reservoir_nl += event.volume_nl
            fg = Fraction(event.volume_nl * event.conc_ng_per_ml)
            self.reservoir_fg[event.drug] = self.reservoir_fg.get(event.drug, Fraction(0)) + fg
        elif isinstance(event, WithdrawEvent):
            self._draw(Fraction(event.volume_nl))
        else:
            self.pumped.append(event)
            v = Fraction(event.volume_nl)
            comp = self._draw(v)
            if event.rate_nl_per_h is None or event.command_s is None:
                self.stepped = False
            else:
                self.intervals.append(
                    DriveInterval(
                        event.t0_s,
                        event.t1_s,
                        event.volume_nl,
                        event.command_s,
                        event.rate_nl_per_h,
                        event.done_nl,
                        event.ppm,
                        event.carry,
                        comp,
                    )
                )
            dt = event.t1_s - event.t0_s
            for lo, hi, moved in self.catheter.push(v, comp):
                # a piece from the start or to the end of the push: the interval's own ends
                a = Fraction(event.t0_s) if lo == 0 else event.t0_s + dt * lo / v
                b = Fraction(event.t1_s) if hi == v else event.t0_s + dt * hi / v
                for drug, fg in moved.items():
                    if fg > 0:
                        self.pieces.setdefault(drug, []).append(Piece(a, b, fg))
            if self.catheter.changes != self._ratio_seen:  # else the concentrations are
                self._ratio_seen = self.catheter.changes  # those of the last ratio
                ratio = lean_rich_ratio(self.catheter.segments)
                if not self.lean_rich or self.lean_rich[-1][1] != ratio:
                    self.lean_rich.append((event.t1_s, ratio))

    def _draw(self, v: Fraction) -> dict[str, Fraction]:
        """Take ``v`` nL of the mixture out of the reservoir (a shortfall is counted)."""
        if v > self.reservoir_nl:
            self.negative += 1
        have = self.reservoir_nl
        share = min(Fraction(1), v / have) if have > 0 else Fraction(0)
        comp = {d: fg * share for d, fg in self.reservoir_fg.items()}
        self.reservoir_fg = {d: fg - comp[d] for d, fg in self.reservoir_fg.items()}
        self.reservoir_nl = max(Fraction(0), have - v)
        return comp


def bolus_hazards(grants: Iterable[int], lockout_s: int, max_per_24h: int) -> tuple[int, int]:
    """(lockout violations, bolus-count violations) among granted patient boluses at ``grants``."""
    ts = sorted(grants)
    lockout = sum(1 for x, y in itertools.pairwise(ts) if y - x < lockout_s)
    count = 0
    for i, t in enumerate(ts):  # the window (t - 24 h, t] ending at each grant
        first = bisect.bisect_right(ts, t - DAY_S)
        if i + 1 - first > max_per_24h:
            count += 1
    return lockout, count


def high_alarm_hazards(
    pumped: Iterable[PumpEvent], spans: Iterable[tuple[int, int | None]], end_s: int
) -> tuple[int, Fraction, Fraction]:
    """Fluid moved strictly inside a HIGH alarm span ``(raised, cleared)``: (intervals of commands
    started at or after the raise, their nL, nL of commands started before it that the
    controller could not stop, e.g. during a communication loss, until the drive's own end or
    watchdog)."""
    events, volume, unstoppable = 0, Fraction(0), Fraction(0)
    windows = sorted((r, end_s if c is None else c) for r, c in spans)
    # each (interval, span) pair that can overlap (the span raised before the interval ends and
    # cleared after it starts), by one sweep over the intervals by start: the same pairs as
    # trying every span for every interval, and the sums are exact whatever their order
    live: list[tuple[int, int]] = []
    k = 0
    for e in sorted(pumped, key=lambda p: p.t0_s):
        while k < len(windows) and windows[k][0] < e.t1_s:
            live.append(windows[k])
            k += 1
        if live:
            live = [w for w in live if w[1] > e.t0_s]  # never again: later ones start later
        for r, c in live:
            lo, hi = max(e.t0_s, r), min(e.t1_s, c)
            if hi > lo and e.t1_s > e.t0_s:
                moved = Fraction(e.volume_nl * (hi - lo), e.t1_s - e.t0_s)
                started = e.t0_s if e.command_s is None else e.command_s
                if started >= r:
                    events += 1
                    volume += moved
                else:
                    unstoppable += moved
    return events, volume, unstoppable


def lean_rich_ratio(segments: Iterable[tuple[Fraction, dict[str, Fraction]]]) -> Fraction:
    """The leanest over the richest concentration of drug in the catheter's ``segments``
    (volume, amount of each drug): 1 when it holds one concentration or none."""
    concs = {fg / vol for vol, c in segments if vol > 0 for fg in c.values() if fg > 0}
    return min(concs) / max(concs) if concs else Fraction(1)


def check_patient(
    dead_volume_nl: Fraction,
    log: Iterable[Delivery],
    hard_max_ng: dict[str, int],
    grants: Iterable[int],
    lockout_s: int | None,
    max_per_24h: int | None,
    high_spans: Iterable[tuple[int, int | None]],
    end_s: int,
    *,
    faults: Sequence[int] = (),
    dosing_steps: Sequence[int] = (),
    high_raises: Sequence[tuple[int, int]] = (),
    programs: Sequence[BasalPeriod] = (),
    quiet: Sequence[tuple[int, int]] = (),
    drug: str | None = None,
) -> tuple[dict[str, int], dict[str, WindowResult], Reference]:
    """Run the reference over one patient's true delivery log; hazard counts per kind, the
    largest window per drug, and the final reference state. ``faults`` (drawn drive fault
    instants), ``dosing_steps`` and ``high_raises`` (:func:`alarm_latencies`) feed the alarm
    latency check; ``programs`` (the accepted
    programs of ``drug``, in order) and ``quiet`` (stretches without alarms, faults or a phase
    other than ``active``) the under-delivery check."""
    ref = Reference(dead_volume_nl)
    grants_list = list(grants)
    spans = list(high_spans)
    for event in log:
        ref.apply(event)
    counts = dict.fromkeys(HAZARDS, 0)
    windows: dict[str, WindowResult] = {}
    for d, pieces in ref.pieces.items():
        limit_fg = hard_max_ng[d] * 10**6
        if ref.stepped:
            top, at, over = max_windows_of_drive(ref.intervals, dead_volume_nl, d, limit_fg)
            w = WindowResult(top, Fraction(at), over)
        else:
            w = max_windows(pieces, limit_fg)
        windows[d] = w
        counts["tip_over_hard_max"] += w.episodes_over
    if lockout_s is not None and max_per_24h is not None:
        counts["lockout"], counts["bolus_count"] = bolus_hazards(
            grants_list, lockout_s, max_per_24h
        )
    counts["delivery_after_high"], _, ref.unstoppable_nl = high_alarm_hazards(
        ref.pumped, spans, end_s
    )
    counts["reservoir_negative"] = ref.negative
    ref.latencies = alarm_latencies(faults, dosing_steps, high_raises, spans)
    counts["alarm_latency"] = sum(1 for x in ref.latencies if x is None or x > LATENCY_LIMIT_STEPS)
    if drug is not None and programs:
        grants_sorted = sorted(grants_list)
        counts["under_delivery"], ref.delivered_ratio = under_delivery_windows(
            ref.pieces.get(drug, []), programs, grants_sorted, quiet, lean_rich=ref.lean_rich
        )
    return counts, windows, ref


def lost_counts(counted: dict[int, int], drive_counts: dict[int, int]) -> int:
    """Orders the drive moved fluid for (``drive_counts``: order id -> nL its ended commands
    delivered, from the drive's own log) of which the core counts less (``counted``: order id
    -> the largest cumulative count the core accepted for it, final or not). An order the core
    never counted (forgotten at a restart: no report, no final count) counts as 0, so it is
    lost if the drive moved anything for it."""
    return sum(1 for order, nl in drive_counts.items() if nl > counted.get(order, 0))


def sounding_spans(
    marks: Sequence[tuple[int, tuple[int, ...] | None]], end_s: int
) -> list[tuple[int, int]]:
    """Where a HIGH alarm sounds: ``marks`` are the changes of the alarms present, each as its
    instant and, per HIGH alarm present, the instant from which it sounds (the instant itself,
    or the end of its silence; ``None`` or empty: no HIGH alarm). A HIGH alarm silenced sounds
    again when its pause ends (R-ALM-3), so between two marks the sound starts at the earliest
    of those instants. Returns merged ``(from, to)`` spans up to ``end_s``."""
    out: list[tuple[int, int]] = []
    for (t, sound), (nxt, _) in itertools.pairwise([*marks, (end_s, None)]):
        if not sound:
            continue
        a = max(t, min(sound))
        if a >= nxt:
            continue
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], nxt)
        else:
            out.append((a, nxt))
    return out


def silent_stops(
    phases: Sequence[tuple[int, str]],
    high_spans: Iterable[tuple[int, int | None]],
    end_s: int,
    limit_s: int = SILENT_STOP_LIMIT_S,
) -> tuple[int, int]:
    """Stops no alarm announces: (episodes longer than ``limit_s``, the longest in seconds).

    A stop the clinician did not choose is one in phase ``alarm`` (delivery halted by a
    critical condition) or in phase ``suspended`` entered from ``alarm`` (the clear of its last
    HIGH alarm, before the clinician's resume); ``phases`` are ``(instant, phase)`` changes. It
    is silent where no HIGH alarm sounds (``high_spans``: ``(from, to)``, ``None``: to
    ``end_s``; :func:`sounding_spans`: none present, or each one silenced). Abrupt baclofen
    withdrawal is dangerous and the pump's alarms are its prevention (docs/clinical-basis.md,
    H6): a pump stopped with nothing sounding is a patient left without drug unannounced
    (R-ALM-1, R-BACL-1). A deliberate stop (a suspension, a refill, an MRI, each confirmed by the
    clinician) is not judged."""
    marks = [*phases, (end_s, "")]
    stops: list[tuple[int, int]] = []
    before = ""
    for (a, ph), (b, _) in itertools.pairwise(marks):
        if b > a and (ph == "alarm" or (ph == "suspended" and before == "alarm")):
            stops.append((a, b))
        before = ph
    highs = sorted((r, end_s if c is None else c) for r, c in high_spans)
    silent: list[tuple[int, int]] = []
    for a, b in stops:
        pos = a
        for r, c in highs:
            if c <= pos or r >= b:
                continue
            if r > pos:
                silent.append((pos, r))
            pos = max(pos, c)
            if pos >= b:
                break
        if pos < b:
            silent.append((pos, b))
    merged: list[tuple[int, int]] = []
    for a, b in silent:
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return (
        sum(1 for a, b in merged if b - a > limit_s),
        max((b - a for a, b in merged), default=0),
    )


def alarm_latencies(
    faults: Iterable[int],
    dosing_steps: Sequence[int],
    raises: Sequence[tuple[int, int]],
    high_spans: Iterable[tuple[int, int | None]],
) -> list[int | None]:
    """For each drive fault at an instant in ``faults``: the controller steps taken while dosing
    from the fault to the one that raised a HIGH alarm, inclusive (``dosing_steps``: the sorted
    instants at which such steps ended; ``raises``: each HIGH alarm raised, as its instant and
    the number of dosing steps ended before it); 0 if a HIGH alarm was already active;
    ``None`` if none was raised after it."""
    spans = list(high_spans)
    at = [r for r, _ in raises]
    out: list[int | None] = []
    for t in faults:
        if any(r < t and (c is None or c > t) for r, c in spans):
            out.append(0)
            continue
        k = bisect.bisect_left(at, t)
        if k == len(at):
            out.append(None)
            continue
        out.append(max(1, raises[k][1] - bisect.bisect_left(dosing_steps, t) + 1))
    return out


@dataclass(frozen=True)
class BasalPeriod:
    """An accepted program in effect from ``start_s``: its basal schedule as ``(offset_s,
    ng_per_day)`` steps over a day (one step: continuous), and its patient bolus
    ``(dose_ng, duration_s)`` if any."""

    start_s: int
    steps: tuple[tuple[int, int], ...]
    bolus: tuple[int, int] | None

    def daily_ng(self) -> Fraction:
        """Drug the schedule delivers over any 24 h (a daily schedule repeats)."""
        bounds = [s for s, _ in self.steps] + [DAY_S]
        return sum(
            (Fraction(d * (bounds[i + 1] - s), DAY_S) for i, (s, d) in enumerate(self.steps)),
            Fraction(0),
        )


_Terms = tuple[
    Fraction | None,
    list[tuple[int, Fraction | int]],
    list[tuple[int, Fraction, Fraction | int, int]],
]


def _program_terms(
    periods: Sequence[BasalPeriod],
    grants: Sequence[int],
    lo: Fraction | int,
    hi: Fraction | int,
    lean_rich: Sequence[tuple[int, Fraction]],
) -> _Terms | None:
    """What the accepted programs ask for over ``(lo, hi]`` (``hi - lo`` is a day), as terms:
    the daily amount of the one program in effect (or ``None``), the basal ``(ng per day,
    seconds)`` of each continuous program in effect, and each granted bolus's ``(dose, share,
    seconds of it inside, duration)`` (an instant bolus inside: ``(dose, share, 1, 1)``).
    ``None`` when a flex schedule changes inside (its phase is unknown). A bolus granted while
    the fluid path holds two concentrations is sized at the richer one (the dose is never
    exceeded): its share is ``lean_rich`` there."""
    starts = [p.start_s for p in periods]
    i = bisect.bisect_right(starts, lo) - 1
    if i < 0:
        return None
    inside = [p for p in periods[i + 1 :] if p.start_s < hi]
    active = [periods[i], *inside]
    daily: Fraction | None = None
    basal: list[tuple[int, Fraction | int]] = []
    if not inside:
        daily = active[0].daily_ng()
    elif any(len(p.steps) != 1 for p in active):
        return None
    else:
        for p, nxt in zip(active, [*[q.start_s for q in inside], hi], strict=True):
            basal.append((p.steps[0][1], nxt - max(lo, p.start_s)))
    boluses: list[tuple[int, Fraction, Fraction | int, int]] = []
    for g in grants[bisect.bisect_right(grants, lo - 86_400) : bisect.bisect_right(grants, hi)]:
        j = bisect.bisect_right(starts, g) - 1
        bolus = periods[j].bolus if j >= 0 else None
        if bolus is None:
            continue
        k = bisect.bisect_right(lean_rich, (g, Fraction(2))) - 1
        share = lean_rich[k][1] if k >= 0 else Fraction(1)
        dose, dur = bolus
        if dur == 0:
            if lo < g <= hi:
                boluses.append((dose, share, 1, 1))
            continue
        a, b = max(g, lo), min(g + dur, hi)
        if b > a:
            boluses.append((dose, share, b - a, dur))
    return daily, basal, boluses


def _programmed(
    periods: Sequence[BasalPeriod],
    grants: Sequence[int],
    lo: Fraction | int,
    hi: Fraction | int,
    lean_rich: Sequence[tuple[int, Fraction]] = (),
) -> Fraction | None:
    """The accepted programs' basal over ``(lo, hi]`` (``hi - lo`` is a day) plus the granted
    boluses' share in it, exactly; ``None`` when a flex schedule changes inside
    (:func:`_program_terms`)."""
    terms = _program_terms(periods, grants, lo, hi, lean_rich)
    if terms is None:
        return None
    daily, basal, boluses = terms
    total = daily if daily is not None else Fraction(0)
    for ng_per_day, seconds in basal:
        total += Fraction(ng_per_day * seconds, DAY_S)
    for dose, share, part, dur in boluses:
        total += dose * share * Fraction(part, dur)
    return total


def _programmed_float(
    periods: Sequence[BasalPeriod],
    grants: Sequence[int],
    lo: Fraction | int,
    hi: Fraction | int,
    lean_rich: Sequence[tuple[int, Fraction]],
) -> float | None:
    """:func:`_programmed` in floating point (which windows are judged is decided exactly)."""
    terms = _program_terms(periods, grants, lo, hi, lean_rich)
    if terms is None:
        return None
    daily, basal, boluses = terms
    total = float(daily) if daily is not None else 0.0
    for ng_per_day, seconds in basal:
        total += ng_per_day * float(seconds) / DAY_S
    for dose, share, part, dur in boluses:
        total += dose * float(share) * float(part) / dur
    return total


def _float_table(
    ps: Sequence[Piece],
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Starts, ends, amounts and the prefix sums of the amounts of sorted pieces, as floats."""
    fa = [float(p.a) for p in ps]
    fb = [float(p.b) for p in ps]
    fw = [float(p.amount_fg) for p in ps]
    fprefix = [0.0]
    for amount in fw:
        fprefix.append(fprefix[-1] + amount)
    return fa, fb, fw, fprefix


def _float_cums(
    ps: Sequence[Piece],
    fa: list[float],
    fb: list[float],
    fw: list[float],
    fprefix: list[float],
    ts: Iterable[float],
) -> list[float]:
    """Drug that left by each of the ascending instants ``ts``, in floating point (one pass)."""
    out = []
    n, j = len(ps), 0
    for t in ts:
        while j < n and fb[j] <= t:
            j += 1
        v = fprefix[j]
        if j < n and fa[j] < t:
            v += fw[j] * (t - fa[j]) / (fb[j] - fa[j])
        out.append(v)
    return out


def under_delivery_windows(
    pieces: Sequence[Piece],
    periods: Sequence[BasalPeriod],
    grants: Sequence[int],
    quiet: Iterable[tuple[int, int]],
    lean_rich: Sequence[tuple[int, Fraction]] = (),
) -> tuple[int, Fraction]:
    """Every quiet 24 h window ``(T - 24 h, T]`` (``a + 24 h <= T <= b`` for each quiet stretch
    ``(a, b)``) in which the drug at the tip fell short of the program by more than
    :data:`UNDER_DELIVERY_ALLOWANCE`: (episodes, the smallest ratio delivered / programmed).

    Exact, not sampled: both the tip amount and the programmed amount of a window are piecewise
    linear in ``T`` (the pieces are uniform; a continuous program is prorated, a bolus counts
    over its duration), with breakpoints where ``T`` or ``T - 24 h`` meets a piece's start or
    end, a program's start or a bolus's start or end. Between two breakpoints the shortfall
    ``delivered - (1 - allowance) x programmed`` is linear and the ratio monotone, so the
    breakpoints decide every window: an episode is a run of consecutive breakpoints whose window
    is short (windows the program does not judge, a change of flex program inside, are
    skipped). Each breakpoint is evaluated in floating point first and again exactly (fractions)
    where the float value is within a bound of its error of the allowance or of the smallest
    ratio, so the decisions and the smallest ratio are the exact ones."""
    ps = sorted(pieces, key=lambda p: (p.a, p.b))
    ends = [p.b for p in ps]
    prefix = [Fraction(0)]
    for p in ps:
        prefix.append(prefix[-1] + p.amount_fg)
    fa, fb, fw, fprefix = _float_table(ps)
    gs = sorted(grants)
    starts = [p.start_s for p in periods]
    flex = any(len(p.steps) != 1 for p in periods)
    # the programmed amount's breakpoints (window ends): a program's start, a bolus's start and
    # end, as the window's end or its start
    wset: set[int] = set(starts)
    instant = False
    for g in gs:
        j = bisect.bisect_right(starts, g) - 1
        bolus = periods[j].bolus if j >= 0 else None
        if bolus is not None:
            wset.update((g, g + bolus[1]))
            instant = instant or bolus[1] == 0
    wpoints = sorted({x for x0 in wset for x in (x0, x0 + DAY_S)})
    pbreaks = sorted(
        {x for p in ps for x in (p.a, p.b, p.a + DAY_S, p.b + DAY_S)}, key=lambda x: (float(x), x)
    )
    pkeys = [float(x) for x in pbreaks]
    wanted: dict[Fraction | int, float | None] = {}

    def want_at(t: Fraction | int) -> float | None:
        if t not in wanted:
            wanted[t] = _programmed_float(periods, gs, t - DAY_S, t, lean_rich)
        return wanted[t]

    allow = 1 - UNDER_DELIVERY_ALLOWANCE
    fallow = float(allow)
    tol = 1e-9 * (fprefix[-1] if fprefix else 0.0) + 1e4
    episodes, worst = 0, Fraction(1)
    for a, b in quiet:
        lo, hi = a + DAY_S, b
        if hi < lo:
            continue
        bounds = [lo, *wpoints[bisect.bisect_right(wpoints, lo) : bisect.bisect_left(wpoints, hi)]]
        bounds.append(hi)
        cands: list[tuple[float, Fraction | int]] = [
            (float(x), x)
            for x in pbreaks[bisect.bisect_left(pkeys, lo) : bisect.bisect_right(pkeys, hi)]
            if lo < x < hi
        ]
        cands += [(float(x), x) for x in bounds]
        cands.sort()
        hs = [t for _, t in cands]
        fts = [f for f, _ in cands]
        got_f = [
            x - y
            for x, y in zip(
                _float_cums(ps, fa, fb, fw, fprefix, fts),
                _float_cums(ps, fa, fb, fw, fprefix, [f - DAY_S for f in fts]),
                strict=True,
            )
        ]
        # the programmed amount at each candidate: at the bounds, and linear between them
        k = 0
        wants: list[float | None] = []
        for t, ft in zip(hs, fts, strict=True):
            while k + 1 < len(bounds) and bounds[k + 1] <= t:
                k += 1
            if t == bounds[k] or instant:
                wants.append(want_at(t))
                continue
            w1, w2 = bounds[k], bounds[k + 1]
            mid = Fraction(w1 + w2, 2)
            if flex and _programmed_float(periods, gs, mid - DAY_S, mid, lean_rich) is None:
                wants.append(None)
                continue
            v1, v2 = want_at(w1), want_at(w2)
            assert v1 is not None and v2 is not None
            wants.append(v1 + (v2 - v1) * (ft - w1) / (w2 - w1))
        top = min(
            (
                got_t / (want_t * 1e6)
                for got_t, want_t in zip(got_f, wants, strict=True)
                if want_t is not None and want_t > 0
            ),
            default=2.0,
        )
        short = False
        for t, got_t, want_t in zip(hs, got_f, wants, strict=True):
            if want_t is None or want_t <= -tol:
                continue
            want_fg = want_t * 1e6
            near_top = got_t <= (top + 1e-9) * want_fg + tol
            near_limit = abs(got_t - fallow * want_fg) <= tol
            if not (near_top or near_limit):
                if want_t > 0:
                    now_short = got_t < fallow * want_fg
                    if now_short and not short:
                        episodes += 1
                    short = now_short
                continue
            v = _programmed(periods, gs, t - DAY_S, t, lean_rich)
            if v is None or v <= 0:
                continue
            got_exact = _cum(ps, ends, prefix, Fraction(t)) - _cum(
                ps, ends, prefix, Fraction(t) - DAY_S
            )
            worst = min(worst, got_exact / (v * 10**6))
            now_short = got_exact < allow * v * 10**6
            if now_short and not short:
                episodes += 1
            short = now_short
    return episodes, worst
