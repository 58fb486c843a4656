"""Z3 obligation for the rolling 24 h ledger at the catheter tip (REQ-GOV-004, REQ-GOV-005).

The ledger's arithmetic (:func:`itdose.core.ledger.peak`, :func:`~itdose.core.ledger.total_at`,
:func:`~itdose.core.ledger.window_total`, :func:`~itdose.core.ledger.rough`) is written once
against :class:`~itdose.core.arith.Ops`: the runtime runs it on ints, LEDGER-Z3 evaluates the very
same functions on z3 terms (:class:`~itdose.proofs.z3ops.Z3Ops`). The ledger's bookkeeping
(``Ledger.record``, ``Ledger.live``, ``Ledger.window_total_fg``, the merge past ``MAX_PIECES``)
branches in Python; it is executed *unchanged* on symbolic integers
(:class:`~itdose.proofs.explore.Explorer`), every feasible path followed, with a coverage claim.

The model the claims are stated against is written here from the rules, not from the ledger's
helpers: the window at ``t`` is ``(t - 86400, t]`` (docs/dosing-rules.md, R-TIME-2), for every
real ``t`` (the drive moves fluid continuously; the core's instants are whole seconds, the
windows a patient lives through are not); the drive moves the drug of an order no faster than its
pace (SAFETY.md, "What the drive is trusted for"): in any interval of ``d`` seconds at most
``pace x d``. A recorded piece of an order (``amount`` left the tip by its last report ``end``,
which is not after ``now``) then holds in the window the part that left after ``t - 86400``:
nothing if all of it had left by then, else at most ``pace x (end - (t - 86400))``. Drug that may
still leave (a flow from ``start``) holds ``F(t) - F(t - 86400)`` where ``F(x)``, what left by
``x``, is zero up to ``start``, never decreasing, at most the amount, and grows no faster than
the pace. The drug in the window is a real number (fluid), so a rounding down would show.

Scope: the paces are concrete per shape (with symbolic paces the arithmetic is non-linear and z3
gives no answer in time); amounts, ends, starts, ``now`` and the window end are symbolic. The
shapes cover one and two recorded pieces with one and two flows, equal paces (the tail of one
order and the head of the next add up to exactly one order), different periods (an hourly order
and a day of basal: one common period) and a term with no pace.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import z3  # type: ignore[import-untyped]

from itdose.core import ledger as ledger_mod
from itdose.core.arith import INT_OPS, Ops
from itdose.core.ledger import Ledger, Piece
from itdose.proofs.explore import Explorer, Leaf, covered, run_any, term
from itdose.proofs.z3ops import Z3Ops, ZBool, ZInt

if TYPE_CHECKING:  # the registry imports this module lazily: no cycle at run time
    from itdose.proofs.obligations import Case, Claim, Obligation, Shown

__all__ = [
    "PEAK_SHAPES",
    "instant_claims",
    "merge_claims",
    "obligations",
    "peak_claims",
    "record_claims",
    "window_claims",
]

W = ledger_mod.WINDOW_S
HOUR = 3_600

PeakShape = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]
"""The paces ``(pace_fg, pace_s)`` of the recorded pieces and of the flows."""

PEAK_SHAPES: tuple[PeakShape, ...] = (
    (((5, HOUR),), ((5, HOUR),)),  # one order's tail, the next order's head at the same pace
    (((7, HOUR),), ((3, HOUR),)),
    (((5, HOUR), (7, HOUR)), ((3, HOUR),)),
    (((5, HOUR),), ((3, HOUR), (11, HOUR))),
    (((5, HOUR),), ((5, HOUR), (2, W))),  # an hourly order and a day of basal after it
    (((0, HOUR),), ((4, HOUR), (1, 1))),  # no pace; a bolus allowance paced per second
)
EXACT_SHAPES: tuple[PeakShape, ...] = (*PEAK_SHAPES[:2], *PEAK_SHAPES[4:])
"""The shapes the exactness claim is decided on (two three-term shapes of hourly paces are left
out: each takes z3 over a second, and the day-of-basal shape already has three terms)."""
SMALL_PEAK_SHAPES: tuple[PeakShape, ...] = PEAK_SHAPES[:3]
"""The shapes a seeded broken variant is run on: enough for a counterexample, and fast."""

PeakFn = Callable[[Ops[Any, Any], Sequence[Any], Sequence[Any], Any, Any], Any]


def _real(x: ZInt) -> Any:
    return z3.ToReal(x)


def _min(a: Any, b: Any) -> Any:
    return z3.If(a <= b, a, b)


def _max(a: Any, b: Any) -> Any:
    return z3.If(a >= b, a, b)


def _latest_tail(end: ZInt, amount: ZInt, pace: tuple[int, int], t: Any) -> Any:
    """The model: drug of a recorded piece in the window ending at real ``t`` when the drive
    delivered it as late as its pace allows (at full pace up to ``end``)."""
    fg, s = pace
    after = _max(z3.RealVal(0), _real(end) - (t - W))
    return _min(_real(amount), z3.RealVal(fg) * after / s)


def _latest_head(start: ZInt, amount: ZInt, pace: tuple[int, int], t: Any) -> Any:
    """The model: drug of a flow in the window ending at real ``t`` when the drive delivers it
    at full pace from ``start`` (the most the window can hold of it)."""
    fg, s = pace
    since = _max(z3.RealVal(0), _min(t - _real(start), z3.RealVal(W)))
    return _min(_real(amount), z3.RealVal(fg) * since / s)


@dataclasses.dataclass
class _PeakInstance:
    """One shape with symbolic amounts, ends, starts, ``now`` and a real window end ``t``."""

    now: ZInt
    t: Any
    pieces: list[tuple[ZInt, ZInt, ZInt]]
    piece_paces: tuple[tuple[int, int], ...]
    flows: list[tuple[ZInt, ZInt, ZInt]]
    flow_paces: tuple[tuple[int, int], ...]
    period: int
    assumptions: list[ZBool]
    contents: list[Any]
    shown: list[tuple[str, Any, str]]


def _instance(shape: PeakShape) -> _PeakInstance:
    piece_paces, flow_paces = shape
    period = ledger_mod.common_period(*(s for _, s in (*piece_paces, *flow_paces)))
    now = z3.Int("now")
    t = z3.Real("window_end")
    assumptions: list[ZBool] = [now >= 0, t >= _real(now)]
    shown: list[tuple[str, Any, str]] = [("now", now, "s"), ("window end", t, "")]
    pieces, flows, contents = [], [], []
    for i, (fg, s) in enumerate(piece_paces):
        end, amount = z3.Ints(f"piece{i}_end piece{i}_amount_fg")
        held = z3.Real(f"piece{i}_in_window_fg")
        t0 = t - W
        assumptions += [
            end >= 0,
            end <= now,
            amount >= 0,
            held >= 0,
            held <= _real(amount),
            # all of it had left by the window's start: none of it is in the window
            z3.Implies(_real(end) <= t0, held == 0),
            # the pace: what left after t0 left in the last end - t0 seconds before end
            z3.Implies(_real(end) > t0, held * s <= fg * (_real(end) - t0)),
        ]
        pieces.append((end, amount, z3.IntVal(fg * (period // s))))
        contents.append(held)
        shown += [
            (f"piece {i} end", end, "s"),
            (f"piece {i} amount (fg)", amount, ""),
            (f"piece {i} pace", z3.StringVal(f"{fg} fg per {s} s"), ""),
            (f"piece {i} in the window (fg)", held, ""),
        ]
    for j, (fg, s) in enumerate(flow_paces):
        start, amount = z3.Ints(f"flow{j}_start flow{j}_amount_fg")
        before, by = z3.Reals(f"flow{j}_left_by_window_start flow{j}_left_by_window_end")
        assumptions += [
            start >= 0,
            amount >= 0,
            before >= 0,
            before <= by,
            by <= _real(amount),
            z3.Implies(t - W <= _real(start), before == 0),
            z3.Implies(t <= _real(start), by == 0),
            (by - before) * s <= fg * W,
            z3.Implies(t > _real(start), by * s <= fg * (t - _real(start))),
        ]
        flows.append((start, amount, z3.IntVal(fg * (period // s))))
        contents.append(by - before)
        shown += [
            (f"flow {j} start", start, "s"),
            (f"flow {j} amount (fg)", amount, ""),
            (f"flow {j} pace", z3.StringVal(f"{fg} fg per {s} s"), ""),
            (f"flow {j} in the window (fg)", by - before, ""),
        ]
    return _PeakInstance(
        now, t, pieces, piece_paces, flows, flow_paces, period, assumptions, contents, shown
    )


def _live_peak(ops: Ops[Any, Any], pieces: Any, flows: Any, now: Any, period: Any) -> Any:
    return ledger_mod.peak(ops, pieces, flows, now, period)


def _live_rough(ops: Ops[Any, Any], pieces: Any, flows: Any) -> Any:
    return ledger_mod.rough(ops, [amount for _, amount, _ in (*pieces, *flows)])


def _divisions(ops: Z3Ops) -> ZBool:
    return z3.And(*ops.side_conditions) if ops.side_conditions else z3.BoolVal(True)


def peak_claims(
    peak: PeakFn | None = None,
    rough: Callable[..., Any] | None = None,
    shapes: Sequence[PeakShape] = PEAK_SHAPES,
) -> list[Claim]:
    """The peak claims on every shape (the live ``ledger.peak`` and ``ledger.rough`` on z3)."""
    from itdose.proofs.obligations import Case, Claim

    peak_fn = peak or _live_peak
    rough_fn = rough or _live_rough
    cases: dict[str, list[Case]] = {k: [] for k in ("bound", "exact", "rough", "division")}
    for shape in shapes:
        inst = _instance(shape)
        ops = Z3Ops()
        domain = z3.And(*inst.assumptions)
        try:
            value = peak_fn(ops, inst.pieces, inst.flows, inst.now, z3.IntVal(inst.period))
            total = rough_fn(ops, inst.pieces, inst.flows)
            z3.And(value >= 0, total >= 0, _divisions(ops))
        except (RuntimeError, RecursionError):
            raise
        except Exception as exc:  # the peak raised on every input of this shape
            raised: Shown = (*inst.shown, ("raised", z3.StringVal(repr(exc)[:200]), ""))
            for k in cases:
                cases[k].append(Case(domain, z3.BoolVal(False), raised))
            continue
        shown: Shown = (*inst.shown, ("peak (fg)", value, ""), ("rough sum (fg)", total, ""))
        held = z3.Sum(*inst.contents) if inst.contents else z3.RealVal(0)
        cases["bound"].append(Case(domain, held <= _real(value), shown))
        # the latest pace-keeping deliveries at now and where a term's slope falls
        ends = [_real(inst.now)]
        for (end, amount, _), (fg, s) in zip(inst.pieces, inst.piece_paces, strict=True):
            if fg:
                ends.append(_real(end) + W - _real(amount) * s / fg)
        for (start, amount, _), (fg, s) in zip(inst.flows, inst.flow_paces, strict=True):
            if fg:
                ends.append(_real(start) + _min(_real(amount) * s / fg, z3.RealVal(W)))

        def latest(t: Any, inst: _PeakInstance = inst) -> Any:
            parts = [
                _latest_tail(e, a, pace, t)
                for (e, a, _), pace in zip(inst.pieces, inst.piece_paces, strict=True)
            ]
            parts += [
                _latest_head(s, a, pace, t)
                for (s, a, _), pace in zip(inst.flows, inst.flow_paces, strict=True)
            ]
            return z3.Sum(*parts) if parts else z3.RealVal(0)

        best: Any = latest(ends[0])
        for e in ends[1:]:
            best = _max(best, z3.If(e >= _real(inst.now), latest(e), z3.RealVal(0)))
        if shape in EXACT_SHAPES:
            cases["exact"].append(
                Case(domain, z3.And(best <= _real(value), _real(value) < best + 1), shown)
            )
        amounts = [a for _, a, _ in (*inst.pieces, *inst.flows)]
        plain = z3.Sum(*amounts) if amounts else z3.IntVal(0)
        cases["rough"].append(Case(domain, z3.And(value <= total, total == plain), shown))
        cases["division"].append(Case(domain, _divisions(ops), shown))
    names = {
        "bound": "the peak bounds the drug in every 24 h window ending at or after now, for every "
        "delivery that keeps each order's pace (REQ-GOV-004, REQ-GOV-002)",
        "exact": "the peak is exact: the latest pace-keeping deliveries reach it at now or where a "
        "term's slope falls, and it is rounded up by less than 1 fg (REQ-TIP-004)",
        "rough": "the fast path's sum is exactly the plain sum of the amounts, never below the "
        "peak (the within-the-limit fast path is sound, REQ-GOV-002)",
        "division": "every division in the peak has a non-negative dividend and a positive divisor",
    }
    return [Claim(names[k], (), z3.BoolVal(True), (), cases=tuple(c)) for k, c in cases.items()]


# --- the bookkeeping, executed symbolically ------------------------------------------------------

_NOW = 10 * W
"""An instant far from zero, so that windows before it are not cut at the start of time."""
WINDOW_PACES: tuple[tuple[int, int], ...] = ((5, HOUR), (7, HOUR))


def _cases(
    domain: ZBool, leaves: Sequence[Leaf], goal: Callable[[Leaf], ZBool], shown: Shown
) -> list[Case]:
    from itdose.proofs.obligations import Case

    out = [Case(domain, covered(leaves), shown)]
    for leaf in leaves:
        ok = z3.BoolVal(False) if leaf.error is not None else _safe(goal, leaf)
        out.append(Case(z3.And(domain, leaf.pc), ok, shown))
    return out


def _safe(goal: Callable[[Leaf], ZBool], leaf: Leaf) -> ZBool:
    """``goal(leaf)``, or false when the path's result cannot be read as the goal needs (a
    result of the wrong shape or type is a defect on that path)."""
    try:
        return goal(leaf)
    except Exception:
        return z3.BoolVal(False)


WindowFn = Callable[[Ledger, Any], Any]


def _live_window(ledger: Ledger, t: Any) -> Any:
    return ledger.window_total_fg(t)


def _pieces(ex: Explorer, paces: Sequence[tuple[int, int]]) -> tuple[list[Any], list[ZBool]]:
    out, domain = [], []
    for i, (fg, s) in enumerate(paces):
        start, end, amount = (ex.fresh(f"piece{i}_{n}") for n in ("start", "end", "amount_fg"))
        domain += [start.term >= 0, end.term >= start.term, amount.term >= 0]
        out.append((i + 1, start, end, amount, fg, s))
    for a, b in itertools.pairwise(out):
        domain.append(a[2].term <= b[2].term)  # the ledger keeps its pieces in order of their ends
    return out, domain


def window_claims(window: WindowFn | None = None) -> list[Claim]:
    """The live ``Ledger.window_total_fg`` on two symbolic pieces at a symbolic instant."""
    from itdose.proofs.obligations import Claim

    window_fn = window or _live_window
    ex = Explorer()
    raw, domain = _pieces(ex, WINDOW_PACES)
    t = ex.fresh("t")
    domain += [t.term >= raw[-1][2].term]
    ex.assume(*domain)

    def run() -> Any:
        return window_fn(Ledger(tuple(Piece(*p) for p in raw)), t)

    leaves = run_any(ex, run)
    t0 = t.term - W
    shown: Shown = (
        ("t", t.term, "s"),
        *(
            (f"piece {i} {n}", term(p[k]), "s" if n != "amount (fg)" else "")
            for i, p in enumerate(raw)
            for k, n in ((1, "start"), (2, "end"), (3, "amount (fg)"))
        ),
    )
    paced = [term(p[3]) * p[5] <= p[4] * (term(p[2]) - term(p[1])) for p in raw]
    model = z3.Sum(
        *[_latest_tail(term(p[2]), term(p[3]), (p[4], p[5]), _real(t.term)) for p in raw]
    )

    def exact(leaf: Leaf) -> ZBool:
        got = _real(term(leaf.result))
        return z3.And(model <= got, got < model + 1)

    # every piece either wholly inside (t - 86400, t] (it started at or after the window's start
    # and kept its pace) or wholly before it (it ended by the window's start)
    inside = [z3.And(paced[i], term(p[1]) >= t0) for i, p in enumerate(raw)]
    before = [term(p[2]) <= t0 for p in raw]
    sorted_out = z3.And(*[z3.Or(a, b) for a, b in zip(inside, before, strict=True)])
    counted = z3.Sum(*[z3.If(inside[i], term(p[3]), 0) for i, p in enumerate(raw)])

    def in_window(leaf: Leaf) -> ZBool:
        return z3.Implies(sorted_out, term(leaf.result) == counted)

    dom = z3.And(*ex.assumptions)
    return [
        Claim(
            "the window total is exactly the most the pieces can hold in (t - 24 h, t] for a drive "
            "that kept each order's pace, rounded up by less than 1 fg (REQ-GOV-005, REQ-GOV-004)",
            (),
            z3.BoolVal(True),
            (),
            cases=tuple(_cases(dom, leaves, exact, shown)),
        ),
        Claim(
            "the window total counts in full every piece delivered inside (t - 24 h, t] and "
            "nothing of a piece that ended by t - 24 h (REQ-GOV-005)",
            (),
            z3.BoolVal(True),
            (),
            cases=tuple(_cases(dom, leaves, in_window, shown)),
        ),
    ]


RecordFn = Callable[..., Ledger]


def _live_record(ledger: Ledger, *args: Any) -> Ledger:
    return ledger.record(*args)


def _record_cases(record_fn: RecordFn, order_id: int) -> list[Case]:
    ex = Explorer()
    raw, domain = _pieces(ex, WINDOW_PACES)
    t, start, amount, pace = (ex.fresh(n) for n in ("t", "start", "amount_fg", "pace_fg"))
    domain += [t.term >= raw[-1][2].term, start.term >= 0, start.term <= t.term]
    domain += [amount.term >= 0, pace.term >= 0]
    ex.assume(*domain)

    def run() -> Any:
        before = Ledger(tuple(Piece(*p) for p in raw))
        return record_fn(before, t, order_id, start, amount, pace, HOUR)

    leaves = run_any(ex, run)
    t0 = t.term - W
    live_before = z3.Sum(*[z3.If(term(p[2]) > t0, term(p[3]), 0) for p in raw])
    mine = [z3.If(term(p[2]) > t0, term(p[3]), 0) for p in raw if p[0] == order_id]
    old = z3.Sum(*mine) if mine else z3.IntVal(0)
    shown: Shown = (
        ("order", z3.IntVal(order_id), ""),
        ("t", t.term, "s"),
        ("reported amount (fg)", amount.term, ""),
        *(
            (f"piece {i} {n}", term(p[k]), "")
            for i, p in enumerate(raw)
            for k, n in ((2, "end"), (3, "amount (fg)"))
        ),
    )

    def goal(leaf: Leaf) -> ZBool:
        after: Ledger = leaf.result
        live_after = z3.Sum(
            *[z3.If(term(p.end_s) > t0, term(p.amount_fg), 0) for p in after.pieces]
        )
        newest = after.pieces[-1]
        return z3.And(
            live_after == live_before + amount.term,
            term(newest.end_s) == t.term,
            z3.BoolVal(newest.order_id == order_id),
            term(newest.amount_fg) == old + amount.term,
        )

    return _cases(z3.And(*ex.assumptions), leaves, goal, shown)


def record_claims(record: RecordFn | None = None) -> list[Claim]:
    """The live ``Ledger.record`` on two symbolic pieces: a report of the first order (it adds to
    its piece) and of a new order, each of a symbolic amount at a symbolic instant."""
    from itdose.proofs.obligations import Claim

    record_fn = record or _live_record
    cases = [*_record_cases(record_fn, 1), *_record_cases(record_fn, 3)]
    return [
        Claim(
            "a record adds exactly the reported amount to the drug in the window, on the order's "
            "own piece, which ends at the report (REQ-GOV-005)",
            (),
            z3.BoolVal(True),
            (),
            cases=tuple(cases),
        )
    ]


MergeFn = Callable[[Piece, Piece], Piece]
MERGE_PACES: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((5, HOUR), (7, HOUR)),
    ((5, HOUR), (3, 60)),  # different periods: each pace rounded up to the shorter one
)


def _live_merge(a: Piece, b: Piece) -> Piece:
    return ledger_mod._merge(a, b)


def merge_claims(merge: MergeFn | None = None) -> list[Claim]:
    """The live merge past ``MAX_PIECES`` on two symbolic pieces: the merged piece bounds both in
    every window (the model's drug of both pieces is within what the ledger reads of the merged
    one), so memory is bounded by over-counting only."""
    from itdose.proofs.obligations import Case, Claim

    merge_fn = merge or _live_merge
    cases: list[Case] = []
    for paces in MERGE_PACES:
        ex = Explorer()
        raw, domain = _pieces(ex, paces)
        t = z3.Real("window_end")
        t0 = t - W
        held = []
        for i, p in enumerate(raw):
            c = z3.Real(f"piece{i}_in_window_fg")
            end, amount, fg, s = term(p[2]), term(p[3]), p[4], p[5]
            domain += [
                c >= 0,
                c <= _real(amount),
                z3.Implies(_real(end) <= t0, c == 0),
                z3.Implies(_real(end) > t0, c * s <= fg * (_real(end) - t0)),
            ]
            held.append(c)
        ex.assume(*domain)

        def run(raw: list[Any] = raw) -> Piece:
            return merge_fn(Piece(*raw[0]), Piece(*raw[1]))

        leaves = run_any(ex, run)
        shown: Shown = (
            ("window end", t, ""),
            *(
                (f"piece {i} {n}", term(p[k]), "")
                for i, p in enumerate(raw)
                for k, n in ((2, "end"), (3, "amount (fg)"))
            ),
            *((f"piece {i} in the window (fg)", c, "") for i, c in enumerate(held)),
        )

        fa, pa, fb, pb = raw[0][4], raw[0][5], raw[1][4], raw[1][5]
        short = min(pa, pb)
        # the merged pace: both rates over the shorter period, each rounded up to a whole fg
        pace = math.ceil(Fraction(fa * short, pa)) + math.ceil(Fraction(fb * short, pb))

        def goal(
            leaf: Leaf,
            t: Any = t,
            held: list[Any] = held,
            short: int = short,
            pace: int = pace,
            raw: list[Any] = raw,
        ) -> ZBool:
            m: Piece = leaf.result
            bound = _latest_tail(term(m.end_s), term(m.amount_fg), (m.pace_fg, m.pace_s), t)
            a, b = raw[0], raw[1]
            first = z3.If(term(a[1]) <= term(b[1]), term(a[1]), term(b[1]))
            last = z3.If(term(a[2]) >= term(b[2]), term(a[2]), term(b[2]))
            return z3.And(
                held[0] + held[1] <= bound,
                z3.BoolVal(m.order_id == min(a[0], b[0]) and m.pace_s == short),
                z3.BoolVal(m.pace_fg == pace),
                term(m.start_s) == first,
                term(m.end_s) == last,
                term(m.amount_fg) == term(a[3]) + term(b[3]),
            )

        cases += _cases(z3.And(*ex.assumptions), leaves, goal, shown)
    # an instant merged with a paced piece stays an instant (its end read one second later)
    try:
        flag = merge_fn(Piece(1, 0, 5, 1, 1, 1, True), Piece(2, 0, 6, 1, 1, 1)).instant is True
    except Exception:
        flag = False
    cases.append(
        Case(z3.BoolVal(True), z3.BoolVal(flag), (("instant kept", z3.BoolVal(flag), ""),))
    )
    return [
        Claim(
            "two pieces merged past MAX_PIECES: the merged piece bounds the drug of both in "
            "every window (memory is bounded by over-counting only, REQ-GOV-005)",
            (),
            z3.BoolVal(True),
            (),
            cases=tuple(cases),
        )
    ]


InstantRecordFn = Callable[..., Ledger]
INSTANT_PACE = 9
"""The pace an instant is recorded with in the instant claims: ``INSTANT_PACE`` fg per second,
its amount symbolic up to it (the handlers record an instant at its own amount per second)."""
INSTANT_FLOWS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((1, 1),),  # a bolus paced per second given in the last second before the instant leaves
    ((3, HOUR),),
)
"""The paces of the flows beside the instant, one shape each."""


def _live_instant(ledger: Ledger, *args: Any) -> Ledger:
    return ledger.record(*args, instant=True)


def instant_claims(record: InstantRecordFn | None = None) -> list[Claim]:
    """An amount counted at an instant (the emergency-MRI worst case, a trial dose): the live
    ``Ledger.record(..., instant=True)`` is executed on a symbolic instant and amount, and the
    live ``ledger.peak`` (z3 terms) of its piece and of a flow bounds, for every real window end
    ``t >= now``, the model written from the rules: the whole amount while the window contains
    the instant (``t - 86400 < instant``), nothing after, plus the flow's drug."""
    from itdose.proofs.obligations import Claim

    record_fn = record or _live_instant
    cases: list[Case] = []
    for flow_paces in INSTANT_FLOWS:
        inst = _instance(((), flow_paces))
        period = ledger_mod.common_period(1, inst.period)
        ex = Explorer()
        at, amount = ex.fresh("instant_s"), ex.fresh("instant_amount_fg")
        ex.assume(at.term >= 0, amount.term >= 0, amount.term <= INSTANT_PACE)

        def run(at: Any = at, amount: Any = amount) -> Ledger:
            return record_fn(Ledger(), at, 1, at, amount, INSTANT_PACE, 1)

        leaves = run_any(ex, run)
        held = z3.If(_real(at.term) > inst.t - W, _real(amount.term), z3.RealVal(0))
        model = held + z3.Sum(*inst.contents)
        shown: Shown = (
            *inst.shown,
            ("instant", at.term, "s"),
            ("instant amount (fg)", amount.term, ""),
            ("instant in the window (fg)", held, ""),
        )

        def goal(
            leaf: Leaf, inst: _PeakInstance = inst, model: Any = model, period: int = period
        ) -> ZBool:
            ledger: Ledger = leaf.result
            terms = []
            for piece in ledger.pieces:
                last, amt, rate = piece.term(period)
                terms.append((term(last), term(amt), z3.IntVal(rate)))
            value = ledger_mod.peak(Z3Ops(), terms, inst.flows, inst.now, z3.IntVal(period))
            return model <= _real(value)

        domain = z3.And(*ex.assumptions, *inst.assumptions, at.term <= inst.now)
        cases += _cases(domain, leaves, goal, shown)
    return [
        Claim(
            "an amount counted at an instant stays in full in every 24 h window that contains "
            "the instant: the peak of its recorded piece and a flow bounds every window ending "
            "at or after now (REQ-GOV-005, REQ-MRI-006, REQ-GOV-002)",
            (),
            z3.BoolVal(True),
            (),
            cases=tuple(cases),
        )
    ]


