"""What a drive report records in the rolling 24 h ledger when the order pushed out more than one
concentration of the drug (REQ-GOV-004, REQ-TIP-001): when the concentration falls from the first
nanolitre out to the last, the piece's pace is the order's pace at the average concentration;
when it rises, layers (the leaner concentration over the whole volume, each rise's excess from
its fluid on, at the order's pace: exact); otherwise at the richest. Either way it must bound the
drug that can have left the tip in any last seconds before the report, for a drive that keeps
the order's pace (the ledger's trust, SAFETY.md "What the drive is trusted for"). The bound is
checked against the fluids written out here from the path, second by second, with exact
fractions: not the core's own helpers."""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_testkit import reach

from itdose.core import Library
from itdose.core.dosing import apply_report
from itdose.core.drive_reports import LAYER_ORDER_ID
from itdose.core.flight import LAG_ORDER_ID
from itdose.core.ledger import Ledger, Piece
from itdose.core.path import NO_DRUG, FluidPath, Segment
from itdose.core.state import DeliveryKind, Device, Order, Phase

DEAD_NL = 234_000
MG = 1_000_000
CONCS = [10 * MG, 15 * MG, 20 * MG, 25 * MG]


def _reported(
    library: Library, fluids: list[tuple[int, int]], volume_nl: int, duration_s: int
) -> tuple[Device, Order]:
    """The kit's active morphine device (10 mg/mL behind the path) with ``fluids`` (volume,
    concentration, 0 for saline; the last one fills the dead volume) in its path and one basal
    order of ``volume_nl`` over ``duration_s``, reported whole at its end."""
    d = reach(Phase.ACTIVE, library)
    path = FluidPath(tuple(Segment(v, "morphine" if k else NO_DRUG, k) for v, k in fluids))
    path.check("path", DEAD_NL)
    start = d.clock_s or 0
    order = Order(d.next_order_id, DeliveryKind.BASAL, start, start + duration_s, volume_nl)
    d = dataclasses.replace(d, path=path, orders=(order,), next_order_id=order.id + 1)
    d, _ = apply_report(d, order.id, volume_nl, True, order.end_s)
    return d, order


def _out(fluids: list[tuple[int, int]], volume_nl: int) -> list[tuple[int, int]]:
    """The fluids (volume, ng/mL) the first ``volume_nl`` pushes out of the tip, tip first,
    then 10 mg/mL from the reservoir."""
    out, left = [], volume_nl
    for v, k in [*fluids, (volume_nl, 10 * MG)]:
        take = min(v, left)
        if take:
            out.append((take, k))
        left -= take
    return out


def _last(out: list[tuple[int, int]], w: Fraction) -> Fraction:
    """The drug (fg) in the last ``w`` nL of ``out``."""
    total = Fraction(0)
    for v, k in reversed(out):
        take = min(Fraction(v), w)
        total += take * k
        w -= take
        if w <= 0:
            break
    return total


def _pieces_of(d: Device, order: Order) -> list[Piece]:
    """The order's pieces of the program's drug: its own and its layers' (not the lag terms,
    counted on top)."""
    return _pieces_of_ledger(d.ledger, order)


def _pieces_of_ledger(ledger: Ledger, order: Order) -> list[Piece]:
    """:func:`_pieces_of` in ``ledger``."""
    return [
        p
        for p in ledger.pieces
        if p.order_id < LAG_ORDER_ID and p.order_id % LAYER_ORDER_ID == order.id
    ]


