"""The cohort's independent physical reference: FIFO catheter, rolling 24 h windows at the tip,
bolus lockouts and counts, delivery after a HIGH alarm, alarm latency, under-delivery against the
accepted program (docs/cohort-schema.md, "Checks").

Requirements: REQ-GOV-004 (no rolling 24 h window above the hard maximum), REQ-ALM-001 and
REQ-ALM-004 (a drive fault raises a HIGH alarm in the step that sees it), REQ-TIP-004 (a program
accepted at entry is delivered in full), checked here from the physics, not from the core."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

from itdose.adapters.cohort_physics import (
    DAY_S,
    LATENCY_LIMIT_STEPS,
    UNDER_DELIVERY_ALLOWANCE,
    BasalPeriod,
    Catheter,
    FillEvent,
    Piece,
    PumpEvent,
    WithdrawEvent,
    alarm_latencies,
    bolus_hazards,
    check_patient,
    high_alarm_hazards,
    max_window_brute,
    max_windows,
    max_windows_exact,
    under_delivery_windows,
)
from itdose.adapters.cohort_physics import _programmed as programmed

MG = 10**6  # ng
MG_PER_ML = 10**6  # ng/mL


def test_catheter_delivers_old_fluid_first_and_nothing_at_implant() -> None:
    cat = Catheter(Fraction(100))
    out = cat.push(Fraction(100), {"m": Fraction(100 * 10)})  # priming: pushes out no drug
    assert sum(sum(c.values(), Fraction(0)) for _, _, c in out) == 0
    out = cat.push(Fraction(40), {"m": Fraction(40 * 25)})  # a richer fluid enters
    assert [(lo, hi, c["m"]) for lo, hi, c in out] == [(0, 40, 400)]  # old fluid leaves


def _basal(dose_ng_per_day: int, conc: int, days: int, seg_s: int = 5400) -> list[PumpEvent]:
    nl_per_seg = dose_ng_per_day * seg_s * 10**6 // (conc * DAY_S)
    return [PumpEvent(t, t + seg_s, nl_per_seg) for t in range(0, days * DAY_S, seg_s)]


def _log(conc: int, pumps: list[PumpEvent], dead: int = 0) -> list[object]:
    prime = [PumpEvent(-600, -1, dead)] if dead else []
    return [FillEvent(-3600, 20_000_000, "m", conc), *prime, *pumps]


def test_program_at_the_maximum_fills_the_window_exactly() -> None:
    log = _log(10 * MG_PER_ML, _basal(20 * MG, 10 * MG_PER_ML, 3), dead=234_000)
    counts, windows, _ = check_patient(
        Fraction(234_000), log, {"m": 20 * MG}, [], None, None, [], 3 * DAY_S
    )
    assert counts["tip_over_hard_max"] == 0
    assert windows["m"].max_fg == 20 * MG * 10**6


def test_planted_over_delivery_is_caught() -> None:
    """A trace with one extra 0.1 mL push (1 mg at 10 mg/mL) over a program at the maximum."""
    pumps = _basal(20 * MG, 10 * MG_PER_ML, 3)
    pumps.insert(30, PumpEvent(pumps[29].t1_s, pumps[29].t1_s + 60, 100_000))
    pumps = [
        p if i <= 30 else PumpEvent(p.t0_s + 60, p.t1_s + 60, p.volume_nl)
        for i, p in enumerate(pumps)
    ]
    counts, windows, _ = check_patient(
        Fraction(0), _log(10 * MG_PER_ML, pumps), {"m": 20 * MG}, [], None, None, [], 4 * DAY_S
    )
    assert counts["tip_over_hard_max"] >= 1
    assert windows["m"].max_fg > 20 * MG * 10**6


def test_refill_during_a_flush_counts_the_old_richer_fluid() -> None:
    """25 mg/mL in the catheter, 10 mg/mL in the reservoir: pushing at the 10 mg/mL rate for the
    hard maximum delivers 2.5 x the maximum while the old fluid leaves (the issue-12 attack)."""
    dead = 234_000
    log = [
        FillEvent(0, 20_000_000, "m", 25 * MG_PER_ML),
        PumpEvent(10, 600, dead),
        WithdrawEvent(700, 20_000_000 - dead),
        FillEvent(800, 20_000_000, "m", 10 * MG_PER_ML),
        *[
            PumpEvent(p.t0_s + 1000, p.t1_s + 1000, p.volume_nl)
            for p in _basal(20 * MG, 10 * MG_PER_ML, 2)
        ],
    ]
    counts, windows, _ = check_patient(
        Fraction(dead), log, {"m": 20 * MG}, [], None, None, [], 3 * DAY_S
    )
    assert counts["tip_over_hard_max"] == 1
    assert windows["m"].max_fg > 20 * MG * 10**6


def test_sweep_equals_brute_force_on_random_pieces() -> None:
    rng = random.Random(12)
    for _ in range(60):
        t, pieces = Fraction(0), []
        for _ in range(rng.randint(1, 12)):
            t += rng.randint(0, 40_000)
            length = Fraction(rng.randint(0, 50_000), rng.randint(1, 3))
            pieces.append(Piece(t, t + length, Fraction(rng.randint(1, 10**6))))
            t += length
        assert max_windows(pieces, 10**9).max_fg == max_window_brute(pieces)


def test_fast_window_sweep_equals_the_exact_one() -> None:
    """The float-screened sweep decides every candidate as the exact one, with limits placed
    exactly on window values (where only the exact re-evaluation can decide)."""
    rng = random.Random(5)
    for case in range(80):
        t, pieces = Fraction(rng.randint(0, 10**6)), []
        for _ in range(rng.randint(1, 40)):
            t += Fraction(rng.randint(0, 20_000), rng.choice((1, 3, 7)))
            length = Fraction(rng.randint(1, 90_000), rng.randint(1, 4))
            amount = Fraction(rng.randint(1, 10**12), rng.choice((1, 3)))
            pieces.append(Piece(t, t + length, amount))
            t += length
        exact = max_windows_exact(pieces, 0)
        limits = [0, int(exact.max_fg), int(exact.max_fg) - 1, int(exact.max_fg * 3 / 4)]
        if case % 4 == 0:  # identical pieces a day apart: many windows exactly at one value
            pieces = [
                Piece(p.a + k * DAY_S, p.b + k * DAY_S, pieces[0].amount_fg)
                for k in range(3)
                for p in pieces[:1]
            ]
            limits.append(int(pieces[0].amount_fg))
        for limit in limits:
            fast, slow = max_windows(pieces, limit), max_windows_exact(pieces, limit)
            assert fast == slow, (case, limit)


def test_reservoir_shortfall_is_counted() -> None:
    log = [FillEvent(0, 1000, "m", 1), PumpEvent(10, 20, 1500)]
    counts, _, _ = check_patient(Fraction(0), log, {"m": 10**9}, [], None, None, [], DAY_S)
    assert counts["reservoir_negative"] == 1


def test_bolus_lockout_and_count() -> None:
    assert bolus_hazards([0, 3600, 7200], 3600, 4) == (0, 0)
    assert bolus_hazards([0, 3599], 3600, 4) == (1, 0)
    assert bolus_hazards([0, 3600, 7200], 3600, 2) == (0, 1)
    assert bolus_hazards([0, 3600, DAY_S + 3600], 3600, 2) == (0, 0)


@pytest.mark.parametrize(
    ("spans", "events"),
    [([(100, 200)], 0), ([(50, 200)], 0), ([(300, None)], 1), ([(0, 60)], 1)],
)
def test_delivery_inside_a_high_alarm(spans: list[tuple[int, int | None]], events: int) -> None:
    pumped = [PumpEvent(40, 100, 60), PumpEvent(400, 460, 60)]
    assert high_alarm_hazards(pumped, spans, 1000)[0] == events


def test_a_command_the_controller_could_not_stop_is_reported_not_counted() -> None:
    """Started before the HIGH alarm (e.g. a communication loss): its fluid is reported in nL."""
    pumped = [PumpEvent(100, 200, 100, command_s=0)]
    events, volume, unstoppable = high_alarm_hazards(pumped, [(150, None)], 1000)
    assert (events, volume, unstoppable) == (0, 0, 50)


def test_alarm_latency_counts_dosing_steps_from_the_fault() -> None:
    """REQ-ALM-001, REQ-ALM-004: the step at a fault's instant must raise the HIGH alarm."""
    steps = [50, 100, 100, 160, 220]
    # raised during the first step at the fault's instant (1 step had ended before it)
    assert alarm_latencies([100], steps, [(100, 1)], [(100, None)]) == [1]
    # raised two steps later
    assert alarm_latencies([100], steps, [(160, 3)], [(160, None)]) == [3]
    # already in a HIGH alarm: nothing to raise; never raised: None
    assert alarm_latencies([100], steps, [(60, 1)], [(60, None)]) == [0]
    assert alarm_latencies([230], steps, [(60, 1)], [(60, 70)]) == [None]
    counts, _, ref = check_patient(
        Fraction(0),
        [],
        {},
        [],
        None,
        None,
        [(160, None)],
        300,
        faults=[100],
        dosing_steps=steps,
        high_raises=[(160, 3)],
    )
    assert ref.latencies == [3] and counts["alarm_latency"] == 1
    assert LATENCY_LIMIT_STEPS < 3


