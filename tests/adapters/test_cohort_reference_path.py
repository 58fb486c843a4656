"""The reference's fluid path over long runs of one fluid: what leaves the tip and the lean / rich
share of the concentrations the path holds, against a plain first-in-first-out queue of every
push recomputed from scratch (docs/cohort-schema.md, "Checks").

Requirements: REQ-GOV-004 and REQ-TIP-004, checked from the physics: the reference's catheter must
deliver exactly the fluid a plain queue delivers, whatever shortcut it takes."""

from __future__ import annotations

import random

from itdose.adapters.cohort_fraction import Fraction
from itdose.adapters.cohort_physics import (
    Catheter,
    FillEvent,
    PumpEvent,
    Reference,
    lean_rich_ratio,
)

MG_PER_ML = 10**6  # ng/mL


def _plain_push(
    queue: list[tuple[Fraction, dict[str, Fraction]]], volume: Fraction, comp: dict[str, Fraction]
) -> list[tuple[Fraction, Fraction, dict[str, Fraction]]]:
    """A queue of every push, never merged: what leaves the tip, as (start, end, fg per drug)."""
    queue.append((volume, dict(comp)))
    out: list[tuple[Fraction, Fraction, dict[str, Fraction]]] = []
    left, pos = volume, Fraction(0)
    while left > 0:
        v, c = queue[0]
        take = min(v, left)
        out.append((pos, pos + take, {d: fg * take / v for d, fg in c.items()}))
        if take == v:
            queue.pop(0)
        else:
            queue[0] = (v - take, {d: fg * (v - take) / v for d, fg in c.items()})
        left -= take
        pos += take
    return out


def _by_concentration(
    pieces: list[tuple[Fraction, Fraction, dict[str, Fraction]]],
) -> list[tuple[Fraction, Fraction, dict[str, Fraction]]]:
    """Adjacent pieces of the same concentrations joined (a queue of uniform fluid is the same
    whatever its segments)."""
    out: list[tuple[Fraction, Fraction, dict[str, Fraction]]] = []
    for a, b, c in pieces:
        if out:
            pa, pb, pc = out[-1]
            if (
                pb == a
                and pc.keys() == c.keys()
                and all(pc[d] * (b - a) == fg * (pb - pa) for d, fg in c.items())
            ):
                out[-1] = (pa, b, {d: pc[d] + fg for d, fg in c.items()})
                continue
        out.append((a, b, dict(c)))
    return out


def test_a_path_of_one_fluid_delivers_what_a_plain_queue_delivers() -> None:
    """Long runs of one concentration (the path then holds one fluid) between changes: each push
    leaves the tip where and as a queue of every push says, piece by piece."""
    rng = random.Random(11)
    path = Catheter(Fraction(3000))
    queue: list[tuple[Fraction, dict[str, Fraction]]] = [(Fraction(3000), {})]
    one_fluid = 0
    for _ in range(40):
        conc = rng.choice([{"m": Fraction(10)}, {"m": Fraction(25)}, {"m": Fraction(7, 3)}])
        for _ in range(rng.randrange(1, 30)):
            volume = Fraction(rng.randrange(1, 700))
            comp = {d: volume * c for d, c in conc.items()}
            one_fluid += len(path.segments) == 1 and path.segments[0][1].keys() == comp.keys()
            got = path.push(volume, comp)
            want = _by_concentration(_plain_push(queue, volume, comp))
            assert _by_concentration(got) == want
            assert sum(v for v, _ in path.segments) == 3000
    assert one_fluid > 200  # the path held one fluid before most pushes


def test_the_lean_rich_share_is_that_of_the_concentrations_in_the_path() -> None:
    """After every interval the reference's lean / rich share is the leanest over the richest
    concentration of drug in the path, recomputed from its segments (1 while it holds one)."""
    rng = random.Random(3)
    ref = Reference(Fraction(2000))
    t = 0
    for _ in range(60):
        conc = rng.choice([10, 25, 2]) * MG_PER_ML
        ref.apply(FillEvent(t, rng.randrange(10_000, 40_000), "m", conc))
        for _ in range(rng.randrange(1, 8)):
            volume = rng.randrange(1, 3000)
            ref.apply(PumpEvent(t, t + 60, volume))
            t += 60
            # the ratio kept across pushes is the one computed afresh from the catheter
            assert ref.lean_rich[-1][1] == lean_rich_ratio(ref.catheter.segments)
    assert {share for _, share in ref.lean_rich} != {Fraction(1)}  # two fluids met