# --- seeded broken variants ----------------------------------------------------------------------


def _peak_at_now_only(ops: Ops[Any, Any], pieces: Any, flows: Any, now: Any, period: Any) -> Any:
    """The window ending now only: later windows, where the drug in flight arrives, ignored."""
    return ledger_mod.peak(ops, pieces, (), now, period)


def _peak_rounded_down(ops: Ops[Any, Any], pieces: Any, flows: Any, now: Any, period: Any) -> Any:
    """The exact peak, but every candidate's value rounded down."""
    best = ops.floor_div(ledger_mod.total_at(ops, pieces, flows, now, ops.lit(1), period), period)
    for num, den in ledger_mod.candidates(ops, pieces, flows, period):
        total = ledger_mod.total_at(ops, pieces, flows, num, den, period)
        value = ops.floor_div(total, ops.mul(period, den))
        best = ops.max_(best, ops.ite(ops.ge(num, ops.mul(now, den)), value, ops.lit(0)))
    return best


def _peak_flows_age_out(ops: Ops[Any, Any], pieces: Any, flows: Any, now: Any, period: Any) -> Any:
    """A flow counted at full pace for its first 24 h only from now (its start ignored): an
    over-count, which the exactness claim must refuse (no accounting margin, REQ-TIP-004)."""
    early = [(ops.lit(0), a, r) for _, a, r in flows]
    return ledger_mod.peak(ops, pieces, early, now, period)