def _check_bound(library: Library, fluids: list[tuple[int, int]], volume: int, dur: int) -> None:
    d, order = _reported(library, fluids, volume, dur)
    pieces = _pieces_of(d, order)
    out = _out(fluids, volume)
    assert sum(p.amount_fg for p in pieces) == sum(v * k for v, k in out)
    rising = all(a[1] <= b[1] for a, b in itertools.pairwise(out))
    pace_nl_per_h = -(-volume * 3600 // dur)  # the drive's commanded pace, rounded up
    for s in range(dur + 1):
        moved = min(Fraction(volume), Fraction(pace_nl_per_h * s, 3600))
        bound = sum(min(Fraction(p.amount_fg), Fraction(p.pace_fg * s, p.pace_s)) for p in pieces)
        assert _last(out, moved) <= bound, (s, float(_last(out, moved) - bound))
        if rising and len(pieces) > 1:  # layers: exact
            assert _last(out, moved) == bound, (s, float(bound - _last(out, moved)))


def test_a_report_across_a_leaner_fluid_is_recorded_at_the_average(library: Library) -> None:
    """REQ-GOV-004: 1 nL of 25 mg/mL then 3599 nL of 10 mg/mL over an hour: recorded at the
    order's pace (3600 nL/h) times the average, 10.004 ng/nL, not 25 (which would count the
    hour as leaving in 24 minutes, and cut the basal a day later by most of an hour)."""
    fluids = [(1, 25 * MG), (DEAD_NL - 1, 10 * MG)]
    d, order = _reported(library, fluids, 3600, 3600)
    (piece,) = [p for p in d.ledger.pieces if p.order_id == order.id]
    amount = 25 * MG + 3599 * 10 * MG
    assert (piece.amount_fg, piece.pace_fg, piece.pace_s) == (amount, amount, 3600)
    _check_bound(library, fluids, 3600, 3600)


def test_a_report_across_a_richer_fluid_is_recorded_as_layers(library: Library) -> None:
    """REQ-GOV-004, R-TIP-5: 1 nL of 10 mg/mL then 25 mg/mL over an hour: the richer fluid left
    last, so the report is two layers at the order's pace (3600 nL/h): 10 ng/nL under all 3600
    nL and 15 ng/nL more under the last 3599 nL. One piece at the richest pace (25 ng/nL) counts
    the leaner nanolitre as leaving at the richer rate, in every window starting inside the hour
    up to 15 ng too much; the layers count the drug of any last seconds exactly."""
    fluids = [(1, 10 * MG), (DEAD_NL - 1, 25 * MG)]
    d, order = _reported(library, fluids, 3600, 3600)
    own = [p for p in d.ledger.pieces if p.order_id == order.id]
    layer = [p for p in d.ledger.pieces if p.order_id == LAYER_ORDER_ID + order.id]
    assert [(p.amount_fg, p.pace_fg) for p in own] == [(3600 * 10 * MG, 3600 * 10 * MG)]
    assert [(p.amount_fg, p.pace_fg) for p in layer] == [(3599 * 15 * MG, 3600 * 15 * MG)]
    _check_bound(library, fluids, 3600, 3600)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    concs=st.lists(st.sampled_from(CONCS), min_size=1, max_size=3),
    heads=st.lists(st.integers(1, 3000), min_size=2, max_size=2),
    volume=st.integers(1, 8000),
    dur=st.integers(1, 400),
)
def test_a_recorded_piece_bounds_the_drug_of_any_last_seconds(
    library: Library, concs: list[int], heads: list[int], volume: int, dur: int
) -> None:
    """REQ-GOV-004, REQ-TIP-001: whatever the fluids in the path (falling, rising or both),
    the piece a report records holds exactly the drug that left, and at its pace bounds the drug
    in the last ``w`` nL for every ``w`` a drive at the order's pace can move in the last ``s``
    seconds, every whole ``s`` of the order."""
    fluids = [(heads[i], k) for i, k in enumerate(concs[:-1])]
    fluids.append((DEAD_NL - sum(v for v, _ in fluids), concs[-1]))
    merged: list[tuple[int, int]] = []
    for v, k in fluids:  # a valid path merges equal neighbours
        if merged and merged[-1][1] == k:
            merged[-1] = (merged[-1][0] + v, k)
        else:
            merged.append((v, k))
    _check_bound(library, merged, volume, dur)


