"""Random histories with drive resets (R-TIP-6): seeded, so every run tries the same ones.

Each history starts on tests/tip_histories.py's morphine programs (most at the 20 mg hard
maximum) on a drive that keeps its pace (evenly, at the pace, or 99 % evenly), asks for hourly or
daily basal orders, and then draws from: refills to 10 or 25 mg/mL or to compounded
hydromorphone and back, each followed by one to four drive resets within ten hours (where a
change of concentration or drug reaches the tip), resets alone, waits, patient boluses at the
lockout's end, clinician boluses as large as the core accepts (once or every 30 min for hours),
emergency MRI scans (Prometra II) and suspensions. Each history draws how the controller reports
a lost count (tests/reset_bench.py): at the order's end or 1 s, 1 min or 10 min after the reset,
final or going on, with a lower bound at, half or none of what moved.

Judged from what the drive moved by tests/itdose_physics.py (FIFO path, exact fractions, every
instant): no 24 h window at the tip of any drug exceeds its hard maximum, save those holding an
emergency scan, whose labelled worst case (10 uL) R-MRI-5 counts as delivered at once whatever
the window held; no crash, no anomaly (two orders at once, a reservoir below empty); every state
consistent. The histories of seeds 20000-29999 found no window over, no crash and no anomaly;
without the doubt 9 of the first 400 put a morphine window over (40 to 777,629 ng), so the judge
can fail. Of seeds 20400-29999, 8,045 reported a bound, and the 478 that ran away (an endless
stream of one-nanolitre orders) all had the 99 % drive: the known defect of a drive that moves
less than ordered at a change of concentration (tests/tip_histories.py), skipped here.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest
from itdose_physics import DAY_S, HOUR_S, MG, Cumulative, Runaway, TipPiece, implanted_and_dosing
from reset_bench import ResetBench
from tip_histories import HYDROMORPHONE, LIB, MORPHINE, _Run

from itdose.core import DosingError, Phase, Role
from itdose.core import commands as c
from itdose.core.state import check_consistent

C = Role.CLINICIAN


class _ResetRun(_Run):
    """tests/tip_histories.py's actions on a bench whose drive resets, with resets and emergency
    scans."""

    def __init__(self, mode: Any, segment: int, initial: Any, **kw: Any) -> None:
        self.b = ResetBench(LIB, mode=mode, max_segment_s=segment, **kw)
        self.start = implanted_and_dosing(self.b, initial)
        self.last_patient_bolus = None
        self.scans: list[int] = []

    def _try(self, f: Any, *args: Any, **kw: Any) -> Any:
        try:
            return f(*args, **kw)
        except DosingError:
            return None

    def apply(self, action: tuple[Any, ...]) -> None:
        b = self.b
        if action[0] == "reset":
            b.resets = sorted([*b.resets, b.now + action[1]])
        elif action[0] == "change_reset":
            self.apply(action[1])
            b.resets = sorted([*b.resets, *(b.now + x for x in action[2])])
        elif action[0] == "mri":
            scan = c.BeginMri(C, emergency=True, reason="trauma: no time to empty")
            if self._try(b.submit, scan) is not None:
                self.scans.append(b.now)
                self._try(b.submit, c.EndMri(C), b.now + 600)
                self._try(b.submit, c.ConfirmPostMri(C, "valve reset recorded"), b.now + 60)
                if b.device.phase is Phase.SUSPENDED:
                    self._try(b.submit, c.Resume(C, reason="scan done"))
        else:
            super().apply(action)


def draw(seed: int) -> dict[str, Any]:
    """The history of ``seed``."""
    rng = random.Random(seed)
    kinds = ["cr"] * 5 + ["wait"] * 3 + ["reset"] * 3 + ["refill"] * 2
    kinds += ["drug", "patient", "clin", "greedy", "mri", "other"]
    acts: list[tuple[Any, ...]] = []
    for _ in range(rng.randint(3, 14)):
        k = rng.choice(kinds)
        refill = ("refill", rng.choice([10 * MG, 25 * MG]), "new", "complete", False)
        if k == "cr":
            sub = rng.choice(
                [
                    (*refill, rng.randrange(len(MORPHINE))),
                    ("drug", rng.randrange(len(HYDROMORPHONE)), rng.random() < 0.5),
                ]
            )
            offsets = sorted(rng.randint(1, 10 * HOUR_S) for _ in range(rng.randint(1, 4)))
            acts.append(("change_reset", sub, offsets))
        elif k == "wait":
            waits = [1, 59, 600, 1800, 3599, 3600, 3601, 7200, 6 * HOUR_S, 23 * HOUR_S, DAY_S]
            acts.append(("wait", rng.choice([*waits, 2 * DAY_S])))
        elif k == "reset":
            offsets = [1, 2, 30, 300, 600, 1200, 1800, 3000, 3599]
            acts.append(("reset", rng.choice([*offsets, rng.randint(1, 7200)])))
        elif k == "refill":
            how = rng.choice(["new", "new", "none"])
            acts.append((*refill[:2], how, "complete", rng.random() < 0.3, rng.randrange(16)))
        elif k == "drug":
            acts.append(("drug", rng.randrange(len(HYDROMORPHONE)), rng.random() < 0.5))
        elif k == "patient":
            acts.append(("patient_bolus", True))
        elif k == "clin":
            acts.append(("clinician_bolus", rng.choice([60, 600, 3600])))
        elif k == "greedy":
            acts.append(("greedy", rng.choice([2, 8]), rng.choice([60, 600])))
        elif k == "mri":
            acts.append(("mri",))
        else:
            acts.append(rng.choice([("suspend",), ("resume",), ("clear",)]))
    return {
        "mode": rng.choice(["uniform", "pace", "pace", "slow"]),
        "segment": rng.choice([3600, 3600, DAY_S]),
        "initial": rng.choice([6, 14, 6, 14, rng.randrange(len(MORPHINE))]),
        "actions": acts,
        "bench": {
            "report_after_s": rng.choice([None, None, 1, 60, 600]),
            "keep_going": rng.random() < 0.3,
            "sure_share": rng.choice([Fraction(1), Fraction(1), Fraction(1, 2), Fraction(0)]),
        },
    }


def largest_outside_scans(
    pieces: list[TipPiece], drug: str, scans: list[int]
) -> tuple[Fraction, Fraction] | None:
    """The largest window ``(t - 24 h, t]`` of ``drug`` holding no emergency scan, and its end."""
    cum = Cumulative(pieces, drug)
    ends = {x for t in cum.breakpoints() for x in (t, t + DAY_S)}
    ends = {t for t in ends if not any(t - DAY_S < s <= t for s in scans)}
    best: tuple[Fraction, Fraction] | None = None
    for t in ends:
        for left in (False, True):
            w = cum.window(t, left=left)
            if best is None or w > best[0]:
                best = (w, t)
    return best


def run(seed: int, said: bool = True) -> tuple[dict[str, Fraction], Any] | None:
    """The excess over each drug's maximum outside the scans (``None``: a runaway)."""
    h = draw(seed)
    r = _ResetRun(h["mode"], h["segment"], MORPHINE[h["initial"]], doubt_said=said, **h["bench"])
    r.b.max_steps = 8000
    try:
        for action in h["actions"]:
            r.apply(action)
        r.b.advance(r.b.now + 2 * DAY_S)
    except Runaway:
        return None
    b = r.b
    assert not b.anomalies, b.anomalies
    check_consistent(b.device)
    over: dict[str, Fraction] = {}
    for drug in sorted(b.drugs()):
        found = largest_outside_scans(b.tip(), drug, r.scans)
        if found is not None:
            over[drug] = found[0] - b.hard_max_ng(drug)
    return over, b


TEETH = (20_053, 20_126, 20_228, 20_283, 20_285, 20_300, 20_326, 20_328)
"""Seeds whose histories put a morphine window over without the doubt (72,240 to 777,629 ng for the
four run below; 44,009 to 718,671 ng for the others)."""
SEEDS = sorted({*range(20_000, 20_024), *TEETH})


@pytest.mark.parametrize("seed", SEEDS)
def test_no_window_exceeds_the_hard_maximum(seed: int) -> None:
    """R-TIP-6, REQ-TIP-006, REQ-GOV-004."""
    out = run(seed)
    if out is None:
        pytest.skip("runaway: the known defect of a drive that moves less (module doc)")
    over, _ = out
    assert all(x <= 0 for x in over.values()), {d: float(x) for d, x in over.items()}


@pytest.mark.parametrize("seed", TEETH[1::2])
def test_without_the_doubt_some_exceed_it(seed: int) -> None:
    """The judge can fail: the same histories with ``unsure_nl`` 0."""
    out = run(seed, said=False)
    assert out is not None
    over, _ = out
    assert any(x > 0 for x in over.values())