def _rough_without_flows(ops: Ops[Any, Any], pieces: Any, flows: Any) -> Any:
    """The fast path's sum without the drug in flight."""
    return ledger_mod.rough(ops, [amount for _, amount, _ in pieces])


def _window_short(ledger: Ledger, t: Any) -> Any:
    """The window one second short, (t - 86399, t]: the live tails read one second late."""
    live = ledger.live(t)
    period = ledger_mod.common_period(*(p.pace_s for p in live))
    ops = INT_OPS
    total = ops.lit(0)
    for p in live:
        total = ops.add(total, ledger_mod.tail(ops, p.term(period), t - W + 1, 1, period, 0))
    return ops.ceil_div(total, period)


def _window_rounded_down(ledger: Ledger, t: Any) -> Any:
    live = ledger.live(t)
    period = ledger_mod.common_period(*(p.pace_s for p in live))
    total = ledger_mod.total_at(INT_OPS, [p.term(period) for p in live], (), t, 1, period)
    return INT_OPS.floor_div(total, period)


def _window_bound_inclusive(ledger: Ledger, t: Any) -> Any:
    """``<`` for ``<=``: a piece that ended at the window's start counted in full (its drug left
    at or before t - 86400, outside the half-open window)."""
    total = _live_window(ledger, t)
    for p in ledger.pieces:
        if p.end_s == t - W:
            total = total + p.amount_fg
    return total