def _continuous(dose: int, start: int = 0) -> BasalPeriod:
    return BasalPeriod(start, ((0, dose),), (MG // 10, 600))


def test_under_delivery_against_the_accepted_program() -> None:
    """REQ-TIP-004: a quiet 24 h window holds the whole basal plus the granted boluses."""
    conc = 10 * MG_PER_ML
    full = _basal(20 * MG, conc, 4)
    pieces = [Piece(Fraction(p.t0_s), Fraction(p.t1_s), Fraction(p.volume_nl * conc)) for p in full]
    quiet = [(0, 4 * DAY_S)]
    assert under_delivery_windows(pieces, [_continuous(20 * MG)], [], quiet) == (0, 1)
    # a granted bolus that did not reach the tip is a shortfall of 0.1 mg in 20 mg: within the
    # allowance; every tenth segment missing is not
    n, ratio = under_delivery_windows(pieces, [_continuous(20 * MG)], [DAY_S * 2], quiet)
    assert n == 0 and ratio < 1
    skipped = [p for i, p in enumerate(pieces) if i % 10 != 9]
    n, ratio = under_delivery_windows(skipped, [_continuous(20 * MG)], [], quiet)
    assert n == 1 and ratio < 1 - UNDER_DELIVERY_ALLOWANCE
    # outside quiet stretches nothing is judged; a lower program later is prorated
    assert under_delivery_windows(skipped, [_continuous(20 * MG)], [], [(0, DAY_S - 1)]) == (0, 1)
    halved = [p if p.b <= 2 * DAY_S else Piece(p.a, p.b, p.amount_fg / 2) for p in pieces]
    periods = [_continuous(20 * MG), _continuous(10 * MG, 2 * DAY_S)]
    assert under_delivery_windows(halved, periods, [], quiet)[0] == 0
    assert under_delivery_windows(halved, periods[:1], [], quiet)[0] == 1


def test_flex_program_daily_amount() -> None:
    flex = BasalPeriod(0, ((0, 3 * MG), (8 * 3600, 4 * MG), (20 * 3600, 3 * MG)), None)
    assert flex.daily_ng() == Fraction(3 * MG * 12 + 4 * MG * 12, 24)


def test_a_bolus_during_a_change_of_concentration_is_expected_at_the_lean_share() -> None:
    """REQ-TIP-004 with the core's rule for a bolus while the fluid path holds two
    concentrations (sized at the richer one, so its dose is never exceeded): the reference
    expects lean / rich of its dose, from its own catheter."""
    conc = 10 * MG_PER_ML
    grant = DAY_S + 3600
    pieces = []
    for p in _basal(20 * MG, conc, 3):
        piece = Piece(Fraction(p.t0_s), Fraction(p.t1_s), Fraction(p.volume_nl * conc))
        if not p.t0_s < grant < p.t1_s:
            pieces.append(piece)
            continue
        # the bolus (at 2/5 of its dose) leaves in the basal piece's stream: the pieces at the
        # tip never overlap (one drive command at a time)
        share = piece.amount_fg / (piece.b - piece.a)
        pieces += [
            Piece(piece.a, Fraction(grant), share * (grant - piece.a)),
            Piece(
                Fraction(grant),
                Fraction(grant + 600),
                share * 600 + Fraction(2 * MG * 10**6 * 2, 5),
            ),
            Piece(Fraction(grant + 600), piece.b, share * (piece.b - grant - 600)),
        ]
    periods = [BasalPeriod(0, ((0, 20 * MG),), (2 * MG, 600))]
    quiet = [(0, 3 * DAY_S)]
    assert under_delivery_windows(pieces, periods, [grant], quiet)[0] == 1
    mixed = [(0, Fraction(1)), (DAY_S, Fraction(2, 5)), (DAY_S + 7200, Fraction(1))]
    n, ratio = under_delivery_windows(pieces, periods, [grant], quiet, lean_rich=mixed)
    assert n == 0 and ratio >= 1 - UNDER_DELIVERY_ALLOWANCE


def test_reference_records_the_lean_rich_share_of_its_catheter() -> None:
    log = [
        FillEvent(0, 20_000_000, "m", 10 * MG_PER_ML),
        PumpEvent(10, 600, 1000),  # the path (1000 nL) fills with 10 mg/mL
        WithdrawEvent(700, 20_000_000 - 1000),
        FillEvent(800, 20_000_000, "m", 25 * MG_PER_ML),
        PumpEvent(900, 1000, 400),  # 400 nL of 25 mg/mL behind 600 nL of 10 mg/mL
        PumpEvent(1000, 1100, 600),  # the old fluid has left
    ]
    _, _, ref = check_patient(Fraction(1000), log, {"m": 10**15}, [], None, None, [], 2000)
    assert ref.lean_rich == [(600, Fraction(1)), (1000, Fraction(2, 5)), (1100, Fraction(1))]


def _window_fg(pieces: list[Piece], t: Fraction) -> Fraction:
    """Drug of ``pieces`` in ``(t - 24 h, t]``, summed piece by piece (uniform pieces)."""
    total = Fraction(0)
    for p in pieces:
        a, b = max(p.a, t - DAY_S), min(p.b, t)
        if b > a:
            total += p.amount_fg * (b - a) / (p.b - p.a)
    return total


def _under_delivery_brute(
    pieces: list[Piece],
    periods: list[BasalPeriod],
    grants: list[int],
    quiet: list[tuple[int, int]],
    lean_rich: list[tuple[int, Fraction]],
) -> tuple[int, Fraction]:
    """Test oracle: every window end where a piece, a program or a bolus starts or ends (as the
    window's end or its start), and every midpoint between two of them, evaluated exactly."""
    marks: set[Fraction] = set()
    for p in pieces:
        marks |= {p.a, p.b}
    for q in periods:
        marks.add(Fraction(q.start_s))
    for g in grants:
        marks |= {Fraction(g), Fraction(g + 600)}
    marks |= {m + DAY_S for m in marks}
    episodes, worst = 0, Fraction(1)
    for a, b in quiet:
        ends = sorted({Fraction(a + DAY_S), Fraction(b)} | {m for m in marks if a + DAY_S < m < b})
        if b < a + DAY_S:
            continue
        ts = sorted({*ends, *((x + y) / 2 for x, y in itertools.pairwise(ends))})
        short = False
        for t in ts:
            want = programmed(periods, sorted(grants), t - DAY_S, t, lean_rich)
            if want is None or want <= 0:
                continue
            ratio = _window_fg(pieces, t) / (want * 10**6)
            worst = min(worst, ratio)
            now_short = ratio < 1 - UNDER_DELIVERY_ALLOWANCE
            episodes += now_short and not short
            short = now_short
    return episodes, worst


@pytest.mark.parametrize("seed", range(16))
def test_under_delivery_is_exact_at_every_window_end(seed: int) -> None:
    """REQ-TIP-004: the under-delivery check judges every window, not a sample: against an
    oracle that evaluates every breakpoint and every midpoint between two exactly (a window
    short only between two hourly samples, a bolus half inside a window, a program change)."""
    rng = random.Random(seed)
    dose = rng.choice([2, 20]) * MG
    periods = [BasalPeriod(0, ((0, dose),), (dose // 20, 600))]
    if rng.random() < 0.5:
        periods.append(BasalPeriod(rng.randrange(DAY_S, 3 * DAY_S), ((0, dose // 2),), None))
    if rng.random() < 0.3:
        steps = ((0, dose // 2), (8 * 3600, dose))
        periods.append(BasalPeriod(rng.randrange(3 * DAY_S, 4 * DAY_S), steps, None))
    grants = sorted(rng.sample(range(3600, 4 * DAY_S, 60), rng.randrange(0, 12)))
    pieces: list[Piece] = []
    t = Fraction(0)
    while t < 5 * DAY_S:
        length = Fraction(rng.randrange(600, 4 * 3600), rng.choice([1, 3, 7]))
        rate = Fraction(dose * 10**6, DAY_S) * Fraction(rng.choice([100, 100, 100, 98, 90, 0]), 100)
        if rng.random() < 0.2:
            rate *= 3  # a bolus-like burst
        if rate > 0:
            pieces.append(Piece(t, t + length, rate * length))
        t += length
    quiet = [(0, 5 * DAY_S)] if rng.random() < 0.5 else [(0, 2 * DAY_S), (DAY_S // 2, 5 * DAY_S)]
    lean_rich = [(0, Fraction(1)), (2 * DAY_S, Fraction(1, 2)), (2 * DAY_S + 7200, Fraction(1))]
    got = under_delivery_windows(pieces, periods, grants, quiet, lean_rich=lean_rich)
    assert got == _under_delivery_brute(pieces, periods, grants, quiet, lean_rich)


def test_catheter_merges_only_fluid_of_the_same_concentrations() -> None:
    """The merged FIFO queue delivers what a queue of every push would, push by push."""
    rng = random.Random(5)
    merged = Catheter(Fraction(5000))
    plain: list[tuple[Fraction, dict[str, Fraction]]] = [(Fraction(5000), {})]
    for _ in range(300):
        conc = rng.choice([{"m": 10}, {"m": 25}, {"m": 10, "b": 3}])
        volume = Fraction(rng.randrange(1, 900))
        comp = {d: volume * c for d, c in conc.items()}
        out = merged.push(volume, comp)
        plain.append((volume, dict(comp)))
        want: dict[str, Fraction] = {}
        left = volume
        while left > 0:
            v, c = plain[0]
            take = min(v, left)
            for d, fg in c.items():
                want[d] = want.get(d, Fraction(0)) + fg * take / v
            if take == v:
                plain.pop(0)
            else:
                plain[0] = (v - take, {d: fg * (v - take) / v for d, fg in c.items()})
            left -= take
        got: dict[str, Fraction] = {}
        for _, _, c in out:
            for d, fg in c.items():
                got[d] = got.get(d, Fraction(0)) + fg
        assert {d: x for d, x in got.items() if x} == {d: x for d, x in want.items() if x}
    assert len(merged.segments) < 300
