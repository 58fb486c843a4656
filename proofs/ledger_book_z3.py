"""Z3 obligations for the ledger's pace check, its input checks and its bookkeeping on more pieces
(LEDGER-Z3-PACE, LEDGER-Z3-INPUTS, LEDGER-Z3-BOOK; REQ-GOV-004, REQ-GOV-005, REQ-GOV-011,
REQ-TIP-004).

LEDGER-Z3 (:mod:`itdose.proofs.ledger_z3`) proves the ledger's exact arithmetic on symbolic
amounts and times. These obligations run the rest of :mod:`itdose.core.ledger` *unchanged* on
symbolic integers (:class:`~itdose.proofs.explore.Explorer`, every feasible path followed):

- LEDGER-Z3-PACE: ``pace_nl_per_h`` is the order's volume over its duration per hour, rounded up;
  ``ahead_of_pace`` says "ahead" exactly when a report is more than the pace allows since the
  order's start, or since the previous report (one second and one nanolitre of slack each).
- LEDGER-Z3-INPUTS: ``Piece``, ``Ledger``, ``Ledger.record`` and ``Ledger.window_total_fg``
  accept exactly the valid inputs and raise the documented :class:`InvalidInput`, naming the
  field, on every other one (negative, wrong type, time going back, pieces out of order, more
  than 512 pieces).
- LEDGER-Z3-BOOK: ``Ledger.record`` on three pieces of different paces (one an instant) keeps
  exactly the live pieces of the other orders, in order, and gives the reported order one piece
  ending at the report with exactly the reported amount added, the earlier start, the larger
  pace and the instant flag of either; at 512 pieces it merges only the two oldest, into one
  that bounds both in every window; ``peak_fg`` (the int-only wrapper the dosing code calls:
  its filter of aged-out pieces, its common period, its within-the-limit fast path), at a
  symbolic ``now`` on ledgers of several pieces and flows, bounds the drug of every window
  ending at any real ``t >= now`` and is never more than 1 fg above the true peak, found by
  brute force over every instant where a term's slope changes; ``window_total_ng`` is the
  window total in ng rounded up.

Every path's exception is kept as the path's result (:func:`itdose.proofs.decisions_z3.explore`):
a path that raises anything but the documented :class:`InvalidInput` on an invalid input is a
claim failure with a counterexample, not a proof that could not be built. A result the claim
cannot read as it needs (a missing field, a wrong type) makes the claim false on that path.
The model is written here from the rules (docs/dosing-rules.md R-TIME-2; SAFETY.md "What the
drive is trusted for"), not from the ledger's helpers: the 24 h window, the 512-piece bound
and the units are constants of this module.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

import z3  # type: ignore[import-untyped]

from itdose.core import ledger as ledger_mod
from itdose.core.arith import floor_div
from itdose.core.errors import InvalidInput
from itdose.core.ledger import BolusHistory, Flow, Ledger, Piece
from itdose.proofs.decisions_z3 import explore, mutated
from itdose.proofs.explore import Leaf, SymInt, covered, term
from itdose.proofs.z3ops import ZBool, ZInt

if TYPE_CHECKING:  # the registry imports this module lazily: no cycle at run time
    from itdose.proofs.obligations import Claim, Obligation

__all__ = [
    "book_claims",
    "input_claims",
    "merge_at_bound_claims",
    "obligations",
    "pace_claims",
    "peak_fg_claims",
    "record_claims",
]

DAY = 86_400
"""The rolling window, 24 h in seconds (R-TIME-2), written from the rule."""
HOUR = 3_600
"""Seconds per hour: a pace is in nL per hour."""
KEPT = 512
"""The most pieces a ledger keeps (REQ-GOV-011): the documented bound, not the ledger's constant."""
FG_PER_NG = 10**6
"""1 ng in fg."""


# --- helpers -------------------------------------------------------------------------------------


def _sym(name: str) -> SymInt:
    return SymInt(z3.Int(name))


def _goal(leaf: Leaf, fn: Callable[[Leaf], ZBool]) -> ZBool:
    """``fn(leaf)``, or false when the leaf's result cannot be read as the claim needs (a result
    of the wrong shape or type is a defect on that path)."""
    try:
        out = fn(leaf)
    except Exception:
        return z3.BoolVal(False)
    return z3.BoolVal(out) if isinstance(out, bool) else out


def _on_leaves(leaves: Sequence[Leaf], fn: Callable[[Leaf], ZBool]) -> ZBool:
    """Every input is on some path, and every path's condition implies its goal."""
    return z3.And(covered(leaves), *[z3.Implies(leaf.pc, _goal(leaf, fn)) for leaf in leaves])


def _claim(
    name: str, assumptions: Sequence[ZBool], goal: ZBool, shown: Sequence[tuple[str, Any, str]]
) -> Claim:
    from itdose.proofs.obligations import Claim

    return Claim(name, tuple(assumptions), goal, tuple(shown))


def _first(bad: Sequence[tuple[str, ZBool]], field: str) -> ZBool:
    """The check of ``field`` is the first of ``bad`` (in the order the code makes them) to fail."""
    out = []
    for i, (name, cond) in enumerate(bad):
        if name == field:
            out.append(z3.And(cond, *[z3.Not(c) for _, c in bad[:i]]))
    return z3.Or(*out) if out else z3.BoolVal(False)


def _accepts_exactly(
    bad: Sequence[tuple[str, ZBool]], ok: Callable[[Leaf], ZBool] | None = None
) -> Callable[[Leaf], ZBool]:
    """A path's goal: it returns (and its result satisfies ``ok``) exactly when no check of
    ``bad`` fails, else it raises :class:`InvalidInput` naming the first failing field."""
    valid = z3.Not(z3.Or(*[c for _, c in bad])) if bad else z3.BoolVal(True)

    def goal(leaf: Leaf) -> ZBool:
        if leaf.error is None:
            return z3.And(valid, ok(leaf)) if ok is not None else valid
        if not isinstance(leaf.error, InvalidInput):
            return z3.BoolVal(False)
        return _first(bad, leaf.error.field)

    return goal


def _refused(name: str, exc: Exception) -> Claim:
    """A claim that fails: the code raised on the valid input the claim is built from."""
    return _claim(name, [], z3.BoolVal(False), [("raised", z3.StringVal(repr(exc)[:200]), "")])


def _raises(fn: Callable[[], Any], field: str) -> bool:
    """``fn()`` raises :class:`InvalidInput` naming ``field``."""
    try:
        fn()
    except InvalidInput as exc:
        return exc.field == field
    except Exception:
        return False
    return False


def _returns(fn: Callable[[], Any], ok: Callable[[Any], bool]) -> bool:
    try:
        return bool(ok(fn()))
    except Exception:
        return False