def _record_overwrites(ledger: Ledger, *args: Any) -> Ledger:
    """A second report of an order replaces its piece's amount instead of adding to it."""
    new = ledger.record(*args)
    last = dataclasses.replace(new.pieces[-1], amount_fg=args[3])
    return Ledger((*new.pieces[:-1], last))


def _record_drops_other_orders(ledger: Ledger, *args: Any) -> Ledger:
    """A report keeps only the newest piece of the ledger besides its own."""
    new = ledger.record(*args)
    return Ledger(new.pieces[-2:])


def _merge_larger_pace(a: Piece, b: Piece) -> Piece:
    """The merged piece at the larger of the two paces instead of their sum."""
    m = ledger_mod._merge(a, b)
    fast = a if a.pace_fg * b.pace_s >= b.pace_fg * a.pace_s else b
    return dataclasses.replace(m, pace_fg=fast.pace_fg, pace_s=fast.pace_s)


def _instant_as_one_second(ledger: Ledger, *args: Any) -> Ledger:
    """An instant recorded as a one-second delivery ending at it (its piece read as ending at
    the instant: part of it leaves the window in the second before instant + 24 h)."""
    return ledger.record(*args)


def _all_claims(**kw: Any) -> list[Claim]:
    return [
        *peak_claims(kw.get("peak"), shapes=kw.get("shapes", PEAK_SHAPES)),
        *window_claims(kw.get("window")),
        *record_claims(kw.get("record")),
        *merge_claims(kw.get("merge")),
        *instant_claims(kw.get("instant")),
    ]


