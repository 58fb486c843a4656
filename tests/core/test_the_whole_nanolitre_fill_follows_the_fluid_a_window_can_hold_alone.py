"""The whole-nanolitre fill of a compounded strength applies to the windows that can hold that
fluid alone (R-TIP-5, REQ-TIP-005, core/fill.py): from a day after the fluid ahead of it can have
left the tip, never to the windows of the fluid before it, which hold that fluid's own whole
maximum. What the fill does to the windows at the tip is judged by the brute force, the FIFO and
the whole-nanolitre references (tests/core/test_concentration_change_at_the_hard_maximum.py,
tests/core/test_whole_nanolitre_drive_at_the_hard_maximum.py); here, the instants themselves.
"""

from __future__ import annotations

import dataclasses

from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill
from itdose_testkit import reach

from itdose.core import Library, Phase
from itdose.core.alarms import AlarmKind
from itdose.core.basal import plan_tick
from itdose.core.effects import Annunciate, Record
from itdose.core.fill import fill_tiers, over_fg, within
from itdose.core.flight import is_lag, ledger_of, limit_fg
from itdose.core.ledger import Flow
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal, Program
from itdose.core.state import FlushDose, Shadow

MAX_FG = 20 * MG * 1_000_000  # the 20 mg morphine maximum, in fg


def _morphine(mg_per_ml: int) -> Program:
    return Program(
        "morphine", "pain", mg_per_ml * MG, Basal.continuous(20 * MG), None, "opioid-tolerant"
    )