# --- LEDGER-Z3-PACE ------------------------------------------------------------------------------

PaceFn = Callable[[Any, Any], Any]
AheadFn = Callable[..., Any]
PACE_DURATIONS: tuple[int, ...] = (0, 1, 7, HOUR, DAY + 1)
"""Order durations (s) the pace claim is decided on, the volume symbolic: an order of no
duration is paced over one second."""
AHEAD_SHAPES: tuple[tuple[int, int, int], ...] = (
    (4_166, 0, HOUR),  # an hourly order from the start of time
    (100_000, 7_200, 7_200 + DAY),  # a day-long order
    (5, 1_000, 1_000),  # an order of no duration
    (7_201, 30, 32),  # a fast order: several nL per second
)
"""``(volume_nl, start_s, end_s)`` of the orders the pace check is decided on; the report, its
time and the previous report are symbolic."""


def _live_pace(volume: Any, duration: Any) -> Any:
    return ledger_mod.pace_nl_per_h(volume, duration)


def _live_ahead(*args: Any, **kw: Any) -> Any:
    return ledger_mod.ahead_of_pace(*args, **kw)


def _rule_pace(volume_nl: int, duration_s: int) -> int:
    """The pace written from the rule: the volume per hour over the order's duration (one second
    at least), rounded up so that a drive at this pace ends on time."""
    return math.ceil(Fraction(volume_nl * HOUR, max(duration_s, 1)))


def _pos(x: ZInt) -> ZInt:
    return z3.If(x > 0, x, 0)


def pace_claims(pace: PaceFn | None = None, ahead: AheadFn | None = None) -> list[Claim]:
    """The live ``pace_nl_per_h`` (a symbolic volume, each duration of :data:`PACE_DURATIONS`)
    and ``ahead_of_pace`` (each order of :data:`AHEAD_SHAPES`, a symbolic report at a symbolic
    time, with no previous report, with one, and with only its time given)."""
    return [*_pace_only(pace or _live_pace), *_ahead_only(ahead or _live_ahead)]


def _pace_only(pace_fn: PaceFn) -> list[Claim]:
    volume = _sym("volume_nl")
    pace_goals = []
    for d in PACE_DURATIONS:
        leaves = explore(functools.partial(pace_fn, volume, d), [volume.term >= 0])
        span = max(d, 1)

        def rounded_up(leaf: Leaf, span: int = span) -> ZBool:
            p = term(leaf.result)
            return z3.And(p * span >= volume.term * HOUR, (p - 1) * span < volume.term * HOUR)

        pace_goals.append(_on_leaves(leaves, _accepts_exactly((), rounded_up)))
    return [
        _claim(
            "the pace of an order is its volume per hour over its duration (one second at "
            "least), rounded up to a whole nL/h: a drive at the pace ends on time (REQ-TIP-004)",
            [volume.term >= 0],
            z3.And(*pace_goals),
            [
                ("volume", volume.term, "nL"),
                ("durations (s)", z3.StringVal(f"{PACE_DURATIONS}"), ""),
            ],
        )
    ]


def _ahead_only(
    ahead_fn: AheadFn, shapes: Sequence[tuple[int, int, int]] = AHEAD_SHAPES
) -> list[Claim]:
    claims: list[Claim] = []
    reported, now, prev_nl, prev_s = (
        _sym(n) for n in ("reported_nl", "now_s", "previous_nl", "previous_s")
    )
    domain = [x.term >= 0 for x in (reported, now, prev_nl, prev_s)]
    goals = []
    for volume_nl, start, end in shapes:
        rate = _rule_pace(volume_nl, end - start)
        r, n = reported.term, now.term
        first = r * HOUR > rate * (_pos(n - start) + 1)
        forms: tuple[tuple[dict[str, Any], ZInt, ZInt], ...] = (
            ({}, z3.IntVal(0), z3.IntVal(0)),
            ({"previous_nl": prev_nl, "previous_s": prev_s}, prev_nl.term, prev_s.term),
            ({"previous_s": prev_s}, z3.IntVal(0), prev_s.term),
        )
        for kw, pn, ps in forms:
            since = z3.If(ps > start, ps, start)
            second = z3.And(ps > 0, (r - pn - 1) * HOUR > rate * (_pos(n - since) + 1))
            want = z3.Or(first, second)

            def run(
                volume_nl: int = volume_nl, start: int = start, end: int = end, kw: Any = kw
            ) -> Any:
                return ahead_fn(reported, volume_nl, start, end, now, **kw)

            def agrees(leaf: Leaf, want: ZBool = want) -> ZBool:
                got = leaf.result
                if not isinstance(got, bool):
                    return z3.BoolVal(False)
                return want == z3.BoolVal(got)

            goals.append(_on_leaves(explore(run, domain), _accepts_exactly((), agrees)))
    claims.append(
        _claim(
            "a drive report is ahead of its order's pace exactly when it is more than the pace "
            "allows since the order's start (one second more), or its growth since the previous "
            "report is (one second and one nL more; no previous report: time 0, 0 nL) "
            "(REQ-TIP-004)",
            domain,
            z3.And(*goals),
            [
                ("reported", reported.term, "nL"),
                ("now", now.term, "s"),
                ("previous report", prev_nl.term, "nL"),
                ("previous report time", prev_s.term, "s"),
                ("orders (volume nL, start s, end s)", z3.StringVal(f"{AHEAD_SHAPES}"), ""),
            ],
        )
    )
    return claims


# --- LEDGER-Z3-INPUTS ----------------------------------------------------------------------------

PieceFn = Callable[..., Piece]
LedgerFn = Callable[[Any], Ledger]
FIELDS = ("order_id", "start_s", "end_s", "amount_fg", "pace_fg", "pace_s")
GOOD = (1, 0, 10, 5, 3, HOUR)
"""A valid piece, field by field (the wrong-type inputs replace one field each)."""
WRONG_TYPES: tuple[object, ...] = (True, False, 1.0, "7", None)


def _live_piece(*args: Any, **kw: Any) -> Piece:
    return Piece(*args, **kw)


def _live_ledger(pieces: Any) -> Ledger:
    return Ledger(pieces)


def _piece_bad(s: dict[str, ZInt]) -> list[tuple[str, ZBool]]:
    """The checks of a piece with fields ``s``, in the order the code makes them."""
    bad = [(f, s[f] < 0) for f in FIELDS[:5]]
    bad.append(("pace_s", s["pace_s"] <= 0))
    bad.append(("end_s", s["end_s"] < s["start_s"]))
    return bad


