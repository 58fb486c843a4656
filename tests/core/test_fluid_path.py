"""The fluid path: pump tubing + catheter, first in, first out (REQ-TIP-001, REQ-TIP-002).

Directed cases worked by hand (conservation of volume and drug, order, merging, outflow without a
state change, the empty path, a zero push, the rounding of amounts, the consistency check), then
a hypothesis property against an independent reference written here: the path as a plain list
of 1 nL cells, each holding one fluid, pushed one cell at a time.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from math import ceil, floor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itdose.core.errors import InvalidInput
from itdose.core.path import (
    FG_PER_NG,
    NO_DRUG,
    FluidPath,
    Segment,
    amount_fg,
    drugs_in,
    ng_down,
    ng_up,
)

MORPHINE_10 = ("morphine", 10_000_000)
MORPHINE_25 = ("morphine", 25_000_000)
BACLOFEN = ("baclofen", 2_000_000)


def seg(volume_nl: int, fluid: tuple[str, int]) -> Segment:
    return Segment(volume_nl, *fluid)


# --- amounts and their rounding ----------------------------------------------------------------


def test_an_amount_in_femtograms_is_volume_times_concentration() -> None:
    """REQ-TIP-001: 1 nL x 1 ng/mL = 1 fg; 234 000 nL of 10 mg/mL hold 2.34 mg."""
    assert FG_PER_NG == 10**6
    assert seg(1, ("x", 1)).amount_fg == 1
    assert seg(234_000, MORPHINE_10).amount_fg == 2_340_000 * FG_PER_NG
    pieces = (seg(3, MORPHINE_10), seg(2, BACLOFEN), seg(5, (NO_DRUG, 0)), seg(1, MORPHINE_25))
    assert amount_fg(pieces, "morphine") == 3 * 10_000_000 + 25_000_000
    assert amount_fg(pieces, "baclofen") == 4_000_000
    assert amount_fg(pieces, NO_DRUG) == 0
    assert amount_fg((), "morphine") == 0
    assert drugs_in(pieces) == ("morphine", "baclofen")
    assert drugs_in((seg(5, (NO_DRUG, 0)),)) == ()


@given(fg=st.integers(0, 10**24))
def test_rounding_up_counts_and_rounding_down_delivers(fg: int) -> None:
    """REQ-GOV-003: an amount counted against a limit rounds UP to the next whole ng, an amount
    that may be delivered rounds DOWN (reference: exact fractions)."""
    assert ng_up(fg) == ceil(Fraction(fg, FG_PER_NG))
    assert ng_down(fg) == floor(Fraction(fg, FG_PER_NG))


@pytest.mark.parametrize(
    ("fg", "up", "down"),
    [(0, 0, 0), (1, 1, 0), (999_999, 1, 0), (10**6, 1, 1), (10**6 + 1, 2, 1)],
)
def test_rounding_at_the_nanogram_boundary(fg: int, up: int, down: int) -> None:
    """REQ-GOV-003: the boundaries, by hand."""
    assert (ng_up(fg), ng_down(fg)) == (up, down)


# --- the empty path, a new path, a zero push ---------------------------------------------------


def test_a_new_path_holds_its_volume_without_drug() -> None:
    """REQ-TIP-001, REQ-PRIME-001: at implant the path holds its dead volume of fluid without
    drug; a zero volume is an empty path; a negative one is refused, naming the field."""
    path = FluidPath.empty(234_000)
    assert path.segments == (Segment(234_000, NO_DRUG, 0),)
    assert path.volume_nl == 234_000
    assert FluidPath.empty(0) == FluidPath() == FluidPath(())
    assert FluidPath().volume_nl == 0
    with pytest.raises(InvalidInput) as exc:
        FluidPath.empty(-1)
    assert (exc.value.field, exc.value.message, exc.value.value) == (
        "path.volume_nl",
        "must not be negative",
        -1,
    )


def test_priming_pushes_fluid_without_drug_out_first() -> None:
    """REQ-PRIME-001, REQ-TIP-001: nothing reaches the patient until drug arrives at the tip:
    priming the dead volume pushes only drug-free fluid out, and the path is then full of
    drug."""
    path, out = FluidPath.empty(234_000).push(234_000, *MORPHINE_10)
    assert out == (Segment(234_000, NO_DRUG, 0),)
    assert amount_fg(out, "morphine") == 0
    assert path == FluidPath((seg(234_000, MORPHINE_10),))
    # one nL more and the first drug leaves the tip
    path, out = path.push(1, *MORPHINE_10)
    assert out == (seg(1, MORPHINE_10),)


def test_an_empty_path_passes_the_reservoir_fluid_straight_out() -> None:
    """REQ-TIP-001: with no dead volume what enters leaves at once, as it entered."""
    path, out = FluidPath().push(500, *MORPHINE_25)
    assert path == FluidPath()
    assert out == (seg(500, MORPHINE_25),)
    assert FluidPath().outflow(100, 7, *BACLOFEN) == (seg(7, BACLOFEN),)


def test_a_zero_push_changes_nothing_and_a_negative_one_is_refused() -> None:
    """REQ-TIP-001, REQ-CORE-002: pushing nothing returns the same path and no outflow; a
    negative volume is refused and names the field."""
    path = FluidPath((seg(100, MORPHINE_10), seg(50, MORPHINE_25)))
    new, out = path.push(0, *BACLOFEN)
    assert new is path and out == ()
    assert path.outflow(0, 0, *BACLOFEN) == ()
    with pytest.raises(InvalidInput) as exc:
        path.push(-1, *MORPHINE_10)
    assert (exc.value.field, exc.value.message, exc.value.value) == (
        "volume_nl",
        "must not be negative",
        -1,
    )


# --- order, conservation, merging --------------------------------------------------------------


def test_first_in_first_out_with_exact_conservation() -> None:
    """REQ-TIP-001: the tip-side fluid leaves first; volume and drug are conserved exactly:
    what is left plus what left is what was there plus what came in."""
    path = FluidPath((seg(100, MORPHINE_10), seg(50, MORPHINE_25)))
    new, out = path.push(120, *BACLOFEN)
    assert out == (seg(100, MORPHINE_10), seg(20, MORPHINE_25))
    assert new == FluidPath((seg(30, MORPHINE_25), seg(120, BACLOFEN)))
    assert new.volume_nl == path.volume_nl == 150
    for drug in ("morphine", "baclofen"):
        before = amount_fg(path.segments, drug) + 120 * (2_000_000 if drug == "baclofen" else 0)
        assert amount_fg(new.segments, drug) + amount_fg(out, drug) == before
    # a push larger than the path sends the whole path out, then the new fluid itself
    whole, out = path.push(400, *BACLOFEN)
    assert out == (seg(100, MORPHINE_10), seg(50, MORPHINE_25), seg(250, BACLOFEN))
    assert whole == FluidPath((seg(150, BACLOFEN),))
    # exactly the path's volume
    exact, out = path.push(150, *BACLOFEN)
    assert out == path.segments
    assert exact == FluidPath((seg(150, BACLOFEN),))


def test_a_path_of_one_nanolitre_is_pushed_out_like_any_other() -> None:
    """REQ-TIP-001: a path of 1 nL of another fluid is not the reservoir's fluid: a push sends
    that nanolitre out first, then the new fluid, and leaves the path full of the new fluid
    (worked by hand, and the same as the cell reference below)."""
    path = FluidPath((seg(1, MORPHINE_10),))
    new, out = path.push(5, *BACLOFEN)
    assert out == (seg(1, MORPHINE_10), seg(4, BACLOFEN))
    assert new == FluidPath((seg(1, BACLOFEN),))
    assert (cells_of(new.segments), cells_of(out)) == ref_push(cells_of(path.segments), 5, BACLOFEN)
    # pushing exactly the one nanolitre
    new, out = path.push(1, *BACLOFEN)
    assert (new, out) == (FluidPath((seg(1, BACLOFEN),)), (seg(1, MORPHINE_10),))


def test_equal_neighbours_merge_so_the_path_stays_small() -> None:
    """REQ-TIP-001: fluid entering behind the same fluid joins it; many pushes of one fluid
    leave one segment; pieces of one fluid leaving together are one piece."""
    path = FluidPath((seg(100, MORPHINE_10), seg(50, MORPHINE_25)))
    new, _ = path.push(10, *MORPHINE_25)
    assert new == FluidPath((seg(90, MORPHINE_10), seg(60, MORPHINE_25)))
    for _ in range(200):
        new, _ = new.push(1, *MORPHINE_25)
    assert new == FluidPath((seg(150, MORPHINE_25),))
    new.check("p", 150)
    # a fluid that differs only in concentration is another segment
    mixed, _ = new.push(1, *MORPHINE_10)
    assert mixed.segments == (seg(149, MORPHINE_25), seg(1, MORPHINE_10))
    # the same fluid twice in a row in the outflow comes out as one piece
    out = FluidPath((seg(5, MORPHINE_25),)).outflow(0, 9, *MORPHINE_25)
    assert out == (seg(9, MORPHINE_25),)


def test_outflow_plans_through_the_volume_in_flight_without_changing_the_path() -> None:
    """REQ-TIP-002: what a volume pushed after ``skip`` nL will bring out of the tip, with the
    reservoir's fluid behind the path; the path itself does not change."""
    path = FluidPath((seg(100, MORPHINE_10), seg(50, MORPHINE_25)))
    kept = FluidPath(path.segments)
    assert path.outflow(0, 30, *BACLOFEN) == (seg(30, MORPHINE_10),)
    assert path.outflow(90, 30, *BACLOFEN) == (seg(10, MORPHINE_10), seg(20, MORPHINE_25))
    assert path.outflow(140, 30, *BACLOFEN) == (seg(10, MORPHINE_25), seg(20, BACLOFEN))
    assert path.outflow(150, 30, *BACLOFEN) == (seg(30, BACLOFEN),)
    assert path.outflow(1000, 30, *BACLOFEN) == (seg(30, BACLOFEN),)
    assert path == kept
    # the plan equals the real thing: push the skipped volume, then the planned one
    after_skip, _ = path.push(90, *BACLOFEN)
    assert after_skip.push(30, *BACLOFEN)[1] == path.outflow(90, 30, *BACLOFEN)