def test_a_report_across_more_rises_than_layers_is_one_piece_at_the_richest(
    library: Library,
) -> None:
    """REQ-GOV-004: a report across nine rises (1 nL each of 1 to 8 mg/mL, then 25 mg/mL) is
    more layers than the ledger takes for one report (MAX_LAYERS, 8): one piece at the order's
    pace times the richest concentration, which bounds the drug of any last seconds (not
    exactly)."""
    fluids = [(1, k * MG) for k in range(1, 9)]
    fluids.append((DEAD_NL - 8, 25 * MG))
    d, order = _reported(library, fluids, 3600, 3600)
    mine = _pieces_of(d, order)
    amount = sum(range(1, 9)) * MG + 3592 * 25 * MG
    assert [(p.order_id, p.amount_fg, p.pace_fg) for p in mine] == [
        (order.id, amount, 3600 * 25 * MG)
    ]
    _check_bound(library, fluids, 3600, 3600)


def test_a_report_across_eight_rises_is_eight_layers(library: Library) -> None:
    """REQ-GOV-004: eight rises (1 nL each of 1 to 7 mg/mL, then 25 mg/mL) are eight layers, the
    most one report takes: exact for any last seconds."""
    fluids = [(1, k * MG) for k in range(1, 8)]
    fluids.append((DEAD_NL - 7, 25 * MG))
    d, order = _reported(library, fluids, 3600, 3600)
    mine = _pieces_of(d, order)
    assert sorted(p.order_id // LAYER_ORDER_ID for p in mine) == list(range(8))
    _check_bound(library, fluids, 3600, 3600)


def test_a_report_of_saline_then_a_rise_is_layers_from_the_drug_on(library: Library) -> None:
    """REQ-GOV-004: 1 nL of saline, 1 nL of 10 mg/mL, then 25 mg/mL over an hour: the saline
    holds no drug (no layer under it), then 10 ng/nL under the last 3599 nL and 15 ng/nL more
    under the last 3598, at the order's pace: exact for any last seconds."""
    fluids = [(1, 0), (1, 10 * MG), (DEAD_NL - 2, 25 * MG)]
    d, order = _reported(library, fluids, 3600, 3600)
    assert [(p.amount_fg, p.pace_fg) for p in _pieces_of(d, order)] == [
        (3599 * 10 * MG, 3600 * 10 * MG),
        (3598 * 15 * MG, 3600 * 15 * MG),
    ]
    _check_bound(library, fluids, 3600, 3600)


def test_a_fluid_followed_by_one_nanolitre_of_a_leaner_one_counts_its_lag_nanolitre(
    library: Library,
) -> None:
    """R-TIP-5: an hour's 3600 nL of 25 mg/mL leave the tip and the next nanolitre is a 1 nL run
    of 10 mg/mL, with 25 mg/mL again behind it: the 25 mg/mL fluid ends here, so its last
    nanolitre, which a drive on whole nanolitres may move later than its pace says, is counted
    once more, as a piece of one second ending at the report, all of it within that second
    (whatever follows the leaner nanolitre)."""
    d, order = _reported(
        library, [(3600, 25 * MG), (1, 10 * MG), (DEAD_NL - 3601, 25 * MG)], 3600, 3600
    )
    lag = [p for p in d.ledger.pieces if p.order_id == LAG_ORDER_ID + order.id]
    assert [(p.start_s, p.end_s, p.amount_fg, p.pace_fg, p.pace_s, p.instant) for p in lag] == [
        (order.end_s, order.end_s, 25 * MG, 25 * MG, 1, False)
    ]


def test_a_rise_inside_one_report_counts_its_lag_nanolitre(library: Library) -> None:
    """R-TIP-5: 1000 nL of 10 mg/mL then 2600 nL of 25 mg/mL leave the tip in one hour's report,
    and 25 mg/mL goes on behind: the leaner fluid ended within what left, so a nanolitre of the
    richest that left is counted once more, as a piece of one second ending at the report (the
    rise inside one report that was once missed, 5 ng over the maximum)."""
    d, order = _reported(library, [(1000, 10 * MG), (DEAD_NL - 1000, 25 * MG)], 3600, 3600)
    lag = [p for p in d.ledger.pieces if p.order_id == LAG_ORDER_ID + order.id]
    assert [(p.end_s, p.amount_fg, p.pace_fg, p.pace_s) for p in lag] == [
        (order.end_s, 25 * MG, 25 * MG, 1)
    ]


def test_a_rise_behind_seven_fluids_of_another_drug_is_recorded_as_layers(
    library: Library,
) -> None:
    """REQ-GOV-004, R-TIP-5: seven 1 nL fluids of hydromorphone (2 and 1 mg/mL in turn, the old
    drug), 1 nL of morphine 10 mg/mL, then morphine 25 mg/mL over an hour: the fluids of another
    drug hold no morphine, so they are neither a rise nor a fall of it, and morphine is the two
    layers of its one rise, 10 ng/nL under its last 3593 nL and 15 more under the last 3592 (not
    one piece at the richest pace, which a count of nine rises or a fall would give)."""
    d = reach(Phase.ACTIVE, library)
    old = tuple(Segment(1, "hydromorphone", (2 - k % 2) * MG) for k in range(7))
    path = FluidPath(
        (*old, Segment(1, "morphine", 10 * MG), Segment(DEAD_NL - 8, "morphine", 25 * MG))
    )
    path.check("path", DEAD_NL)
    start = d.clock_s or 0
    order = Order(d.next_order_id, DeliveryKind.BASAL, start, start + 3600, 3600)
    d = dataclasses.replace(d, path=path, orders=(order,), next_order_id=order.id + 1)
    d, _ = apply_report(d, order.id, 3600, True, order.end_s)
    assert [(p.amount_fg, p.pace_fg) for p in _pieces_of(d, order)] == [
        (3593 * 10 * MG, 3600 * 10 * MG),
        (3592 * 15 * MG, 3600 * 15 * MG),
    ]


def test_a_rise_from_one_ng_per_ml_is_a_layer(library: Library) -> None:
    """REQ-GOV-004, R-TIP-5: 1 nL of morphine at 1 ng/mL, the least concentration a fluid holds,
    then 2 ng/mL, over an hour: two layers, 1 ng/nL under all 3600 nL and 1 more under the last
    3599 (each rise counted from no drug, whatever the first concentration)."""
    d, order = _reported(library, [(1, 1), (DEAD_NL - 1, 2)], 3600, 3600)
    assert [(p.amount_fg, p.pace_fg) for p in _pieces_of(d, order)] == [
        (3600 * 1, 3600 * 1),
        (3599 * 1, 3600 * 1),
    ]


def test_a_report_of_another_drug_then_a_rise_counts_each_drug_apart(library: Library) -> None:
    """REQ-GOV-004, REQ-TIP-001: 1 nL of hydromorphone 2 mg/mL (the old drug), 1 nL of morphine
    10 mg/mL, then morphine 25 mg/mL over an hour: morphine is two layers from its own fluid on
    (10 ng/nL under the last 3599 nL, 15 more under the last 3598), the hydromorphone nanolitre
    one piece of its own ledger; neither drug's layers hold the other's concentration."""
    d = reach(Phase.ACTIVE, library)
    path = FluidPath(
        (
            Segment(1, "hydromorphone", 2 * MG),
            Segment(1, "morphine", 10 * MG),
            Segment(DEAD_NL - 2, "morphine", 25 * MG),
        )
    )
    path.check("path", DEAD_NL)
    start = d.clock_s or 0
    order = Order(d.next_order_id, DeliveryKind.BASAL, start, start + 3600, 3600)
    d = dataclasses.replace(d, path=path, orders=(order,), next_order_id=order.id + 1)
    d, _ = apply_report(d, order.id, 3600, True, order.end_s)
    assert [(p.amount_fg, p.pace_fg) for p in _pieces_of(d, order)] == [
        (3599 * 10 * MG, 3600 * 10 * MG),
        (3598 * 15 * MG, 3600 * 15 * MG),
    ]
    (other,) = [e.ledger for e in d.other_ledgers if e.drug == "hydromorphone"]
    assert [(p.amount_fg, p.pace_fg) for p in _pieces_of_ledger(other, order)] == [
        (2 * MG, 3600 * 2 * MG)
    ]