def _piece_claims(piece_fn: PieceFn) -> list[Claim]:
    s = {f: _sym(f"piece_{f}") for f in FIELDS}
    args = [s[f] for f in FIELDS]
    goals = []
    for instant in (None, False, True):
        kw = {} if instant is None else {"instant": instant}

        def run(kw: Any = kw) -> Any:
            return piece_fn(*args, **kw)

        def same(leaf: Leaf, instant: bool = bool(instant)) -> ZBool:
            p = leaf.result
            if not isinstance(p, Piece) or p.instant is not instant:
                return z3.BoolVal(False)
            return z3.And(*[term(getattr(p, f)) == s[f].term for f in FIELDS])

        bad = _piece_bad({f: s[f].term for f in FIELDS})
        goals.append(_on_leaves(explore(run), _accepts_exactly(bad, same)))
    shown = [(f, s[f].term, "") for f in FIELDS]
    concrete = []
    for i, f in enumerate(FIELDS):
        for wrong in WRONG_TYPES:
            bad_args = [*GOOD[:i], wrong, *GOOD[i + 1 :]]
            concrete.append(_raises(functools.partial(piece_fn, *bad_args), f))
    for wrong in (1, 0, "yes", None):
        concrete.append(_raises(functools.partial(piece_fn, *GOOD, instant=wrong), "instant"))
    return [
        _claim(
            "a piece is accepted exactly when its order id, times, amount and pace are "
            "non-negative integers, its pace period positive and its end not before its start; "
            "otherwise InvalidInput names the first bad field (REQ-GOV-011)",
            [],
            z3.And(*goals),
            shown,
        ),
        _claim(
            "a piece field of the wrong type (a bool, a float, a string, None; an instant flag "
            "that is not a bool) raises InvalidInput naming the field (REQ-GOV-011)",
            [],
            z3.BoolVal(all(concrete)),
            [("wrong types tried", z3.StringVal(repr(WRONG_TYPES)), "")],
        ),
    ]


def _three(prefix: str, paces: Sequence[tuple[int, int, bool]]) -> tuple[list[Any], list[ZBool]]:
    """Three symbolic pieces ``(order, start, end, amount, pace_fg, pace_s, instant)`` of orders
    1, 2, 3 (paces concrete), and the facts that make each a valid piece."""
    raw, facts = [], []
    for i, (fg, ps, inst) in enumerate(paces):
        start, end, amount = (_sym(f"{prefix}{i}_{n}") for n in ("start", "end", "amount_fg"))
        facts += [start.term >= 0, end.term >= start.term, amount.term >= 0]
        raw.append((i + 1, start, end, amount, fg, ps, inst))
    return raw, facts


def _ledger_claims(ledger_fn: LedgerFn, record: RecordFn, window: WindowFn) -> list[Claim]:
    raw, facts = _three("piece", ((5, HOUR, False), (7, 60, False), (2, DAY, False)))
    ends = [term(p[2]) for p in raw]

    def build() -> Any:
        pieces = tuple(Piece(*p) for p in raw)
        return pieces, ledger_fn(pieces)

    bad = [(f"pieces[{i}].end_s", ends[i] < ends[i - 1]) for i in (1, 2)]

    def kept(leaf: Leaf) -> ZBool:
        pieces, ledger = leaf.result
        return z3.BoolVal(ledger.pieces == pieces and ledger.newest_s is pieces[-1].end_s)

    order_goal = _on_leaves(explore(build, facts), _accepts_exactly(bad, kept))
    # time checks of record and window_total_fg: t, start and amount of any sign
    t, start, amount, pace = (_sym(n) for n in ("t", "start", "amount_fg", "pace_fg"))
    ordered = [ends[0] <= ends[1], ends[1] <= ends[2]]
    dom = [*facts, *ordered, pace.term >= 0]
    goals = []
    newest = ends[2]
    late = z3.Or(t.term < 0, t.term < newest)
    for order in (1, 4):
        old = raw[0]
        live = z3.BoolVal(False)
        if order == 1:
            live = term(old[2]) > t.term - DAY
        first_start = z3.If(z3.And(live, term(old[1]) < start.term), term(old[1]), start.term)

        def run(order: int = order) -> Any:
            before = Ledger(tuple(Piece(*p) for p in raw))
            return record(before, t, order, start, amount, pace, HOUR)

        # the time and the amount, then the checks of the order's new piece (its start the
        # earlier of the report's and the live piece's, its end the report)
        summed = amount.term + z3.If(live, term(old[3]), 0)
        fields = (z3.IntVal(order), first_start, t.term, summed, pace.term, z3.IntVal(HOUR))
        rec_bad = [
            ("t_s", late),
            ("amount_fg", amount.term < 0),
            *_piece_bad(dict(zip(FIELDS, fields, strict=True))),
        ]
        goals.append(_on_leaves(explore(run, dom), _accepts_exactly(rec_bad)))

    def total() -> Any:
        return window(Ledger(tuple(Piece(*p) for p in raw)), t)

    goals.append(_on_leaves(explore(total, dom), _accepts_exactly([("t_s", late)])))
    shown = [
        ("t", t.term, "s"),
        ("start", start.term, "s"),
        ("amount", amount.term, ""),
        *((f"piece {i} end", e, "s") for i, e in enumerate(ends)),
    ]
    return [
        _claim(
            "a ledger is accepted exactly when its pieces are in order of their ends; otherwise "
            "InvalidInput names the first piece out of order (REQ-GOV-011)",
            facts,
            order_goal,
            [(f"piece {i} end", e, "s") for i, e in enumerate(ends)],
        ),
        _claim(
            "record and window_total_fg accept exactly a time at or after the newest end (never "
            "negative), a non-negative amount and a start between 0 and the report; otherwise "
            "InvalidInput names the field (REQ-GOV-011, REQ-TIME-004)",
            dom,
            z3.And(*goals),
            shown,
        ),
        *_bound_claims(ledger_fn),
    ]


def _bound_claims(ledger_fn: LedgerFn) -> list[Claim]:
    concrete = {
        "a list of pieces": _raises(lambda: ledger_fn([Piece(*GOOD)]), "pieces"),
        "a member that is not a piece": _raises(lambda: ledger_fn((Piece(*GOOD), 7)), "pieces[1]"),
        "512 pieces": _returns(
            lambda: ledger_fn((Piece(*GOOD),) * KEPT), lambda g: len(g.pieces) == KEPT
        ),
        "513 pieces": _raises(lambda: ledger_fn((Piece(*GOOD),) * (KEPT + 1)), "pieces"),
        "an empty ledger, newest end 0": _returns(
            lambda: ledger_fn(()), lambda g: g.pieces == () and g.newest_s == 0
        ),
    }
    return [
        _claim(
            "a ledger holds a tuple of at most 512 pieces: a list, a member that is not a piece "
            "and a 513th piece raise InvalidInput naming the field; an empty ledger's newest end "
            "is 0 (REQ-GOV-011)",
            [],
            z3.BoolVal(all(concrete.values())),
            [(k, z3.BoolVal(v), "") for k, v in concrete.items()],
        ),
    ]


