"""The symbolic execution behind the PATH obligations agrees with the runtime (REQ-TIP-001,
REQ-TIP-002).

The PATH-Z3 obligations run the live ``FluidPath.push``, ``FluidPath.outflow``,
``dosing.plan_volume`` and ``path.ng_up`` on symbolic integers (:mod:`itdose.proofs.explore`).
Here, on generated concrete paths, the explored paths must contain exactly one whose condition the
concrete values satisfy, and that path's symbolic result, evaluated at those values, must be
exactly the runtime's result. A :class:`SymInt` that were silently read as its base value, or a
branch that were mis-recorded, would show up as a mismatch.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

z3 = pytest.importorskip("z3")

from itdose.core import dosing  # noqa: E402
from itdose.core.errors import InvalidInput  # noqa: E402
from itdose.core.path import NO_DRUG, FluidPath, Segment, ng_down, ng_up  # noqa: E402
from itdose.core.state import DeliveryKind, Device, Order, Reservoir  # noqa: E402
from itdose.proofs.explore import POISON, Explorer, Leaf, SymInt, term  # noqa: E402

Labels = tuple[tuple[str, ...], str]


def _value(t: Any, subst: list[tuple[Any, Any]]) -> int:
    v = z3.simplify(z3.substitute(term(t), *subst))
    assert z3.is_int_value(v), v
    return int(v.as_long())


def _holds(cond: Any, subst: list[tuple[Any, Any]]) -> bool:
    v = z3.simplify(z3.substitute(cond, *subst))
    assert z3.is_true(v) or z3.is_false(v), v
    return bool(z3.is_true(v))


def _pieces(
    pieces: tuple[Segment, ...], subst: list[tuple[Any, Any]]
) -> list[tuple[int, str, int]]:
    return [
        (_value(p.volume_nl, subst), p.drug, _value(p.concentration_ng_per_ml, subst))
        for p in pieces
    ]


def _concrete(pieces: tuple[Segment, ...]) -> list[tuple[int, str, int]]:
    return [(p.volume_nl, p.drug, p.concentration_ng_per_ml) for p in pieces]


class _Symbolic:
    """A symbolic path of one shape: its inputs and its explored paths for each function."""

    def __init__(self, labels: Labels) -> None:
        self.labels, self.res_drug = labels
        self.ex = Explorer()
        self.vols = [self.ex.fresh(f"v{i}") for i in range(len(self.labels))]
        self.concs: list[SymInt | int] = [
            self.ex.fresh(f"c{i}") if d != NO_DRUG else 0 for i, d in enumerate(self.labels)
        ]
        self.res_conc = self.ex.fresh("cr")
        self.a, self.b = self.ex.fresh("a"), self.ex.fresh("b")
        self.ex.assume(
            *[v.term > 0 for v in self.vols],
            *[term(c) > 0 for c, d in zip(self.concs, self.labels, strict=True) if d != NO_DRUG],
            self.res_conc.term > 0,
            self.a.term >= 0,
            self.b.term >= 0,
        )
        self.path = FluidPath(
            tuple(
                Segment(v, d, c) for v, d, c in zip(self.vols, self.labels, self.concs, strict=True)
            )
        )

    def subst(self, path: FluidPath, res_conc: int, a: int, b: int) -> list[tuple[Any, Any]]:
        pairs = [
            (v.term, z3.IntVal(s.volume_nl)) for v, s in zip(self.vols, path.segments, strict=True)
        ]
        pairs += [
            (c.term, z3.IntVal(s.concentration_ng_per_ml))
            for c, s in zip(self.concs, path.segments, strict=True)
            if isinstance(c, SymInt)
        ]
        return [
            *pairs,
            (self.res_conc.term, z3.IntVal(res_conc)),
            (self.a.term, z3.IntVal(a)),
            (self.b.term, z3.IntVal(b)),
        ]

    @functools.cached_property
    def push(self) -> list[Leaf]:
        return self.ex.run(lambda: self.path.push(self.a, self.res_drug, self.res_conc))

    @functools.cached_property
    def outflow(self) -> list[Leaf]:
        return self.ex.run(lambda: self.path.outflow(self.a, self.b, self.res_drug, self.res_conc))

    @functools.cached_property
    def inputs(self) -> list[Leaf]:
        self.res_nl, self.empty = self.ex.fresh("res_nl"), self.ex.fresh("empty")
        self.ordered, self.reported = self.ex.fresh("ordered"), self.ex.fresh("reported")
        self.ex.assume(
            *[x.term >= 0 for x in (self.res_nl, self.empty, self.ordered, self.reported)]
        )
        order = Order(1, DeliveryKind.BASAL, 0, 1, self.ordered, self.reported)
        reservoir = Reservoir(self.res_drug, "x", self.res_conc, self.res_nl)
        device = Device(reservoir=reservoir, path=self.path, orders=(order,))
        return self.ex.run(lambda: dosing.reservoir_room_ng(device, "a", self.empty))

    @functools.cached_property
    def plan(self) -> list[Leaf]:
        device = Device(reservoir=Reservoir(self.res_drug, "x", self.res_conc, 0), path=self.path)
        return self.ex.run(lambda: dosing.plan_volume(device, self.a, "a", self.b))


@functools.cache
def _symbolic(labels: Labels) -> _Symbolic:
    return _Symbolic(labels)


def _leaf(leaves: list[Leaf], subst: list[tuple[Any, Any]]) -> Leaf:
    taken = [leaf for leaf in leaves if _holds(leaf.pc, subst)]
    assert len(taken) == 1, f"{len(taken)} explored paths match one input"
    return taken[0]


@st.composite
def _paths(draw: st.DrawFn) -> tuple[Labels, FluidPath, int]:
    n = draw(st.integers(0, 3))
    first = draw(st.sampled_from(["a", NO_DRUG])) if n else "a"
    labels = tuple([first, *draw(st.lists(st.sampled_from("ab"), min_size=n, max_size=n))][:n])
    res_drug = draw(st.sampled_from("ab"))
    conc = st.integers(1, 40_000_000)
    segments = tuple(
        Segment(draw(st.integers(1, 300_000)), d, draw(conc) if d != NO_DRUG else 0) for d in labels
    )
    path = FluidPath(segments)
    try:
        path.check("path", path.volume_nl)
    except InvalidInput:
        assume(False)
    return (labels, res_drug), path, draw(conc)


@settings(max_examples=60, deadline=None)
@given(_paths(), st.integers(0, 1_000_000))
def test_symbolic_push_equals_the_runtime_push(case: tuple[Labels, FluidPath, int], v: int) -> None:
    labels, path, res_conc = case
    sym = _symbolic(labels)
    subst = sym.subst(path, res_conc, v, 0)
    leaf = _leaf(sym.push, subst)
    new, out = path.push(v, labels[1], res_conc)
    assert leaf.error is None
    sym_new, sym_out = leaf.result
    assert _pieces(sym_new.segments, subst) == _concrete(new.segments)
    assert _pieces(sym_out, subst) == _concrete(out)


@settings(max_examples=60, deadline=None)
@given(_paths(), st.integers(0, 1_000_000), st.integers(0, 1_000_000))
def test_symbolic_outflow_equals_the_runtime_outflow(
    case: tuple[Labels, FluidPath, int], skip: int, v: int
) -> None:
    labels, path, res_conc = case
    sym = _symbolic(labels)
    subst = sym.subst(path, res_conc, skip, v)
    leaf = _leaf(sym.outflow, subst)
    assert _pieces(leaf.result, subst) == _concrete(path.outflow(skip, v, labels[1], res_conc))


@settings(max_examples=60, deadline=None)
@given(_paths(), st.integers(0, 1_000_000), st.integers(0, 10**13))
def test_symbolic_plan_volume_equals_the_runtime(
    case: tuple[Labels, FluidPath, int], skip: int, target: int
) -> None:
    labels, path, res_conc = case
    sym = _symbolic(labels)
    subst = sym.subst(path, res_conc, skip, target)
    leaf = _leaf(sym.plan, subst)
    device = Device(reservoir=Reservoir(labels[1], "x", res_conc, 0), path=path)
    volume, fg, ended = dosing.plan_volume(device, skip, "a", target)
    assert (_value(leaf.result[0], subst), _value(leaf.result[1], subst), leaf.result[2]) == (
        volume,
        fg,
        ended,
    )


@settings(max_examples=60, deadline=None)
@given(
    _paths(),
    st.integers(0, 2_000_000),
    st.integers(0, 100_000),
    st.integers(0, 1_000_000),
    st.integers(0, 1_000_000),
)
def test_symbolic_reservoir_room_equals_the_runtime(
    case: tuple[Labels, FluidPath, int], res_nl: int, empty: int, ordered: int, reported: int
) -> None:
    labels, path, res_conc = case
    sym = _symbolic(labels)
    leaves = sym.inputs  # creates the symbolic reservoir and order inputs
    subst = [
        *sym.subst(path, res_conc, 0, 0),
        (sym.res_nl.term, z3.IntVal(res_nl)),
        (sym.empty.term, z3.IntVal(empty)),
        (sym.ordered.term, z3.IntVal(ordered)),
        (sym.reported.term, z3.IntVal(reported)),
    ]
    leaf = _leaf(leaves, subst)
    order = Order(1, DeliveryKind.BASAL, 0, 1, ordered, reported)
    device = Device(
        reservoir=Reservoir(labels[1], "x", res_conc, res_nl), path=path, orders=(order,)
    )
    assert _value(leaf.result, subst) == dosing.reservoir_room_ng(device, "a", empty)


@given(st.integers(0, 10**15))
def test_symbolic_rounding_equals_the_runtime(fg: int) -> None:
    ex = Explorer()
    x = ex.fresh("fg")
    ex.assume(x.term >= 0)
    subst = [(x.term, z3.IntVal(fg))]
    for fn in (ng_up, ng_down):
        leaves = ex.run(lambda fn=fn: fn(x))
        leaf = _leaf(leaves, subst)
        assert _value(leaf.result, subst) == fn(fg)


def test_a_symbolic_integer_is_never_read_as_a_number() -> None:
    ex = Explorer()
    x = ex.fresh("x")
    for convert in (int, float, round, hash, lambda v: v / 2, lambda v: v**2, lambda v: v & 1):
        with pytest.raises(TypeError):
            convert(x)
    # where CPython reads an int subclass's base value directly, the poison value shows
    with pytest.raises(IndexError):
        [0, 1][x]
    assert hex(x) == hex(POISON)


def test_every_feasible_branch_is_explored() -> None:
    ex = Explorer()
    x = ex.fresh("x")
    ex.assume(x.term >= 0, x.term <= 10)

    def classify() -> int:
        if x < 3:
            return 0
        if x == 3:
            return 1
        return 2 if x % 2 == 0 else 3

    leaves = ex.run(classify)
    assert sorted(leaf.result for leaf in leaves) == [0, 1, 2, 3]
    for value in range(11):
        (leaf,) = [leaf for leaf in leaves if _holds(leaf.pc, [(x.term, z3.IntVal(value))])]
        assert leaf.result == (0 if value < 3 else 1 if value == 3 else 2 + value % 2)
    # an infeasible branch is not explored: x > 10 is excluded by the assumptions
    assert [leaf.result for leaf in ex.run(lambda: 1 if x > 10 else 0)] == [0]
