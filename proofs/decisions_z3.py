"""Z3 obligations on the code that runs: the integer operations, the decisions, the conversions.

The governor's arithmetic (:func:`~itdose.core.governor.grant_amount` and its siblings) is
proved on :class:`~itdose.proofs.z3ops.Z3Ops` terms by GOV-Z3 and BOLUS-Z3; the runtime runs it
on :class:`~itdose.core.arith.IntOps`. The obligations here close the gaps between the two:

- ARITH-Z3: each method of the live ``IntOps`` class, executed on symbolic integers
  (:class:`~itdose.proofs.explore.SymInt`, so its Python operators and branches run unchanged),
  equals the corresponding ``Z3Ops`` method on every input: unbounded integers, negative ones
  included; the divisions reject exactly the operands outside their domain; the boolean methods
  are checked on every combination of up to four operands. So a claim proved on ``Z3Ops`` holds
  for the ``IntOps`` the runtime uses.
- DECIDE-Z3: the int-level entry points :func:`~itdose.core.governor.decide_basal` and
  :func:`~itdose.core.governor.decide_bolus`, with the live
  :class:`~itdose.core.ledger.BolusHistory` (its validation, ``count_in_window``,
  ``lockout_remaining_s`` and ``record_start``), executed symbolically on every feasible path.
  The claims compare each result with a reference written from the rules (docs/dosing-rules.md),
  not with the core's helpers: the 24 h window is ``(t - 86400, t]`` written out, the lockout
  ends at ``last + lockout``.
- CONVERT-Z3: the rounding direction of every amount/volume conversion the limits rest on
  (``units.volume_nl_for`` up, ``path.ng_up`` up, ``path.ng_down`` down,
  ``ledger.pace_nl_per_h`` up), against the unit definitions written out (1 mL = 10**6 nL,
  1 ng = 10**6 fg).

Each obligation carries seeded broken variants made from today's source text
(:func:`mutated`: one snippet of the live function replaced, the result compiled in the
function's own module namespace), so a variant is the code a careless edit would produce.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import z3  # type: ignore[import-untyped]

from itdose.core import arith, governor, units
from itdose.core import ledger as ledger_mod
from itdose.core import path as path_mod
from itdose.core.errors import InvalidInput
from itdose.proofs.explore import Explorer, Leaf, SymInt, covered, run_any, term
from itdose.proofs.z3ops import Z3Ops, ZBool, ZInt

__all__ = [
    "arith_claims",
    "basal_decision_claims",
    "bolus_decision_claims",
    "conversion_claims",
    "mutated",
    "obligations",
]

DAY = 86_400
"""24 h in seconds, written from the rule (not the ledger's constant)."""
NL_PER_ML = 10**6
"""1 mL in nL, written from the unit definition."""
FG_PER_NG = 10**6
"""1 ng in fg, written from the unit definition (1 nL x 1 ng/mL = 1 fg)."""


def mutated(fn: Callable[..., Any], old: str, new: str, **names: Any) -> Callable[..., Any]:
    """``fn`` with the one occurrence of ``old`` in its source replaced by ``new``, compiled in
    ``fn``'s module namespace (plus ``names``): a seeded defect of today's code. Raises
    ``ValueError`` when the snippet is not in the source exactly once (the code changed: update
    the variant)."""
    source = textwrap.dedent(inspect.getsource(fn))
    if source.count(old) != 1:
        raise ValueError(f"{fn.__qualname__}: {old!r} is not in its source exactly once")
    namespace = {**fn.__globals__, **names}
    exec(compile(source.replace(old, new), f"<seeded {fn.__qualname__}>", "exec"), namespace)
    result: Callable[..., Any] = namespace[fn.__name__]
    return result


def _claim(name: str, goal: ZBool, shown: Any = (), assumptions: Sequence[ZBool] = ()) -> Any:
    from itdose.proofs.obligations import Claim

    return Claim(name, tuple(assumptions), goal, tuple(shown))


def _on_leaves(leaves: Sequence[Leaf], goal: Callable[[Leaf], ZBool]) -> ZBool:
    """Every leaf's condition implies its goal, and the leaves cover every input."""
    return z3.And(covered(leaves), *[z3.Implies(leaf.pc, goal(leaf)) for leaf in leaves])


def explore(fn: Callable[[], Any], assumptions: Sequence[ZBool] = ()) -> list[Leaf]:
    """Every feasible path of ``fn()``, with ANY exception it raises as the leaf's error
    (:func:`~itdose.proofs.explore.run_any`)."""
    return run_any(Explorer(assumptions), fn)


def _rejected(leaf: Leaf) -> bool:
    """The path ended in the documented rejection (:class:`InvalidInput`)."""
    return isinstance(leaf.error, InvalidInput)


def _call(ops_type: type[Any], name: str, *args: Any) -> Any:
    """``ops_type().name(*args)``."""
    return getattr(ops_type(), name)(*args)


def _result_is(want: ZInt, leaf: Leaf) -> ZBool:
    return term(leaf.result) == want


def _bool_term(value: object) -> ZBool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool result, got {type(value).__name__}")
    return z3.BoolVal(value)


# --- ARITH-Z3: IntOps equals Z3Ops, operation by operation ------------------------------------

_INT_RESULT = ("add", "sub", "mul", "min_", "max_")
_BOOL_RESULT = ("le", "lt", "ge", "gt", "eq")
_DIVISIONS = ("floor_div", "ceil_div")
_CONNECTIVES = ("and_", "or_")
MAX_CONNECTIVE_ARGS = 4
"""Boolean operands checked exhaustively (the governor joins at most four conditions)."""


def arith_claims(int_ops_type: type[Any] | None = None) -> list[Any]:
    """``IntOps`` (live by default) against ``Z3Ops``, method by method."""
    ops_type = int_ops_type or arith.IntOps
    claims = []
    for name in (*_INT_RESULT, *_BOOL_RESULT, *_DIVISIONS):
        ex = Explorer()
        a, b = ex.fresh("a"), ex.fresh("b")
        z3_ops = Z3Ops()
        expected = getattr(z3_ops, name)(a.term, b.term)
        leaves = explore(functools.partial(_call, ops_type, name, a, b))
        domain = z3.And(a.term >= 0, b.term > 0) if name in _DIVISIONS else z3.BoolVal(True)

        def goal(
            leaf: Leaf, name: str = name, expected: ZInt = expected, domain: ZBool = domain
        ) -> ZBool:
            if leaf.error is not None:  # InvalidInput, and only outside the Ops domain
                return z3.And(z3.Not(domain), z3.BoolVal(_rejected(leaf)))
            result = leaf.result
            got = _bool_term(result) if name in _BOOL_RESULT else term(result)
            return z3.And(domain, got == expected)

        claims.append(
            _claim(
                f"IntOps.{name}(a, b) == Z3Ops.{name}(a, b) for all integers a, b"
                + (" (rejected exactly outside a >= 0, b > 0)" if name in _DIVISIONS else ""),
                _on_leaves(leaves, goal),
                (("a", a.term, ""), ("b", b.term, ""), (f"Z3Ops.{name}", expected, "")),
            )
        )
    # ite on either condition, not_ and the connectives on every combination of operands
    ex = Explorer()
    a, b = ex.fresh("a"), ex.fresh("b")
    goals = []
    for cond in (True, False):
        leaves = explore(functools.partial(_call, ops_type, "ite", cond, a, b))
        want = Z3Ops().ite(z3.BoolVal(cond), a.term, b.term)
        goals.append(_on_leaves(leaves, functools.partial(_result_is, want)))
    claims.append(
        _claim(
            "IntOps.ite(c, a, b) == Z3Ops.ite(c, a, b) for both conditions and all integers",
            z3.And(*goals),
            (("a", a.term, ""), ("b", b.term, "")),
        )
    )
    mismatches = []
    for n in range(MAX_CONNECTIVE_ARGS + 1):
        for values in itertools.product((False, True), repeat=n):
            terms = [z3.BoolVal(v) for v in values]
            for name in _CONNECTIVES:
                got = getattr(ops_type(), name)(*values)
                want = z3.simplify(getattr(Z3Ops(), name)(*terms))
                if not isinstance(got, bool) or z3.is_true(want) != got:
                    mismatches.append(f"{name}{values}")
            if n == 1:
                got = ops_type().not_(values[0])
                if not isinstance(got, bool) or z3.is_true(z3.simplify(z3.Not(terms[0]))) != got:
                    mismatches.append(f"not_{values}")
    claims.append(
        _claim(
            "IntOps.and_/or_/not_ == Z3Ops.and_/or_/not_ on every combination of up to "
            f"{MAX_CONNECTIVE_ARGS} operands"
            + (f" (differ on {', '.join(mismatches[:4])})" if mismatches else ""),
            z3.BoolVal(not mismatches),
        )
    )
    wrong = [v for v in (0, 1, 7, 10**18) if type(ops_type().lit(v)) is not int]
    wrong += [v for v in (0, 1, 7, 10**18) if v not in wrong and ops_type().lit(v) != v]
    claims.append(
        _claim(
            "IntOps.lit(v) == Z3Ops.lit(v) on 0, 1, 7 and 10**18"
            + (f" (differ on {wrong})" if wrong else ""),
            z3.BoolVal(not wrong),
        )
    )
    return claims


def _broken_int_ops(method: str, old: str, new: str) -> type[Any]:
    """A subclass of the live ``IntOps`` whose ``method`` has ``old`` replaced by ``new``."""
    fn = mutated(getattr(arith.IntOps, method), old, new)
    return type("SeededIntOps", (arith.IntOps,), {method: fn})


# --- DECIDE-Z3: decide_basal and decide_bolus on symbolic inputs -----------------------------

_ROOM_SHAPES = ((True, True), (True, False), (False, True), (False, False))
"""(cap room applies, reservoir room applies): a room that does not apply is ``None``."""


def basal_decision_claims(decide: Callable[..., Any] | None = None) -> list[Any]:
    """The live ``decide_basal`` on every path, for every shape of the request."""
    decide_fn = decide or governor.decide_basal
    goals: dict[str, list[ZBool]] = {
        k: [] for k in ("valid", "bounds", "largest", "reasons", "window")
    }
    ex = Explorer()
    req, cap, room, window, limit = (
        ex.fresh(n) for n in ("requested", "cap_room", "reservoir_room", "window", "hard_max")
    )
    for (has_cap, has_room), delivering in itertools.product(_ROOM_SHAPES, (True, False)):
        c = cap if has_cap else None
        r = room if has_room else None
        request: governor.Request[int, bool] = governor.Request(req, c, r, delivering)
        leaves = explore(functools.partial(decide_fn, request))
        rooms = [x.term for x in (c, r) if x is not None]
        valid = z3.And(req.term >= 0, *[x >= 0 for x in rooms])

        def validity(leaf: Leaf, valid: ZBool = valid) -> ZBool:
            if leaf.error is not None:  # InvalidInput, and only on invalid inputs
                return z3.And(z3.Not(valid), z3.BoolVal(_rejected(leaf)))
            return valid

        goals["valid"].append(_on_leaves(leaves, validity))
        ok = [leaf for leaf in leaves if leaf.error is None]

        def granted(leaf: Leaf) -> ZInt:
            return term(leaf.result.granted_ng)

        def bounds(leaf: Leaf, rooms: list[ZInt] = rooms, delivering: bool = delivering) -> ZBool:
            g = granted(leaf)
            return z3.And(
                g >= 0,
                g <= req.term,
                *[g <= x for x in rooms],
                z3.BoolVal(True) if delivering else g == 0,
                term(leaf.result.requested_ng) == req.term,
                term(leaf.result.lockout_remaining_s) == 0,
                term(leaf.result.boluses_in_window) == 0,
            )

        def largest(leaf: Leaf, rooms: list[ZInt] = rooms, delivering: bool = delivering) -> ZBool:
            g = granted(leaf)
            if not delivering:
                return g == 0
            return z3.Or(g == req.term, *[g == x for x in rooms])

        def reasons(
            leaf: Leaf,
            c: SymInt | None = c,
            r: SymInt | None = r,
            delivering: bool = delivering,
        ) -> ZBool:
            got = leaf.result.reasons
            R = governor.Reason
            want = [
                (R.NOT_DELIVERING, z3.And(z3.BoolVal(not delivering), req.term > 0)),
                (R.DAILY_CAP, c.term < req.term if c is not None else z3.BoolVal(False)),
                (R.RESERVOIR, r.term < req.term if r is not None else z3.BoolVal(False)),
            ]
            in_order = tuple(x for x, _ in want if x in got) == got
            return z3.And(
                z3.BoolVal(in_order),
                *[cond == z3.BoolVal(x in got) for x, cond in want],
                (granted(leaf) == req.term) == z3.BoolVal(got == ()),
            )

        goals["bounds"] += [z3.Implies(leaf.pc, bounds(leaf)) for leaf in ok]
        goals["largest"] += [z3.Implies(leaf.pc, largest(leaf)) for leaf in ok]
        goals["reasons"] += [z3.Implies(leaf.pc, reasons(leaf)) for leaf in ok]
        if has_cap and delivering:
            # the cap room is what the ledger leaves under the hard maximum after the window
            after = [
                z3.Implies(
                    z3.And(leaf.pc, cap.term == limit.term - window.term),
                    window.term + granted(leaf) <= limit.term,
                )
                for leaf in ok
            ]
            goals["window"] += after
    shown = (
        ("requested", req.term, "ng"),
        ("cap room", cap.term, "ng"),
        ("reservoir room", room.term, "ng"),
    )
    window_assumptions = (window.term >= 0, limit.term >= window.term)
    return [
        _claim(
            "decide_basal accepts exactly the non-negative requests and rooms (the rest raise "
            "InvalidInput) on every path of every request shape (REQ-GOV-010)",
            z3.And(*goals["valid"]),
            shown,
        ),
        _claim(
            "decide_basal: 0 <= grant <= request, <= every room that applies, 0 when not "
            "delivering (REQ-GOV-001..003)",
            z3.And(*goals["bounds"]),
            shown,
        ),
        _claim(
            "decide_basal cuts, never denies: the grant is the request or a room that applies "
            "(with the bounds: the smallest of them) while delivering (REQ-GOV-001)",
            z3.And(*goals["largest"]),
            shown,
        ),
        _claim(
            "decide_basal's reasons: exactly each bound below the request, in Reason order, and "
            "none exactly when the whole request is granted (REQ-GOV-010)",
            z3.And(*goals["reasons"]),
            shown,
        ),
        _claim(
            "with the cap room = hard maximum - window, the window after a basal grant is at "
            "most the hard maximum (REQ-GOV-002)",
            z3.And(*goals["window"]),
            (*shown, ("window", window.term, "ng"), ("hard max", limit.term, "ng")),
            window_assumptions,
        ),
    ]


HISTORY_SHAPES: tuple[tuple[str, int], ...] = (
    ("clinician bolus", -1),
    ("no bolus yet", 0),
    ("a last start, none in its window", 0),
    ("one start", 1),
    ("two starts", 2),
    ("three starts", 3),
)
"""(shape, delivered starts kept): ``-1`` is a bolus without history (clinician)."""


def _history_for(cls: type[Any], shape: str, starts: list[SymInt], last: SymInt) -> Any:
    if shape == "no bolus yet":
        return cls()
    if shape == "a last start, none in its window":
        return cls(last_start_s=last, starts_s=())
    return cls(last_start_s=starts[-1], starts_s=tuple(starts))


def bolus_decision_claims(
    decide: Callable[..., Any] | None = None,
    history_type: type[Any] | None = None,
    shapes: Sequence[tuple[str, int]] = HISTORY_SHAPES,
) -> list[Any]:
    """The live ``decide_bolus`` and ``BolusHistory`` on every path of every history shape."""
    decide_fn = decide or governor.decide_bolus
    history_cls = history_type or ledger_mod.BolusHistory
    ex = Explorer()
    now, req, cap, room, lockout, mx, last = (
        ex.fresh(n)
        for n in (
            "now",
            "requested",
            "cap_room",
            "reservoir_room",
            "lockout",
            "max_per_24h",
            "last_start",
        )
    )
    starts = [ex.fresh(f"start{i}") for i in range(3)]
    goals: dict[str, list[ZBool]] = {
        k: [] for k in ("valid", "all-or-nothing", "grant", "count", "lockout", "reasons", "after")
    }
    for (shape, kept), (has_rooms, delivering) in itertools.product(
        shapes, ((True, True), (True, False), (False, False))
    ):
        if kept >= 2 and not (has_rooms and delivering):
            continue  # the rooms and the phase are read alike for every history (seconds)
        c, r = (cap, room) if has_rooms else (None, None)
        these = starts[:kept] if kept > 0 else []
        patient_bolus = kept >= 0

        def run(
            shape: str = shape,
            these: list[SymInt] = these,
            patient_bolus: bool = patient_bolus,
            c: SymInt | None = c,
            r: SymInt | None = r,
            delivering: bool = delivering,
        ) -> tuple[Any, Any, Any]:
            patient = None
            if patient_bolus:
                history = _history_for(history_cls, shape, these, last)
                patient = governor.PatientBolus(history, lockout, mx)
            request: governor.Request[int, bool] = governor.Request(req, c, r, delivering)
            decision = decide_fn(request, now_s=now, patient=patient)
            after = None
            if patient is not None and decision.granted_ng:
                # the caller (dosing.request_bolus) records a granted start, nothing else
                after = patient.history.record_start(now, max_per_24h=mx)
            return decision, after, after.count_in_window(now) if after is not None else None

        leaves = explore(run)
        last_t = (
            None
            if not patient_bolus or shape == "no bolus yet"
            else (last.term if shape == "a last start, none in its window" else these[-1].term)
        )
        ts = [s.term for s in these]
        valid_parts = [now.term >= 0, req.term > 0]
        valid_parts += [x.term >= 0 for x in (c, r) if x is not None]
        if patient_bolus:
            valid_parts += [lockout.term >= 0, mx.term >= 0]
            valid_parts += [s >= 0 for s in ts]
            valid_parts += [ts[i] >= ts[i - 1] for i in range(1, len(ts))]
            if last_t is not None:
                valid_parts += [last_t >= 0, now.term >= last_t]
                if ts:
                    valid_parts.append(ts[0] > last_t - DAY)
        valid = z3.And(*valid_parts)
        count_ref = z3.Sum(
            *[z3.If(z3.And(s > now.term - DAY, s <= now.term), 1, 0) for s in ts], z3.IntVal(0)
        )
        locked = (
            z3.BoolVal(False)
            if last_t is None or not patient_bolus
            else now.term < last_t + lockout.term
        )
        over_count = count_ref >= mx.term if patient_bolus else z3.BoolVal(False)
        fits = z3.And(
            z3.BoolVal(delivering),
            *[req.term <= x.term for x in (c, r) if x is not None],
            z3.Not(locked),
            z3.Not(over_count),
        )
        remaining_ref = (
            z3.IntVal(0)
            if last_t is None or not patient_bolus
            else z3.If(last_t + lockout.term - now.term > 0, last_t + lockout.term - now.term, 0)
        )

        def validity(leaf: Leaf, valid: ZBool = valid) -> ZBool:
            if leaf.error is not None:  # InvalidInput, and only on invalid inputs
                return z3.And(z3.Not(valid), z3.BoolVal(_rejected(leaf)))
            return valid

        goals["valid"].append(_on_leaves(leaves, validity))
        for leaf in leaves:
            if leaf.error is not None:
                continue
            decision, after, after_count = leaf.result
            g = term(decision.granted_ng)
            R = governor.Reason
            want = [
                (R.NOT_DELIVERING, z3.BoolVal(not delivering)),
                (R.LOCKOUT, locked),
                (R.BOLUS_COUNT, over_count),
                (R.DAILY_CAP, c.term < req.term if c is not None else z3.BoolVal(False)),
                (R.RESERVOIR, r.term < req.term if r is not None else z3.BoolVal(False)),
            ]
            got = decision.reasons
            in_order = tuple(x for x, _ in want if x in got) == got
            pc = leaf.pc
            goals["all-or-nothing"].append(z3.Implies(pc, z3.Or(g == 0, g == req.term)))
            goals["grant"].append(z3.Implies(pc, (g == req.term) == fits))
            goals["count"].append(
                z3.Implies(pc, term(decision.boluses_in_window) == count_ref)
                if patient_bolus
                else z3.Implies(pc, term(decision.boluses_in_window) == 0)
            )
            goals["lockout"].append(
                z3.Implies(pc, term(decision.lockout_remaining_s) == remaining_ref)
            )
            goals["reasons"].append(
                z3.Implies(
                    pc,
                    z3.And(
                        z3.BoolVal(in_order), *[cond == z3.BoolVal(x in got) for x, cond in want]
                    ),
                )
            )
            if after is not None:
                # after a grant: recorded at now, and the window holds at most the maximum
                recorded = z3.And(
                    term(after.last_start_s) == now.term,
                    term(after_count) == count_ref + 1,
                    count_ref + 1 <= mx.term,
                )
                goals["after"].append(z3.Implies(pc, recorded))
            elif patient_bolus:
                goals["after"].append(z3.Implies(pc, g == 0))
    shown = (
        ("now", now.term, "s"),
        ("requested", req.term, "ng"),
        ("cap room", cap.term, "ng"),
        ("reservoir room", room.term, "ng"),
        ("lockout", lockout.term, "s"),
        ("max per 24 h", mx.term, ""),
        ("last start", last.term, "s"),
        *((f"start {i}", s.term, "s") for i, s in enumerate(starts)),
    )
    return [
        _claim(
            "decide_bolus with the live BolusHistory accepts exactly the valid inputs (positive "
            "request, non-negative rooms, times and limits, starts in order within 24 h of the "
            "last, now not before it); the rest raise InvalidInput (REQ-GOV-010, REQ-GOV-006)",
            z3.And(*goals["valid"]),
            shown,
        ),
        _claim(
            "decide_bolus grants the whole request or nothing (REQ-GOV-008)",
            z3.And(*goals["all-or-nothing"]),
            shown,
        ),
        _claim(
            "decide_bolus grants exactly when delivering, the request fits every room that "
            "applies, the lockout since the last start is over (now >= last + lockout) and "
            "fewer than max_per_24h starts lie in (now - 24 h, now] (REQ-GOV-009, REQ-GOV-002, "
            "REQ-GOV-003)",
            z3.And(*goals["grant"]),
            shown,
        ),
        _claim(
            "the count in the decision is exactly the delivered starts in (now - 86400, now] "
            "(REQ-GOV-006, REQ-GOV-009)",
            z3.And(*goals["count"]),
            shown,
        ),
        _claim(
            "the lockout remaining is max(0, last + lockout - now), 0 before any bolus "
            "(REQ-GOV-009)",
            z3.And(*goals["lockout"]),
            shown,
        ),
        _claim(
            "decide_bolus's reasons: exactly each condition that alone denies, in Reason order "
            "(REQ-GOV-010)",
            z3.And(*goals["reasons"]),
            shown,
        ),
        _claim(
            "a granted patient bolus is recorded at now and leaves at most max_per_24h starts "
            "in the window; a denied one records nothing (REQ-GOV-006, REQ-GOV-009)",
            z3.And(*goals["after"]),
            shown,
        ),
    ]


def _broken_history(method: str, old: str, new: str) -> type[Any]:
    fn = mutated(getattr(ledger_mod.BolusHistory, method), old, new)
    return type("SeededBolusHistory", (ledger_mod.BolusHistory,), {method: fn})


# --- CONVERT-Z3: rounding direction of the conversions ----------------------------------------

ConvertFns = dict[str, Callable[..., Any]]


def _live_conversions() -> ConvertFns:
    return {
        "volume_nl_for": units.volume_nl_for,
        "ng_up": path_mod.ng_up,
        "ng_down": path_mod.ng_down,
        "pace_nl_per_h": ledger_mod.pace_nl_per_h,
    }


def conversion_claims(fns: ConvertFns | None = None) -> list[Any]:
    """Each conversion, on every path, rounds in its direction to the least/greatest whole unit."""
    f = {**_live_conversions(), **(fns or {})}
    claims = []
    ex = Explorer()
    amount, conc, fg, volume, duration = (
        ex.fresh(n) for n in ("amount_ng", "concentration", "amount_fg", "volume_nl", "duration")
    )

    def leaves_of(fn: Callable[[], Any], *assume: ZBool) -> list[Leaf]:
        return explore(fn, assume)

    # volume for an amount: the least whole nL holding it (charged for a grant: up)
    a, c = amount.term, conc.term
    leaves = leaves_of(lambda: f["volume_nl_for"](amount, conc), a >= 0, c > 0)
    claims.append(
        _claim(
            "volume_nl_for(amount, c) is the least whole nL whose drug at c holds the amount: "
            "v x c >= amount x 10**6 > (v - 1) x c (rounded up; REQ-GOV-003)",
            _on_leaves(
                leaves,
                lambda leaf: (
                    z3.And(
                        leaf.error is None,
                        term(leaf.result) * c >= a * NL_PER_ML,
                        (term(leaf.result) - 1) * c < a * NL_PER_ML,
                    )
                    if leaf.error is None
                    else z3.BoolVal(False)
                ),
            ),
            (("amount", a, "ng"), ("concentration", c, "ng/mL")),
            (a >= 0, c > 0),
        )
    )
    x = fg.term
    for name, up in (("ng_up", True), ("ng_down", False)):
        leaves = leaves_of(functools.partial(f[name], fg), x >= 0)

        def bound(leaf: Leaf, up: bool = up) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            n = term(leaf.result)
            if up:
                return z3.And(n * FG_PER_NG >= x, (n - 1) * FG_PER_NG < x)
            return z3.And(n * FG_PER_NG <= x, (n + 1) * FG_PER_NG > x)

        claims.append(
            _claim(
                f"{name}(fg) is the "
                + (
                    "least whole ng holding fg (counted against a limit: up)"
                    if up
                    else "greatest whole ng within fg (what may be delivered: down)"
                )
                + " (REQ-GOV-003, REQ-TIP-002)",
                _on_leaves(leaves, bound),
                (("amount", x, ""),),
                (x >= 0,),
            )
        )
    v, d = volume.term, duration.term
    leaves = leaves_of(lambda: f["pace_nl_per_h"](volume, duration), v >= 0, d > 0)
    claims.append(
        _claim(
            "pace_nl_per_h(volume, duration) is the least whole nL/h that moves the volume in "
            "the duration: pace x duration >= volume x 3600 > (pace - 1) x duration "
            "(rounded up: an order ends on time; REQ-TIP-004)",
            _on_leaves(
                leaves,
                lambda leaf: (
                    z3.And(
                        term(leaf.result) * d >= v * 3600, (term(leaf.result) - 1) * d < v * 3600
                    )
                    if leaf.error is None
                    else z3.BoolVal(False)
                ),
            ),
            (("volume", v, "nL"), ("duration", d, "s")),
            (v >= 0, d > 0),
        )
    )
    return claims


@contextmanager
def _constant(module: Any, name: str, value: int) -> Iterator[None]:
    """``module.name`` set to ``value`` for the duration (a seeded wrong constant)."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _with_constant(module: Any, name: str, delta: int) -> list[Any]:
    with _constant(module, name, getattr(module, name) + delta):
        return conversion_claims()


# --- the registry ----------------------------------------------------------------------------


def obligations() -> tuple[Any, ...]:
    from itdose.proofs.obligations import Broken, Obligation

    decide_bolus = governor.decide_bolus
    return (
        Obligation(
            "ARITH-Z3",
            "the runtime integer operations equal the symbolic ones, operation by operation",
            ("REQ-GOV-007",),
            "Each method of the live IntOps (the Ops the runtime runs the governor on), executed "
            "on symbolic integers, equals the Z3Ops method the proofs run the governor on, for "
            "all integers (negative ones included): add, sub, mul, min_, max_, ite, le, lt, ge, "
            "gt, eq; floor_div and ceil_div equal z3's on a >= 0, b > 0 and reject every other "
            "operand pair; and_, or_, not_ on every combination of up to four operands; lit on "
            "sample values. So GOV-Z3 and BOLUS-Z3, proved on Z3Ops, hold for IntOps.",
            "No hand model: the live IntOps runs on symbolic integers (itdose.proofs.explore, "
            "tied to the runtime by tests/proofs/test_path_model.py and the differential test in "
            "tests/proofs/test_decisions.py). The connectives are checked exhaustively up to "
            "four operands, lit on four values.",
            lambda: arith_claims(),
            (
                Broken(
                    "sub-adds",
                    "IntOps.sub returns a + b",
                    lambda: arith_claims(_broken_int_ops("sub", "a - b", "a + b")),
                ),
                Broken(
                    "ceil-floors",
                    "IntOps.ceil_div floors",
                    lambda: arith_claims(
                        _broken_int_ops("ceil_div", "return ceil_div(a, b)", "return a // b")
                    ),
                ),
                Broken(
                    "min-is-max",
                    "IntOps.min_ returns the larger",
                    lambda: arith_claims(_broken_int_ops("min_", "min(a, b)", "max(a, b)")),
                ),
            ),
        ),
        Obligation(
            "DECIDE-Z3",
            "the basal and bolus decisions, with the bolus history, on every path",
            (
                "REQ-GOV-001",
                "REQ-GOV-002",
                "REQ-GOV-003",
                "REQ-GOV-006",
                "REQ-GOV-008",
                "REQ-GOV-009",
                "REQ-GOV-010",
            ),
            "The live decide_basal (every request shape: each room applying or None, delivering "
            "or not) and decide_bolus with the live PatientBolus and BolusHistory (clinician "
            "bolus; no bolus yet; a last start alone; one, two and three delivered starts), "
            "executed symbolically on all integers: they accept exactly the valid inputs; a "
            "basal grant is the largest within the request and every room, 0 when not "
            "delivering, and keeps the window within the hard maximum when the cap room is "
            "what the window leaves; a bolus is granted whole exactly when delivering, it fits, "
            "now >= last start + lockout and fewer than max_per_24h starts lie in "
            "(now - 86400, now], else nothing; the decision reports exactly that count and "
            "max(0, last + lockout - now); the reasons are exactly the conditions that deny, in "
            "order; after a grant, record_start leaves count + 1 <= max_per_24h starts.",
            "No hand model of the governor or the history: the live code runs on symbolic "
            "integers. Modelled: the caller's protocol (dosing.request_bolus records a start "
            "only on a grant; tested in tests/core/test_dosing.py); histories of at most three "
            "starts (each start is handled alike). Not covered: that the caller passes the true "
            "cap and reservoir rooms (PATH-Z3-PLAN, PATH-Z3-STEP and the property tests).",
            lambda: [*basal_decision_claims(), *bolus_decision_claims()],
            (
                Broken(
                    "lockout-dropped",
                    "decide_bolus grants without the lockout and count term",
                    lambda: bolus_decision_claims(
                        decide=mutated(
                            decide_bolus,
                            "grant_all_or_nothing(INT_OPS, req, permitted)",
                            "grant_all_or_nothing(INT_OPS, req)",
                        ),
                        shapes=HISTORY_SHAPES[3:4],
                    ),
                ),
                Broken(
                    "window-ahead",
                    "BolusHistory.count_in_window counts from t + 24 h",
                    lambda: bolus_decision_claims(
                        history_type=_broken_history(
                            "count_in_window", "t - WINDOW_S", "t + WINDOW_S"
                        ),
                        shapes=HISTORY_SHAPES[3:4],
                    ),
                ),
                Broken(
                    "basal-no-cap",
                    "decide_basal ignores the cap room",
                    lambda: basal_decision_claims(
                        decide=mutated(
                            governor.decide_basal,
                            "granted = grant_amount(INT_OPS, req)",
                            "granted = grant_amount(INT_OPS, Request(req.requested_ng, None, "
                            "req.reservoir_room_ng, req.delivering))",
                        )
                    ),
                ),
            ),
        ),
        Obligation(
            "CONVERT-Z3",
            "every conversion the limits rest on rounds in its safe direction",
            ("REQ-GOV-003", "REQ-UNIT-004", "REQ-TIP-002"),
            "For all non-negative amounts and positive concentrations and durations, the live "
            "units.volume_nl_for (the volume charged for an amount) rounds up to the least "
            "whole nL holding it, path.ng_up (an amount counted against a limit) up to the least "
            "whole ng, path.ng_down (an amount that may be delivered) down to the greatest, and "
            "ledger.pace_nl_per_h up to the least whole nL/h that ends the order on time, each "
            "against the unit definitions written out (1 mL = 10**6 nL, 1 ng = 10**6 fg).",
            "No hand model: the live functions run on symbolic integers, with the live "
            "constants they read (units.NL_PER_ML, units.FG_PER_NG).",
            lambda: conversion_claims(),
            (
                Broken(
                    "volume-floors",
                    "volume_nl_for rounds down",
                    lambda: conversion_claims(
                        {
                            "volume_nl_for": mutated(
                                units.volume_nl_for,
                                "ceil_div(",
                                "floor_div(",
                                floor_div=arith.floor_div,
                            )
                        }
                    ),
                ),
                Broken(
                    "nl-per-ml-plus-1",
                    "NL_PER_ML one too large",
                    lambda: _with_constant(units, "NL_PER_ML", 1),
                ),
                Broken(
                    "nl-per-ml-minus-1",
                    "NL_PER_ML one too small",
                    lambda: _with_constant(units, "NL_PER_ML", -1),
                ),
                Broken(
                    "ng-up-floors",
                    "ng_up rounds down",
                    lambda: conversion_claims(
                        {
                            "ng_up": mutated(
                                path_mod.ng_up, "ceil_div(", "floor_div(", floor_div=arith.floor_div
                            )
                        }
                    ),
                ),
            ),
        ),
    )