HistoryFn = Callable[..., BolusHistory]


_text_9: Any = "9"
"""A time of the wrong type (a string)."""


def _history_claims(history: HistoryFn) -> list[Claim]:
    """The bolus history's checks of input of the wrong type or shape (DECIDE-Z3 proves the
    valid and invalid integer inputs symbolically)."""
    ok = history
    late = DAY + 5
    concrete = {
        "starts as a list": _raises(lambda: ok(None, [1]), "starts_s"),
        "a bool start": _raises(lambda: ok(None, (True,)), "starts_s[0]"),
        "a float start": _raises(lambda: ok(1, (1.0,)), "starts_s[0]"),
        "starts out of order": _raises(lambda: ok(5, (3, 2)), "starts_s[1]"),
        "starts without a last start": _raises(lambda: ok(None, (1,)), "last_start_s"),
        "a bool last start": _raises(lambda: ok(True, ()), "last_start_s"),
        "a last start that is not the newest": _raises(lambda: ok(5, (4,)), "last_start_s"),
        "a start 24 h before the last": _raises(lambda: ok(late, (5, late)), "starts_s[0]"),
        "a start within 24 h of the last": _returns(
            lambda: ok(late, (6, late)), lambda h: h.starts_s == (6, late)
        ),
        "a time of the wrong type": _raises(lambda: ok(5, (5,)).count_in_window(_text_9), "t_s"),
        "a negative lockout": _raises(lambda: ok(5, (5,)).lockout_remaining_s(9, -1), "lockout_s"),
        "a negative maximum": _raises(
            lambda: ok(5, (5,)).record_start(9, max_per_24h=-1), "max_per_24h"
        ),
        "a start beyond the maximum": _raises(
            lambda: ok(5, (5,)).record_start(9, max_per_24h=1), "t_s"
        ),
        "a start within the maximum": _returns(
            lambda: ok(5, (5,)).record_start(9, max_per_24h=2),
            lambda h: h.starts_s == (5, 9) and h.last_start_s == 9,
        ),
        "no last start: no lockout": _returns(
            lambda: ok().lockout_remaining_s(9, 60), lambda r: r == 0
        ),
    }
    return [
        _claim(
            "the bolus history refuses starts that are not a tuple of ordered non-negative "
            "integers within 24 h of the last start, a missing or wrong last start, and a time, "
            "lockout or maximum of the wrong type or sign, and a start beyond the maximum per "
            "24 h, each with InvalidInput naming the field (REQ-GOV-006, REQ-GOV-011)",
            [],
            z3.BoolVal(all(concrete.values())),
            [(k, z3.BoolVal(v), "") for k, v in concrete.items()],
        )
    ]


def _history_accepting_lists(*args: Any, **kw: Any) -> BolusHistory:
    """A history that takes a list of starts as it is."""
    if len(args) > 1 and isinstance(args[1], list):
        h = BolusHistory(args[0], tuple(args[1]))
        object.__setattr__(h, "starts_s", args[1])
        return h
    return BolusHistory(*args, **kw)


def input_claims(
    piece: PieceFn | None = None,
    ledger: LedgerFn | None = None,
    record: RecordFn | None = None,
    window: WindowFn | None = None,
) -> list[Claim]:
    """The input checks of the live ``Piece``, ``Ledger``, ``Ledger.record`` and
    ``Ledger.window_total_fg``."""
    return [
        *_piece_claims(piece or _live_piece),
        *_ledger_claims(ledger or _live_ledger, record or _live_record, window or _live_window),
        *_history_claims(BolusHistory),
    ]


# --- LEDGER-Z3-BOOK: record on three pieces -------------------------------------------------------

RecordFn = Callable[..., Ledger]
WindowFn = Callable[[Ledger, Any], Any]
BOOK_PACES: tuple[tuple[int, int, bool], ...] = ((5, HOUR, False), (7, 60, True), (2, DAY, False))
"""The three pieces' paces ``(pace_fg, pace_s, instant)``: an hourly order, an instant paced per
minute, a day of basal."""
REPORT_PACE_S = 60
RECORD_REPORTS: tuple[tuple[int, bool | None], ...] = ((1, True), (2, None), (3, None), (4, None))
"""The reports the record claim is decided on: ``(order, instant)`` (``None``: not given);
orders 1 to 3 have pieces, 4 is new."""


def _live_record(ledger: Ledger, *args: Any, **kw: Any) -> Ledger:
    return ledger.record(*args, **kw)


def _live_window(ledger: Ledger, t: Any) -> Any:
    return ledger.window_total_fg(t)


def _last(p: Any) -> ZInt:
    """The end the window reads: one second later for an instant (REQ-GOV-005)."""
    return term(p[2]) + (1 if p[6] else 0)


def _paced_after(end: Any, amount: Any, rate: Any, t0: Any) -> Any:
    """The most of ``amount`` that left by ``end`` at no more than ``rate`` (fg per s) can have
    left after ``t0`` (reals): nothing if ``end <= t0``, else ``min(amount, rate x (end - t0))``."""
    left = end - t0
    return z3.If(left > 0, z3.If(rate * left < amount, rate * left, amount), z3.RealVal(0))