def obligations() -> tuple[Obligation, ...]:
    from itdose.proofs import ledger_book_z3
    from itdose.proofs.obligations import Broken, Obligation

    small = SMALL_PEAK_SHAPES
    return (
        Obligation(
            "LEDGER-Z3",
            "the ledger's exact peak bounds every later 24 h window; a record adds exactly the "
            "reported amount; the window total is exactly what (t - 24 h, t] can hold",
            ("REQ-GOV-004", "REQ-GOV-005", "REQ-GOV-007", "REQ-TIP-004"),
            "The live ledger.peak and ledger.rough, evaluated on z3 terms (the runtime's integer "
            "arithmetic, cross-multiplied, written once on Ops), for recorded pieces and flows "
            "with symbolic amounts, ends, starts and now: the peak is at least the drug in every "
            "window (t - 86400, t] ending at any real t >= now for every delivery that keeps "
            "each order's pace (a model written from the rules, not from the ledger); it is "
            "reached by the latest pace-keeping deliveries and rounded up by less than 1 fg; the "
            "plain sum is never below it; every division is in the Ops domain. The live "
            "Ledger.window_total_fg, executed on symbolic integers, is exactly the most two "
            "pieces can hold in (t - 86400, t] (rounded up by less than 1 fg), counts a piece "
            "delivered inside the window in full and nothing of one that ended by its start; "
            "the live Ledger.record adds exactly the reported amount to the order's own piece "
            "(or a new one), ending at the report; the live merge past MAX_PIECES gives a piece "
            "that bounds the drug of both in every window. The live Ledger.record of an amount "
            "counted at an instant (instant=True), executed on a symbolic instant and amount, "
            "gives a piece whose live peak with a flow bounds every window ending at any real "
            "t >= now, the instant's amount in full while the window contains the instant.",
            "No hand model of the code: the live functions are evaluated. The model of the "
            "deliveries (a piece's drug in the window at most its pace times the time it was "
            "still leaving; a flow zero before its start, monotone, at most its amount and its "
            "pace) is written in the proof from the rules. Scope: the paces are concrete per "
            "shape (one or two pieces, one or two flows; PEAK_SHAPES), the rest symbolic; the "
            "window total and record claims are on ledgers of two pieces. Not covered here: the "
            "int-only wrapper peak_fg's filter of aged-out pieces and its fast path (the fast "
            "path's bound is the rough claim), and that dosing passes the true pieces and flows "
            "(unit, property and stateful tests).",
            lambda: _all_claims(),
            (
                Broken(
                    "peak-now-only",
                    "the peak evaluated at now only (the drug in flight arriving later ignored)",
                    lambda: peak_claims(peak=_peak_at_now_only, shapes=small),
                ),
                Broken(
                    "peak-rounded-down",
                    "the peak rounded down instead of up",
                    lambda: peak_claims(peak=_peak_rounded_down, shapes=small),
                ),
                Broken(
                    "peak-over-count",
                    "a conservative margin: flows counted from now instead of their start",
                    lambda: peak_claims(peak=_peak_flows_age_out, shapes=small),
                ),
                Broken(
                    "rough-without-flows",
                    "the within-the-limit fast path sums the recorded pieces only",
                    lambda: peak_claims(rough=_rough_without_flows, shapes=small),
                ),
                Broken(
                    "window-short",
                    "the window one second short: (t - 86399, t]",
                    lambda: window_claims(window=_window_short),
                ),
                Broken(
                    "window-bound-inclusive",
                    "the window's start included (<= for <): a piece that ended at t - 86400 "
                    "counted",
                    lambda: window_claims(window=_window_bound_inclusive),
                ),
                Broken(
                    "window-rounded-down",
                    "the window total rounded down instead of up",
                    lambda: window_claims(window=_window_rounded_down),
                ),
                Broken(
                    "record-overwrites",
                    "a second report of an order overwrites its amount instead of adding",
                    lambda: record_claims(record=_record_overwrites),
                ),
                Broken(
                    "record-drops-pieces",
                    "a record keeps only the newest other piece",
                    lambda: record_claims(record=_record_drops_other_orders),
                ),
                Broken(
                    "instant-as-one-second",
                    "an amount counted at an instant recorded as a one-second delivery ending at "
                    "the instant",
                    lambda: instant_claims(record=_instant_as_one_second),
                ),
                Broken(
                    "merge-larger-pace",
                    "two pieces merged at the larger of their paces instead of the sum",
                    lambda: merge_claims(merge=_merge_larger_pace),
                ),
            ),
        ),
        *ledger_book_z3.obligations(),
    )
