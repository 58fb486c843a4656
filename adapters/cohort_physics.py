"""The independent physical reference of a cohort patient (docs/cohort-schema.md, "Checks").

It shares no code with the core's accounting (no import of ``itdose.core`` dosing, ledger, path or
governor): it takes what the simulated drive *truly* moved (fluid drawn from the reservoir, in nL,
over a time interval at the commanded rate), what the clinician put into and took out of the
reservoir, and the library's dead volume data, and pushes the fluid through its own
first-in-first-out catheter. Everything is exact (:class:`fractions.Fraction`): the reservoir is a
well-mixed volume (a withdrawal takes its mixture, a fill adds fluid), the catheter a queue of
segments, tip first, holding no drug at implant.

Model of one delivery interval: the drive moves ``volume_nl`` uniformly over ``[t0, t1]`` (its
commanded rate; the simulated drive integrates in closed form between events, so an interval
never spans a change of rate). The fluid that leaves the tip during it is the head of the catheter,
so one interval can leave as several pieces, each with one composition, over consecutive parts of
``[t0, t1]``. Known approximation: the simulated drive counts whole nanolitres (its cumulative is
``floor(rate x t)``), so a real window can hold up to 1 nL more than the uniform model at the
window's start edge; the reference does not add that nanolitre (stated in the report).

Checks (hazard kinds, :data:`HAZARDS`):

* ``tip_over_hard_max``: for each drug, every rolling 24 h window ``(T - 86400, T]`` of drug
  leaving the tip against the drug's hard daily maximum. The window amount is piecewise linear in
  ``T``; it is largest where a piece ends (``T = b``) or where the window's start passes a piece's
  start (``T = a + 86400``): every such instant is evaluated (:func:`max_windows`), and a brute
  force over the same instants (:func:`max_window_brute`) is the test oracle.
* ``lockout``, ``bolus_count``: granted patient boluses closer than the lockout, more than the
  maximum in any rolling 24 h.
* ``delivery_after_high``: fluid moved while a HIGH alarm was active (after it was raised,
  before it was cleared) by a command started after the raise. Fluid of a command started
  before the raise that the controller could not stop (a communication loss: the drive finishes
  its command or its watchdog stops it) is not counted as a hazard but reported in nL.
* ``reservoir_negative``: the drive drew more fluid than the reservoir held.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = [
    "DAY_S",
    "HAZARDS",
    "Catheter",
    "Delivery",
    "FillEvent",
    "Piece",
    "PumpEvent",
    "Reference",
    "WindowResult",
    "WithdrawEvent",
    "bolus_hazards",
    "check_patient",
    "high_alarm_hazards",
    "max_window_brute",
    "max_windows",
]

DAY_S = 86_400
HAZARDS = (
    "tip_over_hard_max",
    "lockout",
    "bolus_count",
    "delivery_after_high",
    "reservoir_negative",
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
    """The drive drew ``volume_nl`` of fluid from the reservoir, uniformly over ``[t0_s, t1_s]``,
    for a command it started at ``command_s`` (``None``: not known, taken as ``t0_s``)."""

    t0_s: int
    t1_s: int
    volume_nl: int
    command_s: int | None = None


Delivery = FillEvent | WithdrawEvent | PumpEvent


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
        self.segments.append((volume, dict(composition)))
        left, pos = volume, Fraction(0)
        while left > 0:
            v, comp = self.segments[0]
            take = min(v, left)
            share = take / v
            moved = {d: fg * share for d, fg in comp.items()}
            out.append((pos, pos + take, moved))
            if take == v:
                self.segments.popleft()
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


def max_windows(pieces: Sequence[Piece], limit_fg: int) -> WindowResult:
    """The largest amount in any window ``(T - 86400, T]`` over sorted, non-overlapping pieces."""
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
    reservoir_nl: Fraction = Fraction(0)
    reservoir_fg: dict[str, Fraction] = field(default_factory=dict)
    pieces: dict[str, list[Piece]] = field(default_factory=dict)
    pumped: list[PumpEvent] = field(default_factory=list)
    negative: int = 0
    unstoppable_nl: Fraction = Fraction(0)
    catheter: Catheter = field(init=False)

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
            dt = event.t1_s - event.t0_s
            for lo, hi, moved in self.catheter.push(v, comp):
                a = event.t0_s + dt * lo / v
                b = event.t0_s + dt * hi / v
                for drug, fg in moved.items():
                    if fg > 0:
                        self.pieces.setdefault(drug, []).append(Piece(a, b, fg))

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
    windows = [(r, end_s if c is None else c) for r, c in spans]
    for e in pumped:
        for r, c in windows:
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


def check_patient(
    dead_volume_nl: Fraction,
    log: Iterable[Delivery],
    hard_max_ng: dict[str, int],
    grants: Iterable[int],
    lockout_s: int | None,
    max_per_24h: int | None,
    high_spans: Iterable[tuple[int, int | None]],
    end_s: int,
) -> tuple[dict[str, int], dict[str, WindowResult], Reference]:
    """Run the reference over one patient's true delivery log; hazard counts per kind, the
    largest window per drug, and the final reference state."""
    ref = Reference(dead_volume_nl)
    for event in log:
        ref.apply(event)
    counts = dict.fromkeys(HAZARDS, 0)
    windows: dict[str, WindowResult] = {}
    for drug, pieces in ref.pieces.items():
        limit_fg = hard_max_ng[drug] * 10**6
        w = max_windows(pieces, limit_fg)
        windows[drug] = w
        counts["tip_over_hard_max"] += w.episodes_over
    if lockout_s is not None and max_per_24h is not None:
        counts["lockout"], counts["bolus_count"] = bolus_hazards(grants, lockout_s, max_per_24h)
    counts["delivery_after_high"], _, ref.unstoppable_nl = high_alarm_hazards(
        ref.pumped, high_spans, end_s
    )
    counts["reservoir_negative"] = ref.negative
    return counts, windows, ref