def record_claims(
    record: RecordFn | None = None, orders: Sequence[tuple[int, bool | None]] = RECORD_REPORTS
) -> list[Claim]:
    """The live ``Ledger.record`` on three symbolic pieces (:data:`BOOK_PACES`): a report of
    each order and of a new one, of a symbolic amount, start and pace at a symbolic instant."""
    record_fn = record or _live_record
    raw, facts = _three("piece", BOOK_PACES)
    t, start, amount, pace = (_sym(n) for n in ("t", "start", "amount_fg", "pace_fg"))
    ends = [term(p[2]) for p in raw]
    dom = [*facts, ends[0] <= ends[1], ends[1] <= ends[2], t.term >= ends[2]]
    dom += [start.term >= 0, start.term <= t.term, amount.term >= 0, pace.term >= 0]
    t0 = t.term - DAY
    live = [_last(p) > t0 for p in raw]
    # the pieces that aged out before the first live one are dropped (a piece that ended with
    # or before a live instant may stay: it holds nothing of any later window)
    kept = [z3.Or(*live[: i + 1]) for i in range(len(raw))]
    goals = []
    for order, instant in orders:
        if True:
            kw = {} if instant is None else {"instant": True}

            def run(order: int = order, kw: Any = kw) -> Any:
                before = Ledger(tuple(Piece(*p) for p in raw))
                return before, record_fn(before, t, order, start, amount, pace, REPORT_PACE_S, **kw)

            def goal(leaf: Leaf, order: int = order, instant: bool = bool(instant)) -> ZBool:
                before, after = leaf.result
                got = after.pieces
                new = got[-1]
                mine = [i for i, p in enumerate(raw) if p[0] == order]
                was = kept[mine[0]] if mine else z3.BoolVal(False)
                old = raw[mine[0]] if mine else None
                others = [i for i, p in enumerate(raw) if p[0] != order]
                # the other orders' live pieces, the same objects, in order, and nothing else
                positions = [
                    next((k for k, q in enumerate(got[:-1]) if q is before.pieces[i]), -1)
                    for i in others
                ]
                present = [k for k in positions if k >= 0]
                rest = [
                    z3.BoolVal(len(got) - 1 == len(present) and present == sorted(present)),
                    *[
                        kept[i] == z3.BoolVal(k >= 0)
                        for i, k in zip(others, positions, strict=True)
                    ],
                ]
                in_order = [term(a.end_s) <= term(b.end_s) for a, b in itertools.pairwise(got)]
                fg, ps = term(new.pace_fg), new.pace_s
                # a piece of the report alone (a new order, or one whose piece aged out)
                fresh = z3.And(
                    term(new.start_s) == start.term,
                    term(new.amount_fg) == amount.term,
                    fg == pace.term,
                    z3.BoolVal(ps == REPORT_PACE_S and new.instant is instant),
                )
                if old is None:
                    piece_ok = fresh
                else:
                    o_start, o_amount, o_fg, o_s, o_inst = (
                        term(old[1]),
                        term(old[3]),
                        old[4],
                        old[5],
                        old[6],
                    )
                    # the larger of the two paces (compared as rates), one of the two
                    larger = z3.And(
                        fg * o_s >= o_fg * ps,
                        fg * REPORT_PACE_S >= pace.term * ps,
                        z3.Or(
                            z3.And(fg == o_fg, z3.BoolVal(ps == o_s)),
                            z3.And(fg == pace.term, z3.BoolVal(ps == REPORT_PACE_S)),
                        ),
                    )
                    first_start = z3.If(o_start < start.term, o_start, start.term)
                    piece_ok = z3.If(
                        was,
                        z3.And(
                            term(new.start_s) == first_start,
                            term(new.amount_fg) == o_amount + amount.term,
                            larger,
                            z3.BoolVal(new.instant is (instant or o_inst)),
                        ),
                        fresh,
                    )
                return z3.And(
                    z3.BoolVal(new.order_id == order and isinstance(after, Ledger)),
                    term(new.end_s) == t.term,
                    piece_ok,
                    *rest,
                    *in_order,
                )

            goals.append(_on_leaves(explore(run, dom), _accepts_exactly((), goal)))
    shown = [
        ("t", t.term, "s"),
        ("reported amount", amount.term, ""),
        ("reported start", start.term, "s"),
        ("reported pace (fg per 60 s)", pace.term, ""),
        *(
            (f"piece {i} {n}", term(p[k]), "")
            for i, p in enumerate(raw)
            for k, n in ((1, "start"), (2, "end"), (3, "amount (fg)"))
        ),
    ]
    return [
        _claim(
            "a record on three pieces of different paces (one an instant) keeps exactly the live "
            "pieces of the other orders, unchanged and in order, and gives the reported order "
            "one newest piece ending at the report: its live amount plus exactly the reported "
            "amount, the earlier start, the larger pace, an instant if either was; a piece that "
            "aged out is not added to (REQ-GOV-005)",
            dom,
            z3.And(*goals),
            shown,
        )
    ]


MergeRecordFn = Callable[..., Ledger]


def merge_at_bound_claims(record: RecordFn | None = None) -> list[Claim]:
    """The live ``Ledger.record`` on a ledger of 512 pieces (the two oldest symbolic, the rest
    concrete): a new order merges exactly the two oldest into one piece that bounds both in every
    window; a report of a kept order, or a ledger of 511, merges nothing."""
    record_fn = record or _live_record
    raw, facts = _three("old", ((5, HOUR, False), (3, 60, False), (1, 1, False)))
    raw = raw[:2]
    base_end = 10 * DAY
    try:
        tail = tuple(Piece(100 + k, base_end, base_end + k, 1_000, 1, 1) for k in range(KEPT - 2))
    except Exception as exc:  # a valid piece refused: the claim fails
        return [_refused("at 512 pieces a record merges exactly the two oldest (REQ-GOV-011)", exc)]
    ends = [term(p[2]) for p in raw]
    t = _sym("t")
    newest = base_end + KEPT - 3
    dom = [*facts[:6], ends[0] <= ends[1], ends[1] <= base_end, t.term >= newest]
    dom.append(t.term < base_end + DAY)  # the concrete pieces are all in the window
    amount = _sym("amount_fg")
    dom.append(amount.term >= 0)
    window_end = z3.Real("window_end")
    t0 = window_end - DAY
    held = []
    model = []
    for i, p in enumerate(raw):
        c = z3.Real(f"old{i}_in_window_fg")
        end, amt, fg, s = z3.ToReal(term(p[2])), z3.ToReal(term(p[3])), p[4], p[5]
        model += [
            c >= 0,
            c <= amt,
            z3.Implies(end <= t0, c == 0),
            z3.Implies(end > t0, c * s <= fg * (end - t0)),
        ]
        held.append(c)
    live = [term(p[2]) > t.term - DAY for p in raw]
    goals = []
    cases: tuple[tuple[int, tuple[Piece, ...]], ...] = (
        (9_999, tail),
        (100, tail),
        (9_999, tail[1:]),
    )
    for order, rest in cases:

        def run(order: int = order, rest: Any = rest) -> Any:
            before = Ledger((*(Piece(*p) for p in raw), *rest))
            return before, record_fn(before, t, order, t, amount, 1, 1)

        def goal(leaf: Leaf, order: int = order, rest: Any = rest) -> ZBool:
            before, after = leaf.result
            got = after.pieces
            grows = order == 9_999  # a new order: one more piece before any merge
            merged = z3.And(live[0], live[1], z3.BoolVal(grows and len(rest) + 2 == KEPT))
            # without a merge: the live old pieces, then the rest (the reported order's own
            # piece taken out), then the order's newest piece
            others = [q for q in rest if q.order_id != order]
            options = [
                (z3.And(live[0], live[1]), [before.pieces[0], before.pieces[1], *others]),
                (z3.And(z3.Not(live[0]), live[1]), [before.pieces[1], *others]),
                (z3.Not(live[1]), others),
            ]
            plain = z3.Or(
                *[
                    z3.And(cond, z3.BoolVal(len(want) == len(got) - 1))
                    for cond, want in options
                    if all(a is b for a, b in zip(want, got[:-1], strict=False))
                ]
            )
            m = got[0]
            rate = z3.ToReal(term(m.pace_fg)) / z3.ToReal(term(m.pace_s))
            bound = _paced_after(z3.ToReal(term(m.end_s)), z3.ToReal(term(m.amount_fg)), rate, t0)
            joined = z3.And(
                z3.BoolVal(
                    len(got) == KEPT and all(a is b for a, b in zip(got[1:-1], rest, strict=True))
                ),
                term(m.amount_fg) == term(raw[0][3]) + term(raw[1][3]),
                z3.Implies(z3.And(*model), held[0] + held[1] <= bound),
            )
            newest = z3.And(z3.BoolVal(got[-1].order_id == order), term(got[-1].end_s) == t.term)
            return z3.And(newest, z3.If(merged, joined, plain))

        goals.append(_on_leaves(explore(run, dom), _accepts_exactly((), goal)))
    shown = [
        ("t", t.term, "s"),
        ("window end", window_end, ""),
        *((f"old piece {i} end", term(p[2]), "s") for i, p in enumerate(raw)),
        *((f"old piece {i} amount", term(p[3]), "") for i, p in enumerate(raw)),
        *((f"old piece {i} in the window (fg)", c, "") for i, c in enumerate(held)),
    ]
    return [
        _claim(
            "at 512 pieces a record of a new order merges exactly the two oldest into one piece "
            "that bounds both in every window and keeps the rest; a report of a kept order, a "
            "ledger with room, or an oldest piece that aged out merges nothing (REQ-GOV-005, "
            "REQ-GOV-011)",
            dom,
            z3.And(*goals),
            shown,
        )
    ]


