"""The proofs of the fluid path's input checks (PATH-Z3-INPUT) and the proofs' treatment of any
exception on an explored path (REQ-TIP-001, REQ-CORE-004).

PATH-Z3-INPUT runs the live ``FluidPath.empty``, ``FluidPath.push`` and ``FluidPath.check`` on
symbolic inputs that include the invalid ones. Here: each seeded defect of an input check fails a
claim with a counterexample that shows the defect; an exception other than the documented
``InvalidInput`` on a valid input (a ``TypeError`` from a dropped argument, say) fails a claim
instead of stopping the proof; and, on generated concrete paths valid or not, the explored path
that the concrete values follow raises exactly when the runtime raises, naming the same field.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

z3 = pytest.importorskip("z3")

from itdose.core.errors import InvalidInput  # noqa: E402
from itdose.core.path import NO_DRUG, FluidPath, Segment  # noqa: E402
from itdose.proofs import path_z3  # noqa: E402
from itdose.proofs.explore import Explorer, Leaf, run_any  # noqa: E402
from itdose.proofs.obligations import (  # noqa: E402
    ObligationResult,
    all_obligations,
    check_claims,
    run_obligation,
)

OBLIGATIONS = {o.id: o for o in all_obligations()}


def _failed(claims: list[Any]) -> list[Any]:
    return [r for r in check_claims(claims) if r.status == "counterexample"]


def _number(text: str) -> int:
    """The leading integer of a rendered value (``"-1 nL (-0.000001 mL)"`` -> -1)."""
    return int(text.split()[0])


def test_empty_of_a_negative_volume_must_raise() -> None:
    """REQ-CORE-004: FluidPath.empty without its check gives a path of negative volume; the
    proof shows it with a negative volume."""
    claims = path_z3.input_claims(empty=path_z3._empty_accepts_negative, shapes=(), check_shapes=())
    failed = _failed(claims)
    assert [r.name for r in failed] == [c.name for c in claims if "FluidPath.empty(V)" in c.name]
    assert failed[0].counterexample is not None
    assert _number(failed[0].counterexample["volume"]) < 0


def test_a_push_of_a_negative_volume_must_raise() -> None:
    """REQ-CORE-004: a push that ignores a negative volume is shown with a negative volume."""
    claims = path_z3.input_claims(
        push=path_z3._push_accepts_negative, shapes=path_z3.SMALL_SHAPES, check_shapes=()
    )
    failed = _failed(claims)
    assert len(failed) == 1 and "negative volume" in failed[0].name
    assert failed[0].counterexample is not None
    assert _number(failed[0].counterexample["pushed"]) < 0


@pytest.mark.parametrize(
    ("broken", "labels", "shows"),
    [
        (path_z3._check_skips_empty_segments, ("a",), "segment 0 (a) volume"),
        (path_z3._check_ignores_no_drug_concentration, (NO_DRUG,), "segment 0 (no drug) volume"),
    ],
)
def test_a_check_that_accepts_an_invalid_path_is_shown(
    broken: Any, labels: tuple[str, ...], shows: str
) -> None:
    """REQ-TIP-001: a check without one of its rules accepts an invalid path: the counterexample
    is a path the rules reject (a segment of no volume; fluid without drug at a concentration)."""
    failed = _failed(path_z3.input_claims(check=broken, shapes=(), check_shapes=(labels,)))
    assert len(failed) == 1 and failed[0].name.startswith("FluidPath.check accepts exactly")
    cex = failed[0].counterexample
    assert cex is not None
    if labels == ("a",):
        assert _number(cex[shows]) <= 0
    else:
        assert _number(cex[shows]) > 0
        assert _number(cex["segment 0 (no drug) concentration"]) != 0


def _check_blames_the_volume(p: FluidPath, name: str, volume: Any) -> None:
    try:
        p.check(name, volume)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}.volume_nl", exc.message) from exc


def _check_raises_value_error(p: FluidPath, name: str, volume: Any) -> None:
    try:
        p.check(name, volume)
    except InvalidInput as exc:
        raise ValueError(exc.message) from exc


@pytest.mark.parametrize("broken", [_check_blames_the_volume, _check_raises_value_error])
def test_a_rejection_must_be_invalid_input_naming_a_field_at_fault(broken: Any) -> None:
    """REQ-CORE-004: rejecting the right paths is not enough: an error naming a field that is
    not at fault (the dead volume for a segment of no volume), or another exception type, fails
    the claim."""
    failed = _failed(path_z3.input_claims(check=broken, shapes=(), check_shapes=(("a",),)))
    assert [r.name for r in failed if r.name.startswith("FluidPath.check")], failed


def test_an_exception_on_a_valid_path_is_a_counterexample_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQ-TIP-001: a push that raises TypeError (a dropped argument) on some valid input fails a
    claim of PATH-Z3 with that input, instead of leaving the proof unbuilt."""
    live = FluidPath.push

    def broken(self: FluidPath, volume_nl: int, drug: str, conc: int) -> object:
        if volume_nl == 7:
            return Segment(volume_nl, drug)  # type: ignore[call-arg]
        return live(self, volume_nl, drug, conc)

    monkeypatch.setattr(FluidPath, "push", broken)
    result: ObligationResult = run_obligation(OBLIGATIONS["PATH-Z3"])
    assert result.status == "fail"
    assert not result.detail.startswith("could not build"), result.detail
    failed = [c for c in result.claims if c.status == "counterexample"]
    assert failed and failed[0].counterexample is not None
    assert _number(failed[0].counterexample["pushed"]) == 7