# --- the consistency check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segments", "volume", "field", "message"),
    [
        ((seg(0, MORPHINE_10), seg(5, BACLOFEN)), 5, "p.segments[0].volume_nl", "must be positive"),
        (
            (seg(5, BACLOFEN), seg(-1, MORPHINE_10)),
            4,
            "p.segments[1].volume_nl",
            "must be positive",
        ),
        (
            (Segment(5, NO_DRUG, 3),),
            5,
            "p.segments[0]",
            "a segment without drug has concentration 0",
        ),
        (
            (Segment(5, "morphine", 0),),
            5,
            "p.segments[0]",
            "a segment without drug has concentration 0",
        ),
        (
            (Segment(5, "morphine", -10),),
            5,
            "p.segments[0]",
            "a segment without drug has concentration 0",
        ),
        (
            (seg(5, MORPHINE_10), seg(5, MORPHINE_10)),
            10,
            "p.segments[1]",
            "equal neighbours are merged",
        ),
        ((seg(5, MORPHINE_10),), 6, "p.volume_nl", "the path holds the dead volume"),
        ((), 1, "p.volume_nl", "the path holds the dead volume"),
    ],
)
def test_check_rejects_a_path_that_is_not_a_merged_path_of_its_volume(
    segments: tuple[Segment, ...], volume: int, field: str, message: str
) -> None:
    """REQ-CORE-004: a stored path that is not valid is refused, naming the field."""
    with pytest.raises(InvalidInput) as exc:
        FluidPath(segments).check("p", volume)
    assert (exc.value.field, exc.value.message) == (field, message)