# --- LEDGER-Z3-BOOK: peak_fg at a symbolic now ----------------------------------------------------

PeakFgFn = Callable[..., Any]


class _P(NamedTuple):
    """A piece as plain numbers (the model reads these, the code gets ``Piece(*p)``)."""

    order_id: int
    start_s: int
    end_s: int
    amount_fg: int
    pace_fg: int
    pace_s: int
    instant: bool


class _F(NamedTuple):
    """A flow as plain numbers (the code gets ``Flow(*f)``)."""

    start_s: int
    amount_fg: int
    pace_fg: int
    pace_s: int


PeakCase = tuple[tuple[_P, ...], tuple[_F, ...]]
PEAK_FG_CASES: tuple[PeakCase, ...] = (
    (
        (
            _P(1, 0, 10 * DAY, 40_000, 5, HOUR, False),
            _P(2, 10 * DAY, 10 * DAY + 900, 700, 7, 60, False),
            _P(3, 10 * DAY, 10 * DAY + 1_000, 90_000, 2, DAY, False),
        ),
        (_F(10 * DAY + 1_000, 30_000, 5, HOUR), _F(10 * DAY + 2_000, 500, 1, 1)),
    ),
    (
        (_P(1, 0, 10 * DAY, 3_600, 1, 1, False), _P(2, 0, 10 * DAY + 50, 900, 9, 60, False)),
        (_F(10 * DAY + 100, 48_000, 2_000, HOUR),),
    ),
    (
        (
            _P(1, 0, 10 * DAY, 3_600, 1, 1, False),
            _P(2, 10 * DAY + 10, 10 * DAY + 10, 500, 500, 1, True),
        ),
        (_F(10 * DAY + 20, 7_200, 1, 1),),
    ),
)
"""Ledgers (paces of three periods, pieces that age out at different instants) and flows whose
peak is decided at a symbolic ``now`` and a symbolic limit."""


def _live_peak_fg(*args: Any, **kw: Any) -> Any:
    return ledger_mod.peak_fg(*args, **kw)


def _tail_at(p: _P, t: Any) -> Any:
    """The most of piece ``p`` in the window ending at real ``t`` (its drug left at its pace up
    to its end); an instant counts in full until the window no longer contains it."""
    if p.instant:
        return z3.If(t - DAY < p.end_s, z3.RealVal(p.amount_fg), z3.RealVal(0))
    rate = z3.RealVal(Fraction(p.pace_fg, p.pace_s))
    return _paced_after(z3.RealVal(p.end_s), z3.RealVal(p.amount_fg), rate, t - DAY)


def _head_at(f: _F, t: Any) -> Any:
    since = t - f.start_s
    since = z3.If(since < DAY, since, z3.RealVal(DAY))
    most = z3.RealVal(Fraction(f.pace_fg, f.pace_s)) * since
    return z3.If(since > 0, z3.If(most < f.amount_fg, most, z3.RealVal(f.amount_fg)), z3.RealVal(0))


def _breaks(case: PeakCase) -> list[Fraction]:
    """Every instant where a term's slope changes (brute force: all of them, not only where a
    slope falls)."""
    pieces, flows = case
    out: list[Fraction] = []
    for p in pieces:
        out.append(Fraction(p.end_s + DAY))
        if p.pace_fg:
            out.append(p.end_s + DAY - Fraction(p.amount_fg * p.pace_s, p.pace_fg))
    for f in flows:
        out += [Fraction(f.start_s), Fraction(f.start_s + DAY)]
        if f.pace_fg:
            out.append(f.start_s + Fraction(f.amount_fg * f.pace_s, f.pace_fg))
    return out