def _dosing(library: Library, mg_per_ml: int) -> tuple[Bench, int]:
    """Morphine at its 20 mg maximum, a day into dosing (catheter trimmed 150 mm)."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, _morphine(mg_per_ml), trimmed_mm=150)
    b.advance(t0 + DAY_S + 1234)
    return b, b.now


def test_a_refill_to_a_compounded_strength_lowers_the_fill_a_day_later(library: Library):
    """REQ-TIP-005: refilled 20 -> 15 mg/mL, the 15 mg/mL fluid is behind the whole path: no
    window can hold it alone before a day after the order the refill's tick starts (nothing
    else in flight), so until then the fill is the whole maximum (20 mg/mL is whole nanolitres
    of it), and from then on whole nanolitres of 15 mg/mL (5 ng less)."""
    b, now = _dosing(library, 20)
    refill(b, now, 15 * MG, program=_morphine(15))
    assert b.now == now and b.device.orders  # the tick at the refill ordered basal
    assert min(o.start_s for o in b.device.orders) == now
    tiers = fill_tiers(b.device, library, "morphine", now)
    assert tiers == ((now, MAX_FG), (now + DAY_S, MAX_FG - 5 * 1_000_000))
    assert tiers[-1][1] == limit_fg(b.device, library, "morphine")


def test_at_the_front_the_fill_follows_the_latest_change(library: Library):
    """REQ-TIP-005: once the 15 mg/mL fluid is next to leave the tip, a window can hold it alone
    from a day after the report of the change into it (the drug's latest lag term, R-TIP-5): a
    window that starts before that report holds the term."""
    b, now = _dosing(library, 20)
    refill(b, now, 15 * MG, program=_morphine(15))
    b.advance(now + 8 * 3600)  # 247,000 nL of 20 mg/mL: about six hours
    path = b.device.path
    assert path is not None and path.segments[0].concentration_ng_per_ml == 15 * MG
    lags = [p.end_s for p in ledger_of(b.device, "morphine").pieces if is_lag(p)]
    assert lags
    tiers = fill_tiers(b.device, library, "morphine", b.now)
    assert tiers == ((b.now, MAX_FG), (max(lags) + DAY_S, MAX_FG - 5 * 1_000_000))


def test_a_steady_compounded_strength_is_filled_to_whole_nanolitres_from_now(library: Library):
    """REQ-TIP-005: a steady program at 12 mg/mL (the maximum is 1,666,666 2/3 nL): every window
    from now on holds that fluid alone, filled to 19,999,992 ng; a leaner compounded strength
    behind it (15 mg/mL, 5 ng) lowers it no further."""
    b, now = _dosing(library, 12)
    fill = MAX_FG - 8 * 1_000_000
    assert fill_tiers(b.device, library, "morphine", now) == ((now, fill),)
    refill(b, now, 15 * MG, program=_morphine(15))
    assert fill_tiers(b.device, library, "morphine", now) == ((now, fill),)


def test_a_shadow_keeps_the_fill_of_every_concentration_from_now(library: Library):
    """REQ-TIP-005, REQ-MRI-006: where an emergency scan left a shadow in the path (the path may
    hold other fluid where it says one), every concentration's fill applies from now on."""
    b, now = _dosing(library, 20)
    refill(b, now, 15 * MG, program=_morphine(15))
    shadow = Shadow(0, 1_000, "morphine", 15 * MG)
    d = dataclasses.replace(b.device, shadows=(shadow,))
    assert fill_tiers(d, library, "morphine", now) == ((now, MAX_FG - 5 * 1_000_000),)


def test_a_compounded_fluid_counts_as_at_the_front_only_when_it_is_the_drugs_own(
    library: Library,
) -> None:
    """R-TIP-5, worked by hand: morphine at 12 mg/mL fills the 20 mg maximum only to whole
    nanolitres, 8 ng (8 x 10**6 fg) less. At the tip (another drug behind it) that lower fill
    holds from now. Behind hydromorphone at the same 12 mg/mL it can be alone in a window only a
    day after the first order moves (no order yet: a day from now): the other drug's
    concentration at the tip is not the morphine's."""
    d = reach(Phase.ACTIVE, library)
    now = d.clock_s or 0

    def tiers(*ahead: Segment) -> tuple[tuple[int, int], ...]:
        rest = Segment(234_000 - sum(s.volume_nl for s in ahead), "morphine", 10 * MG)
        return fill_tiers(
            dataclasses.replace(d, path=FluidPath((*ahead, rest))), library, "morphine", now
        )

    rich = Segment(1_000, "morphine", 12 * MG)
    other = Segment(1_000, "hydromorphone", 12 * MG)
    assert tiers(rich, other) == ((now, MAX_FG - 8 * MG),)
    assert tiers(other, rich) == ((now, MAX_FG), (now + DAY_S, MAX_FG - 8 * MG))


def test_a_window_exactly_at_its_fill_is_within_it_and_one_femtogram_more_is_over() -> None:
    """R-TIP-4 (the hard maximum reached exactly is allowed), R-TIP-5: a flow of exactly the
    fill within an hour is within it (over by 0); one femtogram more is over by 1."""
    fill = MAX_FG - 8 * MG
    tiers = ((1_000, fill),)
    exact = (Flow(1_000, fill, fill, 3_600),)
    over = (Flow(1_000, fill + 1, fill + 1, 3_600),)
    assert within((), exact, tiers) and over_fg((), exact, tiers) == 0
    assert not within((), over, tiers) and over_fg((), over, tiers) == 1


def test_the_basal_across_refills_to_compounded_strengths_at_the_maximum_is_not_withheld(
    library: Library,
) -> None:
    """REQ-TIP-005, REQ-GOV-002: fentanyl at its 1000 mcg/day maximum at 1 mg/mL, refilled a
    day into dosing at 15 mg/mL (1000 mcg is 66 2/3 nL of it) and ten minutes later at 25 mg/mL:
    the basal plan asks its cap room against the whole-nanolitre fill of each strength, so no
    tick withholds basal or raises the delivery-limited alarm (asked against the whole maximum,
    the hour ordered at the first refill was cut: 13 nL withheld); and by the first-in-first-out
    reference no 24 h window of fentanyl holds more than the maximum."""
    cap = library.drug("fentanyl", "pain").max_daily.value
    assert cap == MG
    programs = {
        k: Program("fentanyl", "pain", k, Basal.continuous(cap), None, None)
        for k in (MG, 15 * MG, 25 * MG)
    }
    b = Bench(library)
    t0 = implanted_and_dosing(b, programs[MG], trial_ng=50_000)
    seen = len(b.log)
    first = t0 + DAY_S + 967
    refill(b, first, 15 * MG, program=programs[15 * MG])
    refill(b, first + 600, 25 * MG, program=programs[25 * MG])
    b.advance(first + 2 * DAY_S)
    ticks = [fx for _, command, fx in b.log[seen:] if command.name == "tick"]
    assert len(ticks) > 48 and not b.anomalies
    effects = [e for fx in ticks for e in fx]
    assert not [e for e in effects if isinstance(e, Record) and e.event == "basal_withheld"]
    assert not [
        e for e in effects if isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_LIMITED
    ]
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    largest, _ = windows(pieces, "fentanyl")
    assert largest is not None and largest[0] <= cap, float(largest[0])


def test_the_old_drug_moves_at_its_old_programs_dose_whatever_the_new_programs_total(
    library: Library,
) -> None:
    """R-TIP-3, R-TIP-5: the kit's device refilled to morphine at 10 mg/day, the path still
    holding 200,000 nL of compounded hydromorphone 3 mg/mL whose old program gave its 10 mg
    maximum (not whole nanolitres of 3 mg/mL: its fill is 10 mg - 1 ng). The hour's order of
    hydromorphone is its old program's dose over the hour, unscaled (the new program's daily
    total, 10 mg, lies between hydromorphone's fill and its maximum, and scaling it to that
    fill would take 1 ng a day off): 416,666,666,666 fg asked, 138,888 nL of 3 mg/mL
    (416,664,000,000 fg), the rest carried, by hand 10**13 x 3600 - 416,664,000,000 x 86,400 =
    230,400,000,000 (scaled: 226,800,000,000)."""
    d = reach(Phase.ACTIVE, library)
    assert d.program is not None
    d = dataclasses.replace(
        d,
        program=dataclasses.replace(d.program, basal=Basal.continuous(10 * MG)),
        path=FluidPath(
            (Segment(200_000, "hydromorphone", 3 * MG), Segment(34_000, "morphine", 10 * MG))
        ),
        flush_doses=(FlushDose("hydromorphone", 10 * MG),),
        basal_carry=0,
    )
    assert limit_fg(d, library, "hydromorphone") == 10 * MG * 1_000_000 - 1_000_000
    now = max(d.basal_until_s, d.clock_s or 0)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (138_888, 3600)
    assert plan.carry == 230_400_000_000