def test_check_accepts_valid_paths() -> None:
    """REQ-CORE-004: the paths the core builds pass (the same fluid apart is not a neighbour)."""
    FluidPath().check("p", 0)
    FluidPath.empty(7).check("p", 7)
    FluidPath((seg(5, MORPHINE_10), seg(1, BACLOFEN), seg(5, MORPHINE_10))).check("p", 11)


# --- property: against a brute-force path of 1 nL cells ----------------------------------------

FLUIDS = [(NO_DRUG, 0), MORPHINE_10, MORPHINE_25, BACLOFEN, ("morphine", 1), ("ziconotide", 7)]
fluids = st.sampled_from(FLUIDS)


def cells_of(pieces: tuple[Segment, ...]) -> list[tuple[str, int]]:
    return [(p.drug, p.concentration_ng_per_ml) for p in pieces for _ in range(p.volume_nl)]


def ref_push(
    cells: list[tuple[str, int]], volume: int, fluid: tuple[str, int]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The reference: each nL enters at the pump end and pushes the cell at the tip out."""
    cells = list(cells)
    out: list[tuple[str, int]] = []
    for _ in range(volume):
        cells.append(fluid)
        out.append(cells.pop(0))
    return cells, out


def ref_fg(cells: list[tuple[str, int]], drug: str) -> int:
    return sum(conc for d, conc in cells if d == drug)


def merged_well(pieces: tuple[Segment, ...]) -> bool:
    fluids = [(p.drug, p.concentration_ng_per_ml) for p in pieces]
    return all(p.volume_nl > 0 for p in pieces) and all(a != b for a, b in pairwise(fluids))


@given(
    start=st.lists(st.tuples(st.integers(1, 40), fluids), max_size=5),
    pushes=st.lists(st.tuples(st.integers(0, 120), fluids), min_size=1, max_size=12),
    skip=st.integers(0, 150),
    plan=st.integers(0, 80),
)
def test_path_matches_a_brute_force_cell_model(
    start: list[tuple[int, tuple[str, int]]],
    pushes: list[tuple[int, tuple[str, int]]],
    skip: int,
    plan: int,
) -> None:
    """REQ-TIP-001, REQ-TIP-002: after every push the path holds exactly the reference cells,
    merged, at constant volume; what left the tip is exactly the reference's outflow, in order
    (so volume and every drug are conserved); and ``outflow`` plans exactly what pushing
    ``skip`` then ``plan`` nL would bring out, without changing the path."""
    cells: list[tuple[str, int]] = []
    merged: list[Segment] = []
    for volume, fluid in start:
        cells += [fluid] * volume
        if merged and (merged[-1].drug, merged[-1].concentration_ng_per_ml) == fluid:
            merged[-1] = Segment(merged[-1].volume_nl + volume, *fluid)
        else:
            merged.append(Segment(volume, *fluid))
    path = FluidPath(tuple(merged))
    assert cells_of(path.segments) == cells and merged_well(path.segments)
    total = len(cells)
    for volume, fluid in pushes:
        expected_cells, expected_out = ref_push(cells, volume, fluid)
        new, out = path.push(volume, *fluid)
        assert cells_of(new.segments) == expected_cells
        assert cells_of(out) == expected_out
        assert merged_well(new.segments) and merged_well(out)
        assert new.volume_nl == total
        new.check("p", total)
        for drug in {f[0] for f in FLUIDS if f[0]}:
            came_in = volume * fluid[1] if fluid[0] == drug else 0
            assert amount_fg(new.segments, drug) + amount_fg(out, drug) == (
                amount_fg(path.segments, drug) + came_in
            )
            assert amount_fg(out, drug) == ref_fg(expected_out, drug)
        # planning through the volume in flight, with the reservoir's fluid behind
        snapshot = new.segments
        after_skip, _ = ref_push(expected_cells, skip, fluid)
        _, planned = ref_push(after_skip, plan, fluid)
        ahead = new.outflow(skip, plan, *fluid)
        assert cells_of(ahead) == planned
        assert merged_well(ahead)
        assert new.segments == snapshot
        path, cells = new, expected_cells