def peak_fg_claims(
    peak: PeakFgFn | None = None, cases: Sequence[PeakCase] = PEAK_FG_CASES
) -> list[Claim]:
    """The live ``peak_fg`` on each ledger of :data:`PEAK_FG_CASES` at a symbolic ``now`` (at or
    after the newest end), without and with a symbolic limit."""
    peak_fn = peak or _live_peak_fg
    now, limit = _sym("now"), _sym("limit_fg")
    t = z3.Real("window_end")
    goals = []
    for pieces, flows in cases:
        dom = [now.term >= pieces[-1].end_s, limit.term >= 0]

        with_limit = len(pieces) == 2  # the fast path on the smaller ledgers (cost)

        def run(raw_p: Any = pieces, raw_f: Any = flows, with_limit: bool = with_limit) -> Any:
            ps = tuple(Piece(*p) for p in raw_p)
            fs = tuple(Flow(*f) for f in raw_f)
            exact = peak_fn(ps, fs, now)
            return exact, (peak_fn(ps, fs, now, limit) if with_limit else exact)

        def total(x: Any, pieces: Any = pieces, flows: Any = flows) -> Any:
            parts = [_tail_at(p, x) for p in pieces] + [_head_at(f, x) for f in flows]
            return z3.Sum(*parts)

        n = z3.ToReal(now.term)
        true_peak = total(n)
        for b in sorted(set(_breaks((pieces, flows)))):
            at_b = z3.simplify(total(z3.RealVal(b)))
            true_peak = z3.If(z3.And(z3.RealVal(b) >= n, at_b > true_peak), at_b, true_peak)
        exact = not any(p.instant for p in pieces)
        at_t = total(t)

        def goal(
            leaf: Leaf, at_t: Any = at_t, peak: Any = true_peak, exact: bool = exact, n: Any = n
        ) -> ZBool:
            got, fast = (z3.ToReal(term(v)) for v in leaf.result)
            lim = z3.ToReal(limit.term)
            parts = [
                z3.Implies(t >= n, at_t <= got),  # every later window
                got >= peak,
                fast >= got,
                (fast <= lim) == (got <= lim),  # the fast path answers "within?" the same
            ]
            if exact:
                parts.append(got < peak + 1)
            return z3.And(*parts)

        leaves = explore(run, dom)
        goals.append(z3.Implies(z3.And(*dom), _on_leaves(leaves, _accepts_exactly((), goal))))
    return [
        _claim(
            "peak_fg (aged-out pieces filtered at now, one common period, the within-the-limit "
            "fast path) bounds the drug of every window ending at any real t >= now on ledgers "
            "of several pieces and flows, is never below the true peak found by brute force over "
            "every instant where a term's slope changes and exceeds it by less than 1 fg (no "
            "instant); with a limit it answers 'within the limit?' as the exact peak does "
            "(REQ-GOV-004, REQ-TIP-004)",
            [now.term >= 0, limit.term >= 0],
            z3.And(*goals),
            [("now", now.term, "s"), ("limit", limit.term, ""), ("window end", t, "")],
        )
    ]


NG_PACES: tuple[tuple[int, int, bool], ...] = (
    (10**9, HOUR, False),
    (7 * 10**6, 60, True),
    (2 * 10**9, DAY, False),
)
"""Paces of whole micrograms per hour and more: window totals of many ng."""


def window_ng_claims(window: WindowFn | None = None) -> list[Claim]:
    """The live ``window_total_ng`` is the live ``window_total_fg`` in ng, rounded up."""
    raw, facts = _three("piece", NG_PACES)
    t = _sym("t")
    ends = [term(p[2]) for p in raw]
    dom = [*facts, ends[0] <= ends[1], ends[1] <= ends[2], t.term >= ends[2]]

    def run() -> Any:
        ledger = Ledger(tuple(Piece(*p) for p in raw))
        fg = ledger.window_total_fg(t)
        return fg, (window or (lambda g, x: g.window_total_ng(x)))(ledger, t)

    def goal(leaf: Leaf) -> ZBool:
        fg, ng = (term(v) for v in leaf.result)
        return z3.And(ng * FG_PER_NG >= fg, (ng - 1) * FG_PER_NG < fg)

    return [
        _claim(
            "the window total in ng is the window total in fg rounded up to a whole ng "
            "(REQ-GOV-005)",
            dom,
            _on_leaves(explore(run, dom), _accepts_exactly((), goal)),
            [("t", t.term, "s")],
        )
    ]


def book_claims(**kw: Any) -> list[Claim]:
    return [
        *record_claims(kw.get("record")),
        *merge_at_bound_claims(kw.get("merge")),
        *peak_fg_claims(kw.get("peak")),
        *window_ng_claims(kw.get("window")),
    ]


# --- seeded broken variants ----------------------------------------------------------------------


@functools.cache
def _seeded(name: str, old: str, new: str) -> Callable[..., Any]:
    """The live function ``name`` of the ledger (``Ledger.record`` for ``record``) with ``old``
    replaced by ``new`` in its source (:func:`~itdose.proofs.decisions_z3.mutated`), once."""
    fn = Ledger.record if name == "record" else getattr(ledger_mod, name)
    return mutated(fn, old, new)


def _pace_rounded_down(volume: Any, duration: Any) -> Any:
    fn = mutated(ledger_mod.pace_nl_per_h, "ceil_div(", "floor_div(", floor_div=floor_div)
    return fn(volume, duration)


def _ahead_no_nl_slack(*args: Any, **kw: Any) -> Any:
    """No nanolitre of slack between two reports."""
    fn = _seeded("ahead_of_pace", "reported_nl - previous_nl - 1", "reported_nl - previous_nl")
    return fn(*args, **kw)


def _ahead_no_slack(*args: Any, **kw: Any) -> Any:
    """No second of slack since the start."""
    fn = _seeded(
        "ahead_of_pace",
        "pace * (max(0, now_s - start_s) + 1)",
        "pace * max(0, now_s - start_s)",
    )
    return fn(*args, **kw)


def _piece_accepting_bools(*args: Any, **kw: Any) -> Piece:
    """A piece whose integer check lets a bool through (True is 1)."""
    clean: list[Any] = [int(a) if isinstance(a, bool) else a for a in args]
    piece = Piece(*clean, **kw)
    for name, a in zip(FIELDS, args, strict=False):
        if isinstance(a, bool):
            object.__setattr__(piece, name, a)
    return piece


def _piece_end_before_start(*args: Any, **kw: Any) -> Piece:
    """A piece whose end may precede its start."""
    fixed = list(args)
    start, end = fixed[1], fixed[2]
    try:
        return Piece(*args, **kw)
    except InvalidInput as exc:
        if exc.field != "end_s":
            raise
    fixed[2] = start
    piece = Piece(*fixed, **kw)
    object.__setattr__(piece, "end_s", end)
    return piece


def _ledger_unbounded(pieces: Any) -> Ledger:
    """A ledger of any number of pieces."""
    if isinstance(pieces, tuple) and len(pieces) > KEPT:
        return Ledger._of(pieces)
    return Ledger(pieces)


def _record_keeps_reported_pace(ledger: Ledger, *args: Any, **kw: Any) -> Ledger:
    """A later report's pace replaces the order's pace even when it is slower."""
    fn = _seeded("record", "old.pace_fg * pace_s > pace_fg * old.pace_s", "False")
    return fn(ledger, *args, **kw)  # type: ignore[no-any-return]


def _record_merges_one_more(ledger: Ledger, *args: Any, **kw: Any) -> Ledger:
    """Past the bound, one merge too many (511 pieces kept)."""
    fn = _seeded("record", "range(len(kept) - MAX_PIECES)", "range(len(kept) - MAX_PIECES + 1)")
    return fn(ledger, *args, **kw)  # type: ignore[no-any-return]


def _peak_fg_keeps_now_window(*args: Any, **kw: Any) -> Any:
    """Pieces filtered against now + 24 h instead of now - 24 h (every piece dropped)."""
    fn = _seeded(
        "peak_fg", "_first_live(pieces, now_s)", "_first_live(pieces, now_s + 2 * WINDOW_S)"
    )
    return fn(*args, **kw)


