"""The cohort reference's rolling 24 h windows follow the simulated drive's own whole-nanolitre
steps (docs/cohort-schema.md, "Checks"; ``itdose.adapters.cohort_drive``).

Oracles: a brute force over every whole second (the fluid pumped by each second from the
commands' closed form, the tip's drug from a plain first-in-first-out path by position), and a
second simulated drive advanced one second at a time (what the logged intervals say the drive
had moved must be what it had moved).

Requirements: REQ-GOV-004 (no rolling 24 h window at the tip above the hard maximum)."""

from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_drive import (
    DriveInterval,
    _Run,
    _stretch_max,
    floor_sum,
    max_windows_of_drive,
)
from itdose.adapters.cohort_physics import PumpEvent
from itdose.adapters.cohort_run import RecordingDrive, TrueLog
from itdose.adapters.drive import DeliveryCommand, DriveConfig

DAY_S = 86_400
PPM = 1_000_000


@given(st.integers(0, 300), st.integers(1, 5000), st.integers(0, 10**6), st.integers(0, 10**6))
def test_floor_sum_is_the_sum(n: int, m: int, a: int, b: int) -> None:
    assert floor_sum(n, m, a, b) == sum((a * i + b) // m for i in range(n))


def _drive_log(rng: random.Random) -> list[DriveInterval]:
    """Commands one after another (or with gaps), each cut at random report instants, moved as
    the simulated drive moves them: ``floor(rate x t / 3600)`` nominal nL, times the accuracy
    error with the remainder carried, never more than the reservoir holds; a fill may change
    the concentration."""
    t, conc, ppm, carry = rng.randint(0, 5000), rng.choice([10, 25, 7]), 0, 0
    reservoir = rng.randint(50_000, 400_000)
    out: list[DriveInterval] = []
    for _ in range(rng.randint(1, 12)):
        rate = rng.choice([rng.randint(2000, 300_000), 31_920, 101_760, 166_666, 166_667])
        volume = rng.randint(1, rate * rng.randint(1, 30) // 3600 + 1)
        start, done = t, 0
        if rng.random() < 0.2:
            ppm = rng.choice([0, rng.randint(-100_000, 150_000)])
        if rng.random() < 0.3:
            conc = rng.choice([10, 25, 7, 0])
        end = start + -(-volume * 3600 // rate)
        cuts = sorted({end} | {rng.randint(start + 1, end) for _ in range(rng.randint(0, 3))})
        t0 = start
        for t1 in cuts:
            target = min(volume, rate * (t1 - start) // 3600)
            fluid, rest = divmod((target - done) * (PPM + ppm) + carry, PPM)
            drawn = min(fluid, reservoir)
            if drawn:
                fg = {"m": Fraction(drawn * conc)}
                out.append(DriveInterval(t0, t1, drawn, start, rate, done, ppm, carry, fg))
            reservoir, done, carry, t0 = reservoir - drawn, target, rest, t1
            if reservoir == 0:
                reservoir = rng.randint(20_000, 400_000)
                break
        t = t0 + rng.choice([0, 0, 1, rng.randint(1, 20_000), rng.randint(1, 100_000)])
    return out


def _brute(log: list[DriveInterval], dead: Fraction) -> Fraction:
    """The largest ``(T - 24 h, T]`` over every whole second, from per-second counts."""
    lo, hi = log[0].t0_s - DAY_S, log[-1].t1_s + DAY_S
    pumped = [0] * (hi - lo + 1)
    for iv in log:
        rate, start, done = iv.rate_nl_per_h, iv.command_s, iv.done_nl
        prev = 0
        for n in range(iv.t0_s + 1, iv.t1_s + 1):
            nominal = rate * (n - start) // 3600 - done
            now = iv.volume_nl if n == iv.t1_s else (nominal * (PPM + iv.ppm) + iv.carry) // PPM
            pumped[n - lo] += now - prev
            prev = now
    # the tip's drug by path position: fluid entered in order, the path held none at first
    edges: list[tuple[int, int, Fraction]] = []
    position = 0
    for iv in log:
        k = iv.drug_fg["m"] / iv.volume_nl
        if edges and edges[-1][2] == k:  # one run of one density
            edges[-1] = (edges[-1][0], position + iv.volume_nl, k)
        else:
            edges.append((position, position + iv.volume_nl, k))
        position += iv.volume_nl

    def drug_out(total: int) -> Fraction:
        y, s = total - dead, Fraction(0)
        for a, b, k in edges:
            if y <= a:
                break
            s += k * (min(y, b) - a)
        return s

    cum, total = [], 0
    for x in pumped:
        total += x
        cum.append(drug_out(total) if x or not cum else cum[-1])
    return max(cum[i] - cum[i - DAY_S] for i in range(DAY_S, len(cum)))


def test_windows_of_the_drive_equal_a_brute_force_over_every_second() -> None:
    """REQ-GOV-004: the largest window, judged stretch by stretch, is the brute force's; one
    concentration or several, with or without an accuracy error or a fractional dead volume."""
    for seed in range(16):
        rng = random.Random(seed)
        log = _drive_log(rng)
        if not log:
            continue
        dead = Fraction(rng.randint(0, 30_000), rng.choice([1, 3]))
        top, _, _ = max_windows_of_drive(log, dead, "m", 10**15)
        assert top == _brute(log, dead), seed


def _steady_log(rng: random.Random) -> list[DriveInterval]:
    """Four days of back-to-back orders at one or two basal rates (orders of random length, so
    the drive's whole-nanolitre lag differs at a window's two ends), a few boluses at a higher
    rate and reports inside orders: windows within a nanolitre or two of each other, where only
    the drive's steps decide the largest."""
    rates = [rng.randint(2000, 200_000) for _ in range(2)]
    bolus = rng.randint(100_000, 400_000)
    t, out = 0, []
    while t < 4 * DAY_S:
        rate = bolus if rng.random() < 0.05 else rates[0 if t < 2 * DAY_S else rng.randint(0, 1)]
        length = rng.choice([3600, rng.randint(600, 5000), rng.randint(1, 100)])
        volume = max(1, rate * length // 3600)
        end = t + -(-volume * 3600 // rate)
        cuts = sorted({end} | {rng.randint(t + 1, end) for _ in range(rng.randint(0, 2))})
        t0, done = t, 0
        for t1 in cuts:
            target = min(volume, rate * (t1 - t) // 3600)
            if target > done:
                out.append(DriveInterval(t0, t1, target - done, t, rate, done, 0, 0, {}))
            t0, done = t1, target
        t = end + rng.choice([0, 0, 0, 1])
    return [
        DriveInterval(**{**iv.__dict__, "drug_fg": {"m": Fraction(25 * iv.volume_nl)}})
        for iv in out
    ]


def test_steady_windows_of_the_drive_equal_a_brute_force_over_every_second() -> None:
    """REQ-GOV-004: where every window holds the same dose to within a nanolitre or two, the
    largest (and whether it is above a limit set at it or just below it) is the brute force's."""
    for seed in range(12):
        rng = random.Random(seed)
        log = _steady_log(rng)
        dead = rng.randint(0, 300_000)
        pumped = [0] * (log[-1].t1_s + 2 * DAY_S)
        for iv in log:
            prev = 0
            for n in range(iv.t0_s + 1, iv.t1_s + 1):
                now = iv.rate_nl_per_h * (n - iv.command_s) // 3600 - iv.done_nl
                now = min(now, iv.volume_nl)
                pumped[n] += now - prev
                prev = now
        cum, total = [], 0
        for x in pumped:
            total += x
            cum.append(25 * max(0, total - dead))
        brute = max(cum[i] - cum[i - DAY_S] for i in range(DAY_S, len(cum)))
        top, at, episodes = max_windows_of_drive(log, Fraction(dead), "m", brute)
        assert top == brute, seed
        assert cum[at] - cum[at - DAY_S] == top
        assert episodes == 0 and max_windows_of_drive(log, Fraction(dead), "m", brute - 1)[2] >= 1


def test_a_concentration_change_at_the_same_dose_equals_a_brute_force() -> None:
    """REQ-GOV-004: orders of a rich fluid, then of one half as rich at twice the rate (the
    same dose, as after a refill that changes the concentration), with the path's old fluid
    leaving across the windows: at both ends of a window the same drug per second, so the
    floors decide; the largest window is the brute force's."""
    for seed in range(2):
        rng = random.Random(seed)
        rate = rng.randint(20_000, 60_000)
        log, t = [], 0
        while t < 2 * DAY_S + 7200:
            rich = t < DAY_S + rng.randint(0, 3600)
            r, conc = (rate, 20) if rich else (2 * rate, 10)
            length = rng.choice([3600, rng.randint(100, 3600)])
            volume = r * length // 3600
            end = t + -(-volume * 3600 // r)
            fg = {"m": Fraction(conc * volume)}
            log.append(DriveInterval(t, end, volume, t, r, 0, 0, 0, fg))
            t = end
        dead = Fraction(rng.randint(rate * 2, rate * 20))
        top, _, _ = max_windows_of_drive(log, dead, "m", 10**15)
        assert top == _brute(log, dead), seed


def _run(rng: random.Random, lo: int) -> _Run:
    """A stretch of one interval: a random rate, start, count, accuracy error and density."""
    rate = rng.choice([rng.randint(1, 400_000), 3600, 7200, 31_920, 166_666])
    start = lo - rng.randint(0, 5000)
    ppm = rng.choice([0, 0, 0, rng.randint(-50_000, 150_000)])
    iv = DriveInterval(
        start - 1, 10**9, 10**12, start, rate, 0, ppm, rng.randint(0, PPM - 1) if ppm else 0, {}
    )
    rho = Fraction(rng.choice([0, 1, 2, 5, 10, 25]), rng.choice([1, 2, 3]))
    return _Run(lo - 10**6, 10**9 - 1, Fraction(rng.randint(0, 10**9)), rho, iv if rho else None)


def test_each_stretch_has_the_brute_force_maximum() -> None:
    """REQ-GOV-004: on one stretch (the window's end in one interval, its start in another),
    the largest window and the second it ends are those of a visit to every second, and a
    stretch is skipped only when no window there exceeds both the limit and the best so far:
    one density or two, one rate or two, the same drug per second at both ends (no slope), an
    accuracy error."""
    rng = random.Random(5)
    for case in range(300):
        lo = rng.randint(DAY_S, 10 * DAY_S)
        hi = lo + rng.choice([0, 1, rng.randint(0, 400), rng.randint(0, 8000)])
        r1 = _run(rng, lo)
        r2 = _run(rng, lo - DAY_S)
        if case % 3 == 0 and r1.interval is not None and r2.interval is not None:
            # the same drug per second at both ends: rho1 a1 = rho2 a2
            iv2 = DriveInterval(
                **{**r2.interval.__dict__, "rate_nl_per_h": 2 * r1.interval.rate_nl_per_h}
            )
            r1 = _Run(r1.lo, r1.hi, r1.base, 2 * r1.rho, r1.interval)
            r2 = _Run(r2.lo, r2.hi, r2.base, r1.rho / 2, iv2)
        values = [r1.at(t) - r2.at(t - DAY_S) for t in range(lo, hi + 1)]
        top = max(values)
        found = _stretch_max(r1, r2, lo, hi, Fraction(-(10**30)), -(10**30))
        assert found is not None and found[0] == top, case
        assert values[found[1] - lo] == top, case
        # a best or a limit at the top: nothing above either, so skipped or not above
        for best, limit in ((top, int(top) + 1), (top + 1, int(top))):
            again = _stretch_max(r1, r2, lo, hi, best, limit)
            assert again is None or again[0] == top, case
        # just below both: never skipped
        again = _stretch_max(r1, r2, lo, hi, top - Fraction(1, 7), int(top) - 1)
        assert again is not None and again[0] == top, case


def test_a_window_a_nanolitre_above_the_limit_is_one_episode() -> None:
    """REQ-GOV-004: hourly orders of 31,920 nL at 25 ng/nL put exactly 19,152,000 ng in every
    whole-second window; at that limit no episode, a limit 1 ng lower one episode, and one
    nanolitre more in one interval is a window above the exact limit."""
    log = [
        DriveInterval(h * 3600, (h + 1) * 3600, 31_920, h * 3600, 31_920, 0, 0, 0, {})
        for h in range(72)
    ]
    log = [DriveInterval(**{**iv.__dict__, "drug_fg": {"m": Fraction(25 * 31_920)}}) for iv in log]
    top, _, episodes = max_windows_of_drive(log, Fraction(0), "m", 19_152_000)
    assert (top, episodes) == (19_152_000, 0)
    assert max_windows_of_drive(log, Fraction(0), "m", 19_152_000 - 1)[2] == 1
    more = list(log)
    more[30] = DriveInterval(**{**log[30].__dict__, "volume_nl": 31_921})
    more[30] = DriveInterval(**{**more[30].__dict__, "drug_fg": {"m": Fraction(25 * 31_921)}})
    top, _, episodes = max_windows_of_drive(more, Fraction(0), "m", 19_152_000)
    assert top == 19_152_000 + 25 and episodes == 1


def test_logged_intervals_follow_the_simulated_drive_second_by_second() -> None:
    """The recording drive's intervals (with the command's start, rate, count and carry) say
    what the simulated drive had drawn at every whole second: a twin advanced one second at a
    time agrees, through a stop, a poll inside a command, an accuracy change inside one and an
    empty reservoir."""
    end = 20_000
    faults = (sd.AccuracyChange(5000, 70_000),)
    config = sd.SimConfig(reservoir_capacity_nl=400_000, reservoir_nl=250_000)
    recording = RecordingDrive.__new__(RecordingDrive)
    recording.log = TrueLog(drug="m")
    RecordingDrive.__init__(recording, config, faults)
    twin = sd.SimulatedDrive(config, faults)
    plan = {
        1: ("start", DeliveryCommand("a", 20_000, 31_921)),
        1000: ("poll", None),
        1801: ("stop", None),
        2000: ("start", DeliveryCommand("b", 100_000, 101_760)),
        3000: ("poll", None),
        9000: ("start", DeliveryCommand("c", 300_000, 200_000)),
        9517: ("poll", None),
    }
    for drive in (recording, twin):
        drive.configure(DriveConfig())
    truth = [0]
    for t in range(1, end):
        twin.advance_to(t)
        if t in plan:
            recording.advance_to(t)
            what, command = plan[t]
            for drive in (recording, twin):
                if command is not None:
                    drive.start(command)
                elif what == "stop":
                    drive.stop()
                else:
                    drive.poll()
        truth.append(twin.truth().pumped_nl)
    recording.advance_to(end - 1)
    events = [e for e in recording.log.events if isinstance(e, PumpEvent)]
    assert len(events) >= 5 and any(e.t1_s - e.t0_s > 1000 for e in events)
    moved = [0] * end
    for e in events:
        assert e.command_s is not None and e.rate_nl_per_h is not None
        iv = DriveInterval(
            e.t0_s, e.t1_s, e.volume_nl, e.command_s, e.rate_nl_per_h, e.done_nl, e.ppm, e.carry, {}
        )
        for n in range(e.t0_s + 1, end):
            moved[n] += iv.moved_by(n)
    assert moved == truth
    assert truth[-1] == 250_000  # the last command ran the reservoir empty
    assert any(e.ppm == 70_000 and e.carry for e in events)
