"""Z3 obligations for the fluid path and the cap on drug leaving the tip (REQ-TIP-001..003).

The fluid path (:mod:`itdose.core.path`) is plain-int code that branches in Python, so it is not
written against :class:`~itdose.core.arith.Ops`. It is evaluated *unchanged* by symbolic
execution (:class:`~itdose.proofs.explore.Explorer`): the live ``FluidPath.push``,
``FluidPath.outflow``, ``FluidPath.check``, ``dosing.plan_volume`` and ``path.ng_up`` run on
symbolic volumes, concentrations, skips and targets, every feasible branch is followed, and each
claim is stated on every path's result. A coverage claim shows that the explored paths cover
every input. The number of segments is fixed per shape (0 to 3 segments, every pattern of two
drugs, plus paths holding no-drug fluid at the tip after implant); volumes and concentrations
are symbolic, so each shape covers every path of that many segments.

The claims compare the code with an independent reference written from the rules
(docs/dosing-rules.md, "What reaches the patient"), not with the core's own helpers: the fluid at
position ``x`` nL from the tip is segment ``i`` when ``P_i <= x < P_i + v_i`` (``P_i`` the
volume before it), and the reservoir's fluid beyond the path's volume; the amount of a drug in a
range is the sum of overlap x concentration, in femtograms (nL x ng/mL).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import z3  # type: ignore[import-untyped]

from itdose.core import dosing, governor
from itdose.core import flight as flight_mod
from itdose.core import path as path_mod
from itdose.core.errors import InvalidInput
from itdose.core.flight import is_lag
from itdose.core.ledger import Flow
from itdose.core.path import NO_DRUG, FluidPath, Segment
from itdose.core.state import DeliveryKind, Device, Order, Reservoir
from itdose.proofs.explore import Explorer, Leaf, SymInt, covered, fold, run_any, term
from itdose.proofs.z3ops import ZBool, ZInt

if TYPE_CHECKING:  # the registry imports this module lazily: no cycle at run time
    from itdose.proofs.obligations import Case, Claim, Shown

__all__ = [
    "CHECK_SHAPES",
    "SHAPES",
    "cap_search_claims",
    "input_claims",
    "obligations",
    "path_claims",
    "plan_claims",
    "step_claims",
]

FG_PER_NG = path_mod.FG_PER_NG

Shape = tuple[tuple[str, ...], str]
"""The drugs of the path's segments, tip first, and the reservoir's drug."""


def _shapes() -> tuple[Shape, ...]:
    out: list[Shape] = []
    for n in range(3):
        for labels in itertools.product("ab", repeat=n + 1):
            if labels[0] == "a":  # "a" and "b" are interchangeable: one of each mirror pair
                out.append((labels[:-1], labels[-1]))
    # three segments: a drug change and back, and a second refill during a change
    out += [(("a", "b", "a"), "b"), (("a", "a", "a"), "a"), (("a", "a", "b"), "b")]
    # after implant the path holds fluid without drug; priming pushes the drug in behind it
    out += [((NO_DRUG,), "a"), ((NO_DRUG, "a"), "a"), ((NO_DRUG, "a"), "b")]
    return tuple(out)


SHAPES: tuple[Shape, ...] = _shapes()
SMALL_SHAPES: tuple[Shape, ...] = tuple(s for s in SHAPES if len(s[0]) <= 1)
"""The shapes a seeded broken variant is run on: enough for a counterexample, and fast."""
ZERO_PIECE_SHAPES: tuple[Shape, ...] = (((), "a"),)
"""The one shape a seeded empty piece or a negative push is shown on (a path of no volume)."""
DRUGS = ("a", "b")


@dataclass
class _Sym:
    """A symbolic path of one shape and the reservoir fluid behind it."""

    ex: Explorer
    labels: tuple[str, ...]
    vols: tuple[SymInt, ...]
    concs: tuple[SymInt | int, ...]
    res_drug: str
    res_conc: SymInt | int

    @property
    def path(self) -> FluidPath:
        return FluidPath(
            tuple(
                Segment(v, d, c) for v, d, c in zip(self.vols, self.labels, self.concs, strict=True)
            )
        )

    @property
    def total(self) -> ZInt:
        return z3.Sum(*[v.term for v in self.vols]) if self.vols else z3.IntVal(0)

    def domain(self) -> list[ZBool]:
        """A valid merged path: positive volumes, drug iff positive concentration, equal
        neighbours merged (what ``FluidPath.check`` accepts, stated independently)."""
        out: list[ZBool] = [v.term > 0 for v in self.vols]
        out += [term(c) > 0 for d, c in zip(self.labels, self.concs, strict=True) if d != NO_DRUG]
        out += [term(self.res_conc) > 0] if self.res_drug != NO_DRUG else []
        for i in range(1, len(self.labels)):
            if self.labels[i] == self.labels[i - 1]:
                out.append(term(self.concs[i]) != term(self.concs[i - 1]))
        return out

    # --- the reference: what is where, from the rules ---------------------------------------

    def _pieces(self) -> list[tuple[ZInt, ZInt | None, str, ZInt]]:
        """(start, end or None for the reservoir, drug, concentration) of each fluid."""
        out: list[tuple[ZInt, ZInt | None, str, ZInt]] = []
        pos: ZInt = z3.IntVal(0)
        for v, d, c in zip(self.vols, self.labels, self.concs, strict=True):
            out.append((pos, pos + v.term, d, term(c)))
            pos = pos + v.term
        out.append((pos, None, self.res_drug, term(self.res_conc)))
        return out

    def ref_amount(self, lo: ZInt, hi: ZInt, drug: str) -> ZInt:
        """Exact fg of ``drug`` at positions [lo, hi) of path + reservoir."""
        total: ZInt = z3.IntVal(0)
        for start, end, d, c in self._pieces():
            if d == drug:
                total = total + _overlap(lo, hi, start, end) * c
        return total

    def ref_other_volume(self, lo: ZInt, hi: ZInt, drug: str) -> ZInt:
        """nL at positions [lo, hi) holding anything but ``drug`` at a positive concentration."""
        total: ZInt = z3.IntVal(0)
        for start, end, d, c in self._pieces():
            other = z3.BoolVal(d != drug) if d != drug else c <= 0
            total = total + z3.If(other, _overlap(lo, hi, start, end), 0)
        return total

    def max_conc(self) -> ZInt:
        out = term(self.res_conc)
        for c in self.concs:
            out = z3.If(term(c) > out, term(c), out)
        return out

    def shown(self) -> Shown:
        rows: list[tuple[str, Any, str]] = []
        for i, (v, d, c) in enumerate(zip(self.vols, self.labels, self.concs, strict=True)):
            name = d or "no drug"
            rows += [(f"segment {i} ({name}) volume", v.term, "nL")]
            rows += [(f"segment {i} ({name}) concentration", term(c), "ng/mL")]
        rows += [(f"reservoir ({self.res_drug}) concentration", term(self.res_conc), "ng/mL")]
        return tuple(rows)


def _overlap(lo: ZInt, hi: ZInt, start: ZInt, end: ZInt | None) -> ZInt:
    a = z3.If(lo >= start, lo, start)
    b = hi if end is None else z3.If(hi <= end, hi, end)
    return z3.If(b > a, b - a, 0)


def _sym(shape: Shape, ex: Explorer) -> _Sym:
    labels, res_drug = shape
    vols = tuple(ex.fresh(f"v{i}") for i in range(len(labels)))
    concs: tuple[SymInt | int, ...] = tuple(
        ex.fresh(f"c{i}") if d != NO_DRUG else 0 for i, d in enumerate(labels)
    )
    res_conc: SymInt | int = ex.fresh("c_reservoir") if res_drug != NO_DRUG else 0
    s = _Sym(ex, labels, vols, concs, res_drug, res_conc)
    ex.assume(*s.domain())
    return s


def _volume(pieces: Sequence[Segment]) -> ZInt:
    return z3.Sum(*[term(p.volume_nl) for p in pieces]) if pieces else z3.IntVal(0)


def _pieces_ok(pieces: Sequence[Segment]) -> ZBool:
    """Every piece has a positive volume and no two neighbours hold the same fluid (written
    here, not the core's ``same_fluid``)."""
    out: list[ZBool] = [term(p.volume_nl) > 0 for p in pieces]
    for a, b in itertools.pairwise(pieces):
        if a.drug == b.drug:
            out.append(term(a.concentration_ng_per_ml) != term(b.concentration_ng_per_ml))
    return z3.And(*out) if out else z3.BoolVal(True)


def _amount(pieces: Sequence[Segment], drug: str) -> ZInt:
    """fg of ``drug`` in ``pieces`` (written here, not the core's ``amount_fg``)."""
    terms = [term(p.volume_nl) * term(p.concentration_ng_per_ml) for p in pieces if p.drug == drug]
    return z3.Sum(*terms) if terms else z3.IntVal(0)


def _per_leaf(
    domain: ZBool, leaves: Sequence[Leaf], goal: Callable[[Leaf], ZBool], shown: Shown
) -> list[Case]:
    """One case per explored path: its condition implies the goal on its result."""
    from itdose.proofs.obligations import Case

    return [Case(z3.And(domain, leaf.pc), goal(leaf), shown) for leaf in leaves]


def _cover(domain: ZBool, leaves: Sequence[Leaf], shown: Shown) -> Case:
    from itdose.proofs.obligations import Case

    return Case(domain, covered(leaves), shown)


def _claims(names: dict[str, str], cases: dict[str, list[Case]]) -> list[Claim]:
    from itdose.proofs.obligations import Claim

    return [Claim(names[k], (), z3.BoolVal(True), (), cases=tuple(c)) for k, c in cases.items()]


# --- PATH-Z3: push -------------------------------------------------------------------------

PushFn = Callable[[FluidPath, Any, str, Any], tuple[FluidPath, tuple[Segment, ...]]]


def _live_push(
    p: FluidPath, volume: Any, drug: str, conc: Any
) -> tuple[FluidPath, tuple[Segment, ...]]:
    return path_mod.FluidPath.push(p, volume, drug, conc)


def path_claims(push: PushFn | None = None, shapes: Sequence[Shape] = SHAPES) -> list[Claim]:
    """Push claims on every shape: volume and drug conserved, the new path valid, FIFO."""

    push_fn = push or _live_push
    cases: dict[str, list[Case]] = {k: [] for k in ("cover", "volume", "drug", "valid", "fifo")}
    for shape in shapes:
        ex = Explorer()
        s = _sym(shape, ex)
        pushed = ex.fresh("pushed")
        ex.assume(pushed.term >= 0)
        before = s.path

        def run(s: _Sym = s, before: FluidPath = before, pushed: SymInt = pushed) -> Any:
            new, out = push_fn(before, pushed, s.res_drug, s.res_conc)
            new.check("path", before.volume_nl)  # the live consistency check: raises if not
            return new, out

        leaves = run_any(ex, run)
        domain = z3.And(*ex.assumptions)
        v, t = pushed.term, s.total
        shown = (*s.shown(), ("pushed", v, "nL"))

        def ok(leaf: Leaf) -> ZBool:
            return z3.BoolVal(leaf.error is None)

        def vol(leaf: Leaf, v: ZInt = v, t: ZInt = t) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            new, out = leaf.result
            return z3.And(_volume(new.segments) == t, _volume(out) == v, _pieces_ok(out))

        def drug(leaf: Leaf, s: _Sym = s, v: ZInt = v) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            new, out = leaf.result
            before = s.path.segments
            return z3.And(
                *[
                    _amount(before, d) + (v * term(s.res_conc) if s.res_drug == d else 0)
                    == _amount(new.segments, d) + _amount(out, d)
                    for d in DRUGS
                ]
            )

        def fifo(leaf: Leaf, s: _Sym = s, v: ZInt = v, t: ZInt = t) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            new, out = leaf.result
            return z3.And(
                *[
                    z3.And(
                        _amount(out, d) == s.ref_amount(z3.IntVal(0), v, d),
                        _amount(new.segments, d) == s.ref_amount(v, v + t, d),
                    )
                    for d in DRUGS
                ]
            )

        cases["cover"].append(_cover(domain, leaves, shown))
        for key, fn in (("volume", vol), ("drug", drug), ("valid", ok), ("fifo", fifo)):
            cases[key] += _per_leaf(domain, leaves, fn, shown)
    names = {
        "cover": "the explored paths of the live push cover every input (every shape)",
        "volume": "a push keeps the path's volume and pushes out exactly the volume pushed in, "
        "in pieces of positive volume with equal neighbours merged (nothing for a push of 0 nL; "
        "REQ-TIP-001)",
        "drug": "a push conserves each drug exactly: in path + pushed in == in path after + out "
        "of the tip, in fg (REQ-TIP-001)",
        "valid": "the path after a push passes the live FluidPath.check: positive volumes, equal "
        "neighbours merged, the dead volume held (REQ-TIP-001)",
        "fifo": "first in, first out: the tip gives the path's first V nL, the reservoir's fluid "
        "only after the whole path volume; the path then holds [V, V + volume) (REQ-TIP-001, "
        "REQ-TIP-003)",
    }
    return _claims(names, cases)


def _push_keeps_outflow(
    p: FluidPath, volume: Any, drug: str, conc: Any
) -> tuple[FluidPath, tuple[Segment, ...]]:
    _, out = _live_push(p, volume, drug, conc)
    return FluidPath((*p.segments, Segment(volume, drug, conc))), out


def _push_drops_segment(
    p: FluidPath, volume: Any, drug: str, conc: Any
) -> tuple[FluidPath, tuple[Segment, ...]]:
    new, out = _live_push(p, volume, drug, conc)
    return FluidPath(new.segments[:-1] or new.segments), out


def _push_drops_tip_piece(
    p: FluidPath, volume: Any, drug: str, conc: Any
) -> tuple[FluidPath, tuple[Segment, ...]]:
    new, out = _live_push(p, volume, drug, conc)
    return new, out[1:]


def _push_zero_piece(
    p: FluidPath, volume: Any, drug: str, conc: Any
) -> tuple[FluidPath, tuple[Segment, ...]]:
    new, out = _live_push(p, volume, drug, conc)
    return new, (*out, Segment(0, drug, conc))


# --- PATH-Z3-INPUT: the path's input checks ---------------------------------------------------

EmptyFn = Callable[[Any], FluidPath]
CheckFn = Callable[[FluidPath, str, Any], None]

CHECK_SHAPES: tuple[tuple[str, ...], ...] = (
    (),
    (NO_DRUG,),
    ("a",),
    ("a", "a"),
    ("a", "b"),
    (NO_DRUG, "a"),
    (NO_DRUG, NO_DRUG),
    ("a", "a", "a"),
)
"""The segment drugs of the paths given to ``FluidPath.check``: every volume and every
concentration symbolic and unconstrained (negative, zero, equal neighbours included)."""


def _live_empty(volume: Any) -> FluidPath:
    return path_mod.FluidPath.empty(volume)


def _live_check(p: FluidPath, name: str, volume: Any) -> None:
    p.check(name, volume)


def _rejected(leaf: Leaf, field: str) -> bool:
    """The path ended in the documented rejection, naming ``field``."""
    return isinstance(leaf.error, InvalidInput) and leaf.error.field == field


def _check_reference(
    labels: tuple[str, ...], vols: Sequence[ZInt], concs: Sequence[ZInt], dead: ZInt
) -> tuple[dict[str, ZBool], ZBool]:
    """The rules a path must keep (docs/dosing-rules.md, "What reaches the patient"), written
    from REQ-TIP-001: per field the condition under which that field is at fault, and the
    validity of the whole path."""
    faults: dict[str, ZBool] = {}
    for i, (d, v, c) in enumerate(zip(labels, vols, concs, strict=True)):
        fluid = c != 0 if d == NO_DRUG else c <= 0  # no drug exactly at concentration 0
        merged = (
            c == concs[i - 1] if i and labels[i - 1] == d else z3.BoolVal(False)
        )  # equal neighbours are one segment
        faults[f"path.segments[{i}].volume_nl"] = v <= 0
        faults[f"path.segments[{i}]"] = z3.Or(fluid, merged)
    total = z3.Sum(*vols) if vols else z3.IntVal(0)
    faults["path.volume_nl"] = total != dead
    return faults, z3.Not(z3.Or(*faults.values()))


def input_claims(
    empty: EmptyFn | None = None,
    push: PushFn | None = None,
    check: CheckFn | None = None,
    shapes: Sequence[Shape] = SHAPES,
    check_shapes: Sequence[tuple[str, ...]] = CHECK_SHAPES,
) -> list[Claim]:
    """The path's input checks on symbolic inputs, invalid ones included: ``FluidPath.empty``
    and ``FluidPath.push`` reject a negative volume, ``FluidPath.check`` accepts exactly the
    valid paths; every rejection is the documented InvalidInput naming the field at fault."""

    empty_fn = empty or _live_empty
    push_fn = push or _live_push
    check_fn = check or _live_check
    cases: dict[str, list[Case]] = {k: [] for k in ("cover", "empty", "push", "check")}
    # FluidPath.empty(V) for every integer V
    ex = Explorer()
    v = ex.fresh("volume")
    leaves = run_any(ex, functools.partial(empty_fn, v))
    shown: Shown = (("volume", v.term, "nL"),)

    def empty_goal(leaf: Leaf, v: ZInt = v.term) -> ZBool:
        if leaf.error is not None:
            return z3.And(v < 0, z3.BoolVal(_rejected(leaf, "path.volume_nl")))
        segs = leaf.result.segments
        no_drug = [z3.BoolVal(p.drug == NO_DRUG) for p in segs]
        return z3.And(
            v >= 0,
            _volume(segs) == v,
            _pieces_ok(segs),
            *no_drug,
            *[term(p.concentration_ng_per_ml) == 0 for p in segs],
        )

    cases["cover"].append(_cover(z3.BoolVal(True), leaves, shown))
    cases["empty"] += _per_leaf(z3.BoolVal(True), leaves, empty_goal, shown)
    # a push of a negative volume, on every shape (PATH-Z3 proves every other volume accepted)
    for shape in shapes:
        ex = Explorer()
        s = _sym(shape, ex)
        pushed = ex.fresh("pushed")
        ex.assume(pushed.term < 0)
        leaves = run_any(ex, functools.partial(push_fn, s.path, pushed, s.res_drug, s.res_conc))
        domain = z3.And(*ex.assumptions)
        shown = (*s.shown(), ("pushed", pushed.term, "nL"))

        def push_goal(leaf: Leaf) -> ZBool:
            return z3.BoolVal(_rejected(leaf, "volume_nl"))

        cases["cover"].append(_cover(domain, leaves, shown))
        cases["push"] += _per_leaf(domain, leaves, push_goal, shown)
    # FluidPath.check on paths of every volume and concentration, against a dead volume
    for labels in check_shapes:
        ex = Explorer()
        vols = [ex.fresh(f"v{i}") for i in range(len(labels))]
        concs = [ex.fresh(f"c{i}") for i in range(len(labels))]
        dead = ex.fresh("dead_volume")
        p = FluidPath(
            tuple(Segment(vv, d, c) for vv, d, c in zip(vols, labels, concs, strict=True))
        )
        leaves = run_any(ex, functools.partial(check_fn, p, "path", dead))
        faults, valid = _check_reference(
            labels, [x.term for x in vols], [x.term for x in concs], dead.term
        )
        rows: list[tuple[str, Any, str]] = []
        for i, (d, vv, c) in enumerate(zip(labels, vols, concs, strict=True)):
            rows += [(f"segment {i} ({d or 'no drug'}) volume", vv.term, "nL")]
            rows += [(f"segment {i} ({d or 'no drug'}) concentration", c.term, "ng/mL")]
        shown = (*rows, ("dead volume", dead.term, "nL"))

        def check_goal(
            leaf: Leaf, faults: dict[str, ZBool] = faults, valid: ZBool = valid
        ) -> ZBool:
            if leaf.error is None:
                return valid
            err = leaf.error
            if not isinstance(err, InvalidInput) or err.field not in faults:
                return z3.BoolVal(False)
            return faults[err.field]

        cases["cover"].append(_cover(z3.BoolVal(True), leaves, shown))
        cases["check"] += _per_leaf(z3.BoolVal(True), leaves, check_goal, shown)
    names = {
        "cover": "the explored paths of the live FluidPath.empty, push and check cover every "
        "input (negative, zero and equal values included)",
        "empty": "FluidPath.empty(V) is a merged path of exactly V nL holding only fluid without "
        "drug for every V >= 0, and raises InvalidInput naming path.volume_nl for every V < 0 "
        "(REQ-TIP-001, REQ-CORE-004)",
        "push": "a push of a negative volume raises InvalidInput naming volume_nl, on every "
        "shape (REQ-CORE-004)",
        "check": "FluidPath.check accepts exactly the valid paths (positive volumes, "
        "concentration 0 exactly when without drug, equal neighbours merged, the dead volume "
        "held) and rejects every other with InvalidInput naming a field at fault (REQ-TIP-001, "
        "REQ-CORE-004)",
    }
    return _claims(names, cases)


def _empty_accepts_negative(volume: Any) -> FluidPath:
    return FluidPath((Segment(volume, NO_DRUG, 0),) if volume else ())


def _push_accepts_negative(
    p: FluidPath, volume: Any, drug: str, conc: Any
) -> tuple[FluidPath, tuple[Segment, ...]]:
    if volume < 0:
        return p, ()
    return _live_push(p, volume, drug, conc)


def _check_skips_empty_segments(p: FluidPath, name: str, volume: Any) -> None:
    _live_check(FluidPath(tuple(s for s in p.segments if s.volume_nl != 0)), name, volume)


def _check_ignores_no_drug_concentration(p: FluidPath, name: str, volume: Any) -> None:
    segs = tuple(s if s.drug != NO_DRUG else Segment(s.volume_nl, NO_DRUG, 0) for s in p.segments)
    _live_check(FluidPath(segs), name, volume)


# --- PATH-Z3-PLAN: outflow and plan_volume ---------------------------------------------------

OutflowFn = Callable[[FluidPath, Any, Any, str, Any], tuple[Segment, ...]]
PlanFn = Callable[[Device, Any, str, Any], tuple[Any, Any, bool]]


def _live_outflow(
    p: FluidPath, skip: Any, volume: Any, drug: str, conc: Any
) -> tuple[Segment, ...]:
    return path_mod.FluidPath.outflow(p, skip, volume, drug, conc)


def _live_plan(d: Device, skip: Any, drug: str, target: Any) -> tuple[Any, Any, bool]:
    return dosing.plan_volume(d, skip, drug, target)


RoomFn = Callable[[Device, str, Any], Any]


def _live_room(d: Device, drug: str, empty_threshold_nl: Any) -> Any:
    return dosing.reservoir_room_ng(d, drug, empty_threshold_nl)


def _room_ignoring_flight(d: Device, drug: str, empty_threshold_nl: Any) -> Any:
    return _live_room(dataclasses.replace(d, orders=()), drug, empty_threshold_nl)


def plan_claims(
    outflow: OutflowFn | None = None,
    plan_volume: PlanFn | None = None,
    shapes: Sequence[Shape] = SHAPES,
    reservoir_room: RoomFn | None = None,
) -> list[Claim]:
    """Planning through the path: the live outflow is the path's contents in the range; the
    live plan_volume pushes out only the drug, exactly the amount it reports, at most the target,
    and is the largest such volume."""

    outflow_fn = outflow or _live_outflow
    plan_fn = plan_volume or _live_plan
    room_fn = reservoir_room or _live_room
    keys = ("cover", "range", "bound", "plan", "largest", "inputs")
    cases: dict[str, list[Case]] = {k: [] for k in keys}
    for shape in shapes:
        # outflow of [skip, skip + volume)
        ex = Explorer()
        s = _sym(shape, ex)
        skip, vol = ex.fresh("skip"), ex.fresh("volume")
        ex.assume(skip.term >= 0, vol.term >= 0)
        p = s.path
        leaves = run_any(ex, functools.partial(outflow_fn, p, skip, vol, s.res_drug, s.res_conc))
        domain = z3.And(*ex.assumptions)
        lo, hi = skip.term, skip.term + vol.term
        shown = (*s.shown(), ("skip", lo, "nL"), ("volume", vol.term, "nL"))

        def in_range(leaf: Leaf, s: _Sym = s, lo: ZInt = lo, hi: ZInt = hi) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            out = leaf.result
            return z3.And(
                _volume(out) == hi - lo,
                _pieces_ok(out),
                *[_amount(out, d) == s.ref_amount(lo, hi, d) for d in DRUGS],
            )

        def bound(leaf: Leaf, s: _Sym = s, v: ZInt = vol.term) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            return z3.And(*[_amount(leaf.result, d) <= v * s.max_conc() for d in DRUGS])

        cases["cover"].append(_cover(domain, leaves, shown))
        cases["range"] += _per_leaf(domain, leaves, in_range, shown)
        cases["bound"] += _per_leaf(domain, leaves, bound, shown)
        # plan_volume: the largest whole volume after skip pushing out only drug "a", <= target
        ex = Explorer()
        s = _sym(shape, ex)
        skip, target = ex.fresh("skip"), ex.fresh("target_fg")
        ex.assume(skip.term >= 0, target.term >= 0)
        device = Device(reservoir=Reservoir(s.res_drug, "x", s.res_conc, 0), path=s.path)
        leaves = run_any(ex, functools.partial(plan_fn, device, skip, "a", target))
        domain = z3.And(*ex.assumptions)
        shown = (*s.shown(), ("skip", skip.term, "nL"), ("target (fg)", target.term, ""))

        def plan(
            leaf: Leaf, s: _Sym = s, skip: ZInt = skip.term, target: ZInt = target.term
        ) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            v, fg = term(leaf.result[0]), term(leaf.result[1])
            return z3.And(
                v >= 0,
                fg >= 0,
                fg <= target,
                fg == s.ref_amount(skip, skip + v, "a"),
                s.ref_other_volume(skip, skip + v, "a") == 0,
            )

        def largest(
            leaf: Leaf, s: _Sym = s, skip: ZInt = skip.term, target: ZInt = target.term
        ) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            v, ended = term(leaf.result[0]), leaf.result[2]
            nxt = skip + v
            if ended:  # another fluid is next at the tip
                return s.ref_other_volume(nxt, nxt + 1, "a") == 1
            return s.ref_amount(skip, nxt + 1, "a") > target

        cases["cover"].append(_cover(domain, leaves, shown))
        cases["plan"] += _per_leaf(domain, leaves, plan, shown)
        cases["largest"] += _per_leaf(domain, leaves, largest, shown)
        # the governor's inputs: the reservoir room and the amount in flight, at the tip (paths
        # of up to two segments: the functions only call outflow, proved above for three)
        if len(shape[0]) > 2:
            continue
        ex = Explorer()
        s = _sym(shape, ex)
        res_nl, empty, ordered, reported = (
            ex.fresh("reservoir_nl"),
            ex.fresh("empty_threshold_nl"),
            ex.fresh("ordered_nl"),
            ex.fresh("reported_nl"),
        )
        ex.assume(*[x.term >= 0 for x in (res_nl, empty, ordered, reported)])
        order = Order(1, DeliveryKind.BASAL, 0, 1, ordered, reported)
        device = Device(
            reservoir=Reservoir(s.res_drug, "x", s.res_conc, res_nl), path=s.path, orders=(order,)
        )
        leaves = run_any(ex, functools.partial(room_fn, device, "a", empty))
        domain = z3.And(*ex.assumptions)
        flight = z3.If(ordered.term > reported.term, ordered.term - reported.term, 0)
        usable_raw = res_nl.term - flight - empty.term
        usable = z3.If(usable_raw > 0, usable_raw, 0)
        shown = (
            *s.shown(),
            ("reservoir", res_nl.term, "nL"),
            ("empty threshold", empty.term, "nL"),
            ("ordered", ordered.term, "nL"),
            ("reported", reported.term, "nL"),
        )

        def inputs(leaf: Leaf, s: _Sym = s, flight: ZInt = flight, usable: ZInt = usable) -> ZBool:
            if leaf.error is not None:
                return z3.BoolVal(False)
            room = term(leaf.result)
            usable_fg = s.ref_amount(flight, flight + usable, "a")
            return z3.And(room * FG_PER_NG <= usable_fg, usable_fg < (room + 1) * FG_PER_NG)

        cases["cover"].append(_cover(domain, leaves, shown))
        cases["inputs"] += _per_leaf(domain, leaves, inputs, shown)
    names = {
        "cover": "the explored paths of the live outflow and plan_volume cover every input",
        "range": "outflow(skip, V) is exactly the path + reservoir contents in [skip, skip + V), "
        "per drug in fg, in pieces of positive volume with equal neighbours merged (nothing for "
        "V = 0; REQ-TIP-002)",
        "bound": "the tip amount of a push of V nL is at most V x the highest concentration "
        "present (REQ-TIP-002)",
        "plan": "plan_volume's volume pushes out only the planned drug, exactly the amount it "
        "reports, and at most the target (REQ-TIP-002)",
        "largest": "plan_volume's volume is the largest: one more nL exceeds the target, or "
        "another fluid is next at the tip (REQ-TIP-002)",
        "inputs": "the governor's reservoir room is a tip amount: reservoir_room_ng is the drug "
        "the usable volume pushes out after the volume in flight, rounded down (REQ-GOV-003, "
        "REQ-TIP-002)",
    }
    return _claims(names, cases)


def _outflow_ignores_skip(
    p: FluidPath, skip: Any, volume: Any, drug: str, conc: Any
) -> tuple[Segment, ...]:
    return _live_outflow(p, 0, volume, drug, conc)


def _outflow_zero_piece(
    p: FluidPath, skip: Any, volume: Any, drug: str, conc: Any
) -> tuple[Segment, ...]:
    return (*_live_outflow(p, skip, volume, drug, conc), Segment(0, drug, conc))


def _plan_one_more(d: Device, skip: Any, drug: str, target: Any) -> tuple[Any, Any, bool]:
    volume, fg, ended = _live_plan(d, skip, drug, target)
    return volume + 1, fg, ended


# --- PATH-Z3-STEP: one basal step through the runtime code ------------------------------------

STEP_SHAPES: tuple[Shape, ...] = (((), "a"), ((NO_DRUG,), "a"), (("a",), "b"))
"""The shapes of the end-to-end step: a path of no volume, the path after implant (no drug in it,
drug arriving behind it) and a drug change. Each further shape costs seconds."""
_NOW = 10 * 86_400
_STEP_KEYS = ("cover", "recorded", "cap", "reservoir")
DecideFn = Callable[..., Any]


def _live_decide(request: Any) -> Any:
    return governor.decide_basal(request)


def _decide_without_cap(request: Any) -> Any:
    return governor.decide_basal(dataclasses.replace(request, cap_room_ng=request.requested_ng))


def _item(i: int, result: Any) -> ZInt:
    return term(result[i])


def _step_cases(shape: Shape, decide_fn: DecideFn) -> dict[str, list[Case]]:
    """The step's cases for one shape (see :func:`step_claims`)."""
    from itdose.proofs.obligations import Case

    cases: dict[str, list[Case]] = {k: [] for k in _STEP_KEYS}
    ex = Explorer()
    s = _sym(shape, ex)
    res, empty, flight, cap, req = (
        ex.fresh(n) for n in ("reservoir_nl", "empty_nl", "flight_nl", "cap_room", "requested")
    )
    ex.assume(*[x.term >= 0 for x in (res, empty, flight, cap, req)])
    defs: list[ZBool] = []
    covers: list[ZBool] = []
    raised: list[Leaf] = []

    def device(
        extra: tuple[Order, ...] = (),
        s: _Sym = s,
        res: SymInt = res,
        flight: SymInt = flight,
    ) -> Device:
        order = Order(1, DeliveryKind.BASAL, _NOW - 3_600, _NOW, flight)
        reservoir = Reservoir(s.res_drug, "x", s.res_conc, res)
        return Device(reservoir=reservoir, path=s.path, orders=(order, *extra), next_order_id=3)

    def explore(
        fn: Callable[[], tuple[Any, ...]], names: tuple[str, ...], ex: Explorer = ex
    ) -> tuple[list[Leaf], list[SymInt]]:
        sub = Explorer((*ex.assumptions, *defs))
        leaves = run_any(sub, fn)
        covers.append(covered(leaves))
        # a path that raises is a counterexample of the coverage claim; the value is defined by
        # the others (sound: the claims fail if a raising path is feasible)
        ok = [leaf for leaf in leaves if leaf.error is None]
        raised.extend(leaf for leaf in leaves if leaf.error is not None)
        out = []
        for i, name in enumerate(names):
            v = z3.Int(name)
            if ok:
                defs.append(v == fold(ok, functools.partial(_item, i)))
            out.append(ex.wrap(v))
        return leaves, out

    _, (room,) = explore(
        lambda: (dosing.reservoir_room_ng(device(), "a", empty),), ("reservoir_room_ng",)
    )
    _, (granted,) = explore(
        lambda: (
            decide_fn(
                governor.Request(
                    requested_ng=req, cap_room_ng=cap, reservoir_room_ng=room, delivering=True
                )
            ).granted_ng,
        ),
        ("granted_ng",),
    )
    _, (volume,) = explore(
        lambda: (dosing.plan_volume(device(), flight, "a", granted * FG_PER_NG)[0],),
        ("order_nl",),
    )

    def reports(volume: SymInt = volume) -> tuple[Any, Any]:
        d = device((Order(2, DeliveryKind.BASAL, _NOW, _NOW + 3_600, volume),))
        d, _ = dosing.apply_report(d, 1, flight, True, _NOW)
        d, _ = dosing.apply_report(d, 2, volume, True, _NOW + 3_600)
        assert d.reservoir is not None
        # the drug that left; the lag term of a richer fluid's end (R-TIP-5) is no drug
        pieces = dosing.ledger_of(d, "a").pieces
        recorded = sum(p.amount_fg for p in pieces if not is_lag(p))
        return recorded, d.reservoir.volume_nl

    after, _ = explore(reports, ())
    domain = z3.And(*ex.assumptions, *defs)
    shown = (
        *s.shown(),
        ("reservoir", res.term, "nL"),
        ("empty threshold", empty.term, "nL"),
        ("in flight", flight.term, "nL"),
        ("requested", req.term, "ng"),
        ("cap room", cap.term, "ng"),
        ("reservoir room", room.term, "ng"),
        ("granted", granted.term, "ng"),
        ("order volume", volume.term, "nL"),
    )
    cases["cover"].append(Case(domain, z3.And(*covers), shown))
    cases["cover"] += [Case(z3.And(domain, leaf.pc), z3.BoolVal(False), shown) for leaf in raised]
    out_fg = s.ref_amount(z3.IntVal(0), flight.term + volume.term, "a")
    order_fg = s.ref_amount(flight.term, flight.term + volume.term, "a")
    cases["cap"].append(Case(domain, order_fg <= cap.term * FG_PER_NG, shown))
    for leaf in after:
        if leaf.error is not None:
            for key in ("recorded", "reservoir"):
                cases[key].append(Case(z3.And(domain, leaf.pc), z3.BoolVal(False), shown))
            continue
        recorded, left = term(leaf.result[0]), term(leaf.result[1])
        cases["recorded"].append(Case(z3.And(domain, leaf.pc), recorded == out_fg, shown))
        cases["reservoir"].append(
            Case(z3.And(domain, leaf.pc), z3.Or(volume.term == 0, left >= empty.term), shown)
        )
    return cases


def step_claims(
    decide: DecideFn | None = None, shapes: Sequence[Shape] = STEP_SHAPES
) -> list[Claim]:
    """One basal step through the live runtime functions on symbolic integers: the reservoir
    room (dosing), the decision (governor.decide_basal on the runtime integer operations) with a
    symbolic cap room, the planned volume (dosing.plan_volume), then the drive's reports of the
    order in flight and of the new order (dosing.apply_report: the path pushed, the reservoir
    charged, Ledger.record of the tip outflow). Each function is explored on its own; its result
    enters the next as a named value defined by the explored paths (a coverage claim shows no
    input is left out)."""

    decide_fn = decide or _live_decide
    cases: dict[str, list[Case]] = {k: [] for k in _STEP_KEYS}
    for shape in shapes:
        for key, more in _step_cases(shape, decide_fn).items():
            cases[key] += more
    names = {
        "cover": "the explored paths of every runtime function of the step cover every input, "
        "and none raises on a valid input",
        "recorded": "the ledger records exactly the drug that left the tip in the step (the order "
        "in flight and the new order, in fg, besides the lag term of a richer fluid's end, "
        "R-TIP-5; REQ-TIP-001, REQ-TIP-002)",
        "cap": "the new order's drug leaving the tip is at most the cap room the ledger's peak "
        "admitted (REQ-TIP-002, REQ-GOV-002)",
        "reservoir": "an order never takes the reservoir below the empty threshold (REQ-GOV-003)",
    }
    return _claims(names, cases)


# --- PATH-Z3-CAP: dosing.cap_room_ng's search -------------------------------------------------

CapRoomFn = Callable[..., int]
_CAP_NOW = 10 * 86_400
SMALL_REQUESTS = 24
"""Requests of 0 to this many fg are run against every threshold from -1 to the request + 1."""
LARGE_REQUESTS: tuple[int, ...] = (
    FG_PER_NG - 1,
    FG_PER_NG,
    FG_PER_NG + 1,
    7 * FG_PER_NG + 3,
    20_000_000 * FG_PER_NG + 1,
    3 * 10**13 + 17,
)
"""Requests around whole ng and around the largest hard maxima (20 mg = 2 * 10**13 fg)."""


def _live_cap_room(*args: Any) -> int:
    return flight_mod.cap_room_ng(*args)


def _thresholds(request: int) -> list[int]:
    if request <= SMALL_REQUESTS:
        return list(range(-1, request + 2))
    near = [-1, 0, 1, FG_PER_NG - 1, FG_PER_NG, FG_PER_NG + 1, request // 3, request // 2]
    near += [request - FG_PER_NG - 1, request - FG_PER_NG, request - 2, request - 1]
    near += [request, request + 1]
    return sorted({t for t in near if t >= -1})


def _search_reference(request: int, threshold: int) -> int:
    """What the search must return when exactly the amounts up to ``threshold`` fg fit (any
    monotone "fits" is such a threshold): the request in whole ng rounded up when it fits, else
    the largest amount that fits rounded down to whole ng, 0 when nothing fits. Written from
    REQ-GOV-002 and REQ-TIP-004, with the rounding written out (not the core's helpers)."""
    if request <= threshold:
        return (request + FG_PER_NG - 1) // FG_PER_NG
    return max(threshold, 0) // FG_PER_NG


class _TooManyQuestions(Exception):
    """The search asked about more amounts than a binary search needs (a loop that does not
    narrow, which would never end)."""


@contextlib.contextmanager
def _questions_counted(room_fn: Any, most: int) -> Iterator[None]:
    """While the search runs, each question "does this amount fit?" (one call of the ledger's
    ``peak_fg``, which the search's ``fits`` makes) is counted, and the question after ``most``
    raises :class:`_TooManyQuestions`: a search that does not narrow is a counterexample, not a
    proof that never ends. The live ``peak_fg`` answers every question unchanged."""
    spaces = [vars(flight_mod)]
    own = getattr(room_fn, "__globals__", None)
    if isinstance(own, dict) and "peak_fg" in own and own is not spaces[0]:
        spaces.append(own)  # a seeded variant compiled in a copy of the module's namespace
    live = spaces[0]["peak_fg"]
    asked = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        asked[0] += 1
        if asked[0] > most:
            raise _TooManyQuestions
        return live(*args, **kwargs)

    saved = [space["peak_fg"] for space in spaces]
    for space in spaces:
        space["peak_fg"] = counted
    try:
        yield
    finally:
        for space, old in zip(spaces, saved, strict=True):
            space["peak_fg"] = old


def _two_drugs(lib: Any) -> tuple[Any, Any]:
    """Two library entries of one indication with different hard maxima: the drug planned and
    the reservoir's (after a drug change the old drug is counted against its own maximum)."""
    for a in lib.entries:
        for b in lib.entries:
            if a.indication == b.indication and a.max_daily.value != b.max_daily.value:
                return a, b
    raise ValueError("the library has no two drugs of one indication with different maxima")


def _guesses(request: int, threshold: int) -> tuple[int | None, ...]:
    """The guesses a search is run with: its own (``None``), and guesses that are wrong where
    the search's own one is right: nothing, the request, and the whole ng 1 ng below and above
    the largest amount that fits (the loop after the guess then does the work)."""
    fits_ng = max(threshold, 0) // FG_PER_NG * FG_PER_NG
    return (None, 0, request, fits_ng - FG_PER_NG, fits_ng + FG_PER_NG)


def _guessing(room_fn: CapRoomFn, guess: int) -> CapRoomFn:
    """``room_fn`` (the live search, a seeded variant or a wrapper of either) run with
    ``flight._cap_guess`` answering ``guess``: in the module and in the variant's own namespace
    while it runs."""

    def guessed(*args: Any) -> int:
        return guess

    def run(*args: Any) -> int:
        spaces = [vars(flight_mod)]
        own = getattr(room_fn, "__globals__", None)
        if isinstance(own, dict) and "_cap_guess" in own and own is not spaces[0]:
            spaces.append(own)
        saved = [space["_cap_guess"] for space in spaces]
        for space in spaces:
            space["_cap_guess"] = guessed
        try:
            return room_fn(*args)
        finally:
            for space, old in zip(spaces, saved, strict=True):
                space["_cap_guess"] = old

    return run


def cap_search_claims(cap_room: CapRoomFn | None = None) -> list[Claim]:
    """The live ``flight.cap_room_ng`` against :func:`_search_reference`, on enumerated requests
    and thresholds (see PATH-Z3-CAP)."""
    from itdose.proofs.obligations import Claim
    from itdose.specs import load_library

    room_fn = cap_room or _live_cap_room
    lib = load_library()
    planned, other = _two_drugs(lib)
    # the reservoir holds the other drug: the planned one is still in the path (a drug change)
    device = Device(reservoir=Reservoir(other.drug, other.indication, 1, 0))
    limit = planned.max_daily.value * FG_PER_NG
    over = limit + 1  # more than the planned drug's hard maximum: never fits
    wrong: list[tuple[int, int, int, int, str]] = []
    runs = 0
    cases = [
        (request, t, guess)
        for request in (*range(SMALL_REQUESTS + 1), *LARGE_REQUESTS)
        for t in _thresholds(request)
        for guess in _guesses(request, t)
    ]
    for request, t, guess in cases:
        search = room_fn if guess is None else _guessing(room_fn, guess)
        asked: list[int] = []
        most = 2 + request.bit_length()  # the request, nothing, then one per halving

        def flow_for(fg: int, t: int = t, asked: list[int] = asked) -> Flow:
            # the delivery of fg fits exactly when fg <= t: exactly the hard maximum (which
            # fits, REQ-TIP-004), or 1 fg more
            asked.append(fg)
            amount = limit if fg <= t else over
            return Flow(_CAP_NOW, amount, amount, 3600)

        # a threshold below 0: the drug already due (a flow of more than the limit) does
        # not fit even with no delivery
        base = (Flow(_CAP_NOW, over, over, 3600),) if t < 0 else ()
        want = _search_reference(request, t)
        runs += 1
        try:
            with _questions_counted(room_fn, most):
                got = search(device, _CAP_NOW, lib, planned.drug, request, flow_for, base)
        except _TooManyQuestions:
            wrong.append((request, t, -1, want, f"asked about more than {most} amounts"))
            continue
        except Exception as exc:  # a defect of the search: a counterexample, not a crash
            wrong.append((request, t, -1, want, f"raised {type(exc).__name__}"))
            continue
        outside = [x for x in asked if not 0 <= x <= request]
        if got != want or outside:
            why = f"asked about {outside[0]} fg" if outside else f"returned {got} ng"
            if guess is not None:
                why += f" (guess {guess} fg)"
            wrong.append((request, t, got, want, why))
    first = wrong[0] if wrong else (0, 0, 0, 0, "")
    shown = (
        ("request (fg)", z3.IntVal(first[0]), ""),
        ("largest amount that fits (fg)", z3.IntVal(first[1]), ""),
        ("cap_room_ng (-1: none)", z3.IntVal(first[2]), "ng"),
        ("reference", z3.IntVal(first[3]), "ng"),
    )
    name = (
        "cap_room_ng's search returns the whole request in ng rounded up when it fits, else the "
        "largest amount that fits (it fits, 1 fg more does not) rounded down to whole ng, 0 "
        "when nothing fits, against the planned drug's own maximum; it asks only about amounts "
        "from 0 to the request, at most 2 + log2(request) times, with its own guess and with "
        "guesses of nothing, the request and 1 ng either side of the largest amount that fits "
        f"(a guess only saves questions): {runs} runs, every threshold of every request of 0 "
        f"to {SMALL_REQUESTS} fg and the thresholds around whole ng, a third, a half and the "
        "end of requests up to 3 * 10**13 fg (REQ-GOV-002, REQ-TIP-004)"
    )
    if wrong:
        name += (
            f" (differs on {len(wrong)}, first: request {first[0]} fg, threshold {first[1]} "
            f"fg: {first[4]})"
        )
    return [Claim(name, (), z3.BoolVal(not wrong), shown)]


_SEARCH_GOES_ON = "(hi - 1) // FG_PER_NG > lo // FG_PER_NG"
"""The loop condition of ``cap_room_ng``'s search: more than one whole ng between lo and hi."""


def _cap_room_seeded(old: str, new: str) -> CapRoomFn:
    from itdose.proofs.decisions_z3 import mutated

    return mutated(flight_mod.cap_room_ng, old, new)


# --- the registry ----------------------------------------------------------------------------


def obligations() -> tuple[Any, ...]:
    from itdose.proofs.obligations import Broken, Obligation

    return (
        Obligation(
            "PATH-Z3",
            "fluid path: a push conserves volume and each drug, stays valid, first in first out",
            ("REQ-TIP-001", "REQ-TIP-003"),
            "The live FluidPath.push and FluidPath.check, executed symbolically on every path of "
            f"{len(SHAPES)} shapes (0 to 3 segments, every pattern of two drugs, no-drug fluid "
            "after implant) with symbolic volumes, concentrations and pushed volume: the path's "
            "volume is unchanged and exactly the pushed volume leaves the tip; for each drug, "
            "path before + pushed in == path after + out of the tip, exactly in fg; the new path "
            "passes the live consistency check; the tip gives the first V nL of the path and the "
            "reservoir's fluid only after the whole path volume (new fluid reaches the tip only "
            "when the old has left), and the path then holds the next dead volume.",
            "No hand model of the path: the live code runs on symbolic integers "
            "(itdose.proofs.explore), tied to the runtime by tests/proofs/test_path_model.py. "
            "Paths of more than 3 segments and more than two drugs are not covered symbolically "
            "(the code treats each segment alike; the property tests cover longer paths).",
            lambda: path_claims(),
            (
                Broken(
                    "keeps-outflow",
                    "a push that keeps the outflow in the path (the path grows)",
                    lambda: path_claims(push=_push_keeps_outflow, shapes=SMALL_SHAPES),
                ),
                Broken(
                    "drops-segment",
                    "a push that drops the last segment of the new path",
                    lambda: path_claims(push=_push_drops_segment, shapes=SMALL_SHAPES),
                ),
                Broken(
                    "drops-tip-piece",
                    "a push that drops the first piece leaving the tip",
                    lambda: path_claims(push=_push_drops_tip_piece, shapes=SMALL_SHAPES),
                ),
                Broken(
                    "push-zero-piece",
                    "a push that reports an empty piece leaving the tip",
                    lambda: path_claims(push=_push_zero_piece, shapes=ZERO_PIECE_SHAPES),
                ),
            ),
        ),
        Obligation(
            "PATH-Z3-INPUT",
            "the path's input checks: a negative volume is rejected; FluidPath.check accepts "
            "exactly the valid paths",
            ("REQ-TIP-001", "REQ-CORE-004"),
            "The live FluidPath.empty, FluidPath.push and FluidPath.check, executed "
            "symbolically on inputs that include the invalid ones, every exception kept as the "
            "path's result: FluidPath.empty(V) is a merged path of exactly V nL without drug "
            "for every V >= 0 and raises InvalidInput naming path.volume_nl for every V < 0; a "
            f"push of a negative volume raises InvalidInput naming volume_nl on each of the "
            f"{len(SHAPES)} shapes (PATH-Z3: no other volume is rejected); FluidPath.check on "
            f"{len(CHECK_SHAPES)} shapes of 0 to 3 segments with every volume, concentration and "
            "dead volume symbolic and unconstrained accepts exactly the paths of positive "
            "volumes, concentration 0 exactly without drug, equal neighbours merged and the dead "
            "volume held, and otherwise raises InvalidInput naming a field that is at fault.",
            "No hand model: the reference is the list of rules written from REQ-TIP-001. Not "
            "proved: the message and value of each error (the tests check them); paths of more "
            "than 3 segments (the check treats each segment alike).",
            lambda: input_claims(),
            (
                Broken(
                    "empty-accepts-negative",
                    "FluidPath.empty without its check: a path of negative volume",
                    lambda: input_claims(empty=_empty_accepts_negative, shapes=(), check_shapes=()),
                ),
                Broken(
                    "push-accepts-negative",
                    "a push of a negative volume that moves nothing instead of raising",
                    lambda: input_claims(
                        push=_push_accepts_negative, shapes=ZERO_PIECE_SHAPES, check_shapes=()
                    ),
                ),
                Broken(
                    "check-allows-empty-segment",
                    "FluidPath.check that skips segments of no volume",
                    lambda: input_claims(
                        check=_check_skips_empty_segments, shapes=(), check_shapes=(("a",),)
                    ),
                ),
                Broken(
                    "check-ignores-no-drug-concentration",
                    "FluidPath.check that takes fluid without drug at any concentration",
                    lambda: input_claims(
                        check=_check_ignores_no_drug_concentration,
                        shapes=(),
                        check_shapes=((NO_DRUG,),),
                    ),
                ),
            ),
        ),
        Obligation(
            "PATH-Z3-PLAN",
            "planning through the path: outflow is the path's contents; plan_volume is exact",
            ("REQ-TIP-002", "REQ-GOV-003"),
            "The live FluidPath.outflow and dosing.plan_volume, executed symbolically on every "
            "shape with symbolic skip, volume and target: the outflow of V nL after a skip is "
            "exactly the contents of that range of path + reservoir, per drug; a push's tip "
            "amount is at most V x the highest concentration present; plan_volume's volume "
            "pushes out only the planned drug, exactly the amount it reports, at most the "
            "target, and it is the largest whole volume that does; the governor's input "
            "dosing.reservoir_room_ng (paths of up to 2 segments, one order in flight, symbolic "
            "ordered and reported volumes, reservoir volume and empty threshold) is the drug the "
            "usable volume pushes out of the tip after the volume in flight, rounded down.",
            "No hand model: the reference is the position-wise contents written from the rules. "
            "The device around plan_volume holds only the path and the reservoir fluid.",
            lambda: plan_claims(),
            (
                Broken(
                    "outflow-ignores-skip",
                    "outflow planned from the tip, ignoring the volume already in flight",
                    lambda: plan_claims(outflow=_outflow_ignores_skip, shapes=SMALL_SHAPES),
                ),
                Broken(
                    "room-ignores-flight",
                    "the reservoir room counted from the tip, ignoring the volume in flight",
                    lambda: plan_claims(reservoir_room=_room_ignoring_flight, shapes=SMALL_SHAPES),
                ),
                Broken(
                    "outflow-zero-piece",
                    "outflow that reports an empty piece at the end",
                    lambda: plan_claims(outflow=_outflow_zero_piece, shapes=ZERO_PIECE_SHAPES),
                ),
                Broken(
                    "plan-one-more-nl",
                    "plan_volume orders one nL more than it accounts for",
                    lambda: plan_claims(plan_volume=_plan_one_more, shapes=SMALL_SHAPES),
                ),
            ),
        ),
        Obligation(
            "PATH-Z3-CAP",
            "dosing.cap_room_ng's search finds the largest amount that fits under the cap",
            ("REQ-GOV-002", "REQ-TIP-004"),
            "The live flight.cap_room_ng (the binary search over whole ng of the ledger's exact "
            "peak that gives the governor its cap room, started at the amount its guess expects "
            "and 1 ng more), run with a delivery whose amounts up to a "
            "threshold fit and the rest do not (any 'fits' that is monotone in the amount is "
            "such a threshold), the ledger's live peak_fg deciding each, with its own guess and "
            "with wrong ones (nothing, the request, 1 ng either side): it returns the request "
            "in whole ng rounded up when the request fits, else the largest amount that fits "
            "(it fits, 1 fg more does not) rounded down to whole ng, and 0 when nothing fits; "
            "it asks only about amounts between 0 and the request, at most 2 + log2(request) "
            "of them (it ends), and counts the drug planned against that drug's own maximum "
            "while the reservoir holds another. Checked on enumerated "
            f"inputs: every threshold from -1 to the request + 1 for requests of 0 to "
            f"{SMALL_REQUESTS} fg, and thresholds around whole ng, a third, a half and the end "
            f"of {len(LARGE_REQUESTS)} requests up to 3 * 10**13 fg (20 mg and more).",
            "Enumerated, not symbolic: the search loops log2(request) times and each loop "
            "forks on 'fits', so symbolic execution has about 2 ** (k + 1) paths for requests "
            "below 2 ** k fg. The delivery's flows are the proof's own (exactly the hard "
            "maximum, or 1 fg more), on an empty ledger with nothing in flight: that dosing "
            "passes the true ledger, flows and delivery is checked by the property tests; the "
            "peak itself by LEDGER-Z3.",
            lambda: cap_search_claims(),
            (
                Broken(
                    "search-stops-early",
                    "the search stops while two whole ng remain (lo may be 1 ng short)",
                    lambda: cap_search_claims(
                        _cap_room_seeded(_SEARCH_GOES_ON, f"{_SEARCH_GOES_ON} + 1")
                    ),
                ),
                Broken(
                    "search-returns-hi",
                    "the search returns the smallest amount that does not fit",
                    lambda: cap_search_claims(_cap_room_seeded("ng_down(lo)", "ng_down(hi)")),
                ),
                Broken(
                    "search-never-ends",
                    "a search whose midpoint can be the amount that fits already (once two "
                    "whole ng remain it would ask about it again and again: never end)",
                    lambda: cap_search_claims(_cap_room_seeded("+ 1) // 2", ") // 2")),
                ),
                Broken(
                    "guess-trusted",
                    "the guess taken as fitting without asking the exact peak",
                    lambda: cap_search_claims(
                        _cap_room_seeded("if fits(probe)", "if probe == guess")
                    ),
                ),
                Broken(
                    "reservoir-drug-maximum",
                    "the room of the drug in the path counted against the reservoir drug's "
                    "maximum (after a drug change)",
                    lambda: cap_search_claims(
                        _cap_room_seeded("limit_fg(d, lib, drug)", "limit_fg(d, lib)")
                    ),
                ),
                Broken(
                    "whole-request-rounded-down",
                    "a request that fits returned rounded down to whole ng",
                    lambda: cap_search_claims(
                        _cap_room_seeded("ng_up(requested_fg)", "ng_down(requested_fg)")
                    ),
                ),
            ),
        ),
        Obligation(
            "PATH-Z3-STEP",
            "one basal step through the runtime code: the tip amount is recorded exactly and "
            "stays within the cap room",
            ("REQ-TIP-001", "REQ-TIP-002", "REQ-GOV-002", "REQ-GOV-003", "REQ-GOV-007"),
            "The runtime functions of a basal step, executed symbolically on the runtime "
            "integer operations (no z3 Ops): dosing.reservoir_room_ng, governor.decide_basal "
            "(INT_OPS) with a symbolic cap room, dosing.plan_volume with the granted amount, then "
            "dosing.apply_report for the order in flight and for the new order (the path pushed, "
            "the reservoir charged, Ledger.record of the tip outflow). For symbolic reservoir "
            "volume, empty threshold, volume in flight, cap room and request: the ledger records "
            "exactly the drug that left the tip; the new order's drug at the tip is at most the "
            "cap room; the reservoir never goes below the empty threshold.",
            "No hand model of the step. Not covered: the cap room itself (dosing.cap_room_ng, "
            "the ledger's exact peak over pieces and flows in fractions) is symbolic here, not "
            "computed (its search: PATH-Z3-CAP, on enumerated requests; the peak: LEDGER-Z3). "
            "Scope: a path of no "
            "volume, the path after implant and a drug change, one order in flight; the steady "
            "state (a path holding the reservoir's drug) takes tens of seconds.",
            lambda: step_claims(),
            (
                Broken(
                    "decide-without-cap",
                    "the basal decision made without the cap room",
                    lambda: step_claims(decide=_decide_without_cap, shapes=(((), "a"),)),
                ),
            ),
        ),
    )