def _window_ng_rounded_down(ledger: Ledger, t: Any) -> Any:
    return ledger.window_total_fg(t) // FG_PER_NG


def obligations() -> tuple[Obligation, ...]:
    from itdose.proofs.obligations import Broken, Obligation

    return (
        Obligation(
            "LEDGER-Z3-PACE",
            "an order's pace is its volume per hour rounded up; a report is ahead of the pace "
            "exactly when it is more than the pace allows",
            ("REQ-TIP-004", "REQ-GOV-004"),
            "The live pace_nl_per_h on a symbolic volume for order durations of 0 s, 1 s, 7 s, "
            "1 h and a day and a second is the volume per hour over the duration (one second at "
            "least) rounded up to a whole nL/h. The live ahead_of_pace, for four orders and a "
            "symbolic report, time and previous report (given, not given, time only), says "
            "'ahead' exactly when the report exceeds pace x (time since the start + 1 s) / 1 h, "
            "or a previous report (time > 0) is given and the growth since it, less 1 nL, "
            "exceeds pace x (time since it or since the start, the later, + 1 s) / 1 h.",
            "The rule written out in z3 (a rounded-up rational pace; the one-second and one-nL "
            "slack of whole-second times and whole-nL counts). Scope: concrete durations and "
            "orders (a symbolic pace times a symbolic time is non-linear); every report and time "
            "symbolic.",
            lambda: pace_claims(),
            (
                Broken(
                    "pace-rounded-down",
                    "the pace rounded down",
                    lambda: _pace_only(_pace_rounded_down),
                ),
                Broken(
                    "ahead-no-nl-slack",
                    "no nanolitre of slack between two reports",
                    lambda: _ahead_only(_ahead_no_nl_slack, AHEAD_SHAPES[:1]),
                ),
                Broken(
                    "ahead-no-slack",
                    "no second of slack since the order's start",
                    lambda: _ahead_only(_ahead_no_slack, AHEAD_SHAPES[:1]),
                ),
            ),
        ),
        Obligation(
            "LEDGER-Z3-INPUTS",
            "the ledger accepts exactly valid pieces, ledgers, times and amounts; everything "
            "else raises InvalidInput naming the field",
            ("REQ-GOV-011", "REQ-GOV-006", "REQ-TIME-004"),
            "Piece on six symbolic fields (instant given or not) is accepted exactly when every "
            "field is non-negative, the pace period positive and the end not before the start, "
            "and keeps the fields; else InvalidInput names the first bad field; a field of the "
            "wrong type (bool, float, string, None) is refused. Ledger on three symbolic pieces "
            "is accepted exactly when their ends are in order; a list, a non-piece and a 513th "
            "piece are refused, 512 accepted. Ledger.record (a kept order and a new one) and "
            "Ledger.window_total_fg at a symbolic time of any sign, with a symbolic start and "
            "amount of any sign, raise InvalidInput naming t_s, amount_fg, start_s or end_s "
            "exactly when the time is before the newest end or negative, the amount negative or "
            "the piece's start outside [0, t]. BolusHistory refuses starts that are not a tuple of "
            "ordered non-negative integers within 24 h of the last start, a missing, wrong or "
            "non-integer last start, and a time, lockout or maximum of the wrong type or sign.",
            "The validity conditions written out from the documented checks; the wrong-type "
            "inputs are concrete (a proof's values are integers). Scope: paces of the report "
            "non-negative (a negative pace of a kept order is replaced by the larger one).",
            lambda: input_claims(),
            (
                Broken(
                    "piece-accepts-bool",
                    "a bool accepted as an integer field",
                    lambda: _piece_claims(_piece_accepting_bools),
                ),
                Broken(
                    "piece-end-before-start",
                    "a piece ending before its start accepted",
                    lambda: _piece_claims(_piece_end_before_start),
                ),
                Broken(
                    "history-accepts-a-list",
                    "a bolus history that keeps a list of starts",
                    lambda: _history_claims(_history_accepting_lists),
                ),
                Broken(
                    "ledger-unbounded",
                    "a ledger of more than 512 pieces accepted",
                    lambda: _bound_claims(_ledger_unbounded),
                ),
            ),
        ),
        Obligation(
            "LEDGER-Z3-BOOK",
            "a record keeps the other orders' live pieces and adds exactly the report to its "
            "order's piece; at 512 pieces only the two oldest merge; peak_fg bounds every later "
            "window and is the true peak to < 1 fg",
            ("REQ-GOV-004", "REQ-GOV-005", "REQ-GOV-011", "REQ-TIP-004"),
            "Ledger.record on three symbolic pieces (an hourly order, an instant paced per "
            "minute, a day of basal), for a report of each order and of a new one (instant or "
            "not): the other orders' live pieces kept unchanged and in order, aged-out ones "
            "dropped; the order's newest piece ends at the report with its live amount plus "
            "exactly the report, the earlier start, the larger pace, an instant if either was. "
            "At 512 pieces (the two oldest symbolic): a new order merges exactly the two oldest "
            "into one that bounds both in every real window; a kept order, 511 pieces or an "
            "aged-out oldest merge nothing. peak_fg on two ledgers of two and three pieces and "
            "flows (periods of 1 s, 60 s, 1 h, a day; an instant), at a symbolic now and limit: "
            "the drug of every window ending at a real t >= now is at most the peak; the peak is "
            "at least the brute-force true peak (the window at now and at every instant where a "
            "term's slope changes) and less than 1 fg above it (without an instant); the "
            "within-the-limit answer agrees with the exact one. window_total_ng is the fg total "
            "rounded up to whole ng.",
            "The window (t - 86400, t], the pace-keeping latest deliveries and the 512-piece "
            "bound written in the proof. Scope: concrete paces and, for peak_fg, concrete "
            "pieces and flows (symbolic now and limit).",
            lambda: book_claims(),
            (
                Broken(
                    "record-keeps-reported-pace",
                    "a later, slower report's pace replaces the order's pace",
                    lambda: record_claims(_record_keeps_reported_pace, RECORD_REPORTS[:1]),
                ),
                Broken(
                    "record-merges-one-more",
                    "past 512 pieces one merge too many",
                    lambda: merge_at_bound_claims(record=_record_merges_one_more),
                ),
                Broken(
                    "peak-fg-drops-pieces",
                    "peak_fg filters the pieces against now + 24 h",
                    lambda: peak_fg_claims(_peak_fg_keeps_now_window, PEAK_FG_CASES[1:2]),
                ),
                Broken(
                    "window-ng-rounded-down",
                    "the window total in ng rounded down",
                    lambda: window_ng_claims(window=_window_ng_rounded_down),
                ),
            ),
        ),
    )