def test_the_input_obligation_passes_and_catches_each_seeded_defect() -> None:
    """REQ-TIP-001, REQ-CORE-004: PATH-Z3-INPUT holds on the live code, no claim is vacuous, and
    each of its seeded defects is caught with a counterexample."""
    result = run_obligation(OBLIGATIONS["PATH-Z3-INPUT"])
    assert result.status == "pass", result.detail
    assert all(c.status == "proved" and c.precondition == "sat" for c in result.claims)
    assert {b.id for b in result.broken} >= {
        "empty-accepts-negative",
        "push-accepts-negative",
        "check-allows-empty-segment",
        "check-ignores-no-drug-concentration",
    }
    assert all(b.status == "caught" and b.counterexample for b in result.broken)


# --- the explored paths agree with the runtime on invalid inputs too --------------------------


class _Check:
    """FluidPath.check explored on one shape with symbolic volumes, concentrations and dead
    volume (nothing assumed), as PATH-Z3-INPUT does."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        ex = Explorer()
        self.labels = labels
        self.vols = [ex.fresh(f"v{i}") for i in range(len(labels))]
        self.concs = [ex.fresh(f"c{i}") for i in range(len(labels))]
        self.dead = ex.fresh("dead")
        p = FluidPath(
            tuple(Segment(v, d, c) for v, d, c in zip(self.vols, labels, self.concs, strict=True))
        )
        self.leaves = run_any(ex, lambda: p.check("path", self.dead))

    def leaf(self, vols: list[int], concs: list[int], dead: int) -> Leaf:
        subst = [(x.term, z3.IntVal(n)) for x, n in zip(self.vols, vols, strict=True)]
        subst += [(x.term, z3.IntVal(n)) for x, n in zip(self.concs, concs, strict=True)]
        subst.append((self.dead.term, z3.IntVal(dead)))
        taken = [
            leaf for leaf in self.leaves if z3.is_true(z3.simplify(z3.substitute(leaf.pc, *subst)))
        ]
        assert len(taken) == 1, f"{len(taken)} explored paths match one input"
        return taken[0]


@functools.cache
def _explored(labels: tuple[str, ...]) -> _Check:
    return _Check(labels)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(path_z3.CHECK_SHAPES),
    st.lists(st.integers(-2, 3), min_size=3, max_size=3),
    st.lists(st.integers(-1, 2), min_size=3, max_size=3),
    st.integers(-1, 8),
)
def test_explored_check_equals_the_runtime_check(
    labels: tuple[str, ...], vols: list[int], concs: list[int], dead: int
) -> None:
    """REQ-TIP-001, REQ-CORE-004: on small concrete paths, valid or not (zero, negative, equal
    neighbours), the explored path raises exactly when the runtime check raises, with the same
    field."""
    n = len(labels)
    vols, concs = vols[:n], concs[:n]
    path = FluidPath(tuple(Segment(v, d, c) for v, d, c in zip(vols, labels, concs, strict=True)))
    try:
        path.check("path", dead)
        field = None
    except InvalidInput as exc:
        field = exc.field
    leaf = _explored(labels).leaf(vols, concs, dead)
    got = leaf.error.field if isinstance(leaf.error, InvalidInput) else leaf.error
    assert got == field


def test_an_exception_in_the_step_is_a_counterexample_not_a_crash() -> None:
    """REQ-TIP-002, REQ-GOV-007: a runtime function of PATH-Z3-STEP that raises (here the
    decision, on requests above 5 ng) fails the step's coverage claim with such a request."""
    from itdose.core import governor

    def raising(request: governor.Request[int, bool]) -> governor.Decision:
        if request.requested_ng > 5:
            raise TypeError("a dropped argument")
        return governor.decide_basal(request)

    results = check_claims(path_z3.step_claims(decide=raising, shapes=(((), "a"),)))
    failed = [r for r in results if r.status == "counterexample"]
    assert failed and failed[0].name.startswith("the explored paths of every runtime function")
    assert failed[0].counterexample is not None
    assert _number(failed[0].counterexample["requested"]) > 5
