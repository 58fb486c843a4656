"""How far the accounting may fill the hard maximum in each 24 h window (part of the delivery
engine, :mod:`itdose.core.dosing`; R-TIP-5, REQ-TIP-005, REQ-GOV-002). Pure and integer-only.

Where the maximum is not a whole number of nanolitres of a concentration ``k`` of the drug (a
compounded strength), a window that holds that fluid alone can hold one whole nanolitre of it
more than counted, so such a window is filled only to whole nanolitres of ``k``
(:func:`itdose.core.flight.limit_fg`). A window that holds a change of fluid holds the lag term of
R-TIP-5 (one nanolitre of the richest fluid, counted once more), which covers that nanolitre
whatever the maximum (a window that starts in fluid without the drug counts nothing too few at
its start): only a window of ``k`` alone needs ``k``'s fill. Such a window starts after the fluid
before ``k`` has left the tip (and after the report of the change, whose term it would hold
otherwise), so it cannot end less than a day after that:

- ``k`` not at the front of the path (another fluid is ahead of it in the path as reported): the
  fluid ahead has not left the tip before the earliest instant any order in flight can have moved
  unreported (``now`` when none; a report that is only an upper bound, R-TIP-6, moves the model
  ahead of the real fluid, never behind it), so a window of ``k`` alone ends a day after that at
  the earliest;
- ``k`` at the front: a day after the latest lag term of the drug in its ledger (the report of the
  change into ``k``; none within the day: from ``now``).

Judging every window from ``now`` on against the fill of a fluid that cannot be alone in it cut
the hard maximum of the windows that hold only the fluid before it: a refill to 15 mg/mL of a
morphine program at its 20 mg maximum (20 mg/mL, whole nanolitres) lowered the fill of every
window to 19,999,995 ng while the window ending at the refill held 19,999,996 ng of 20 mg/mL;
nothing fitted, and the hour's basal was withheld (89,770 ng short, 0.45 %). A shadow after an
emergency scan (R-MRI-5) keeps the fill of every concentration from ``now`` on.
"""

from __future__ import annotations

from itdose.core.flight import _path, hard_max_ng, is_lag, ledger_of, limit_fg
from itdose.core.ledger import Flow, Piece, peak_fg
from itdose.core.library import Library
from itdose.core.state import Device
from itdose.core.units import DAY_S, FG_PER_NG

__all__ = ["Tiers", "fill_tiers", "over_fg", "within"]

Tiers = tuple[tuple[int, int], ...]
"""``(from_s, limit_fg)`` pairs, the first from ``now``: every window ending at or after
``from_s`` holds at most ``limit_fg``; later pairs have later instants and lower limits."""


def fill_tiers(d: Device, lib: Library, drug: str, now: int) -> Tiers:
    """The fill of the hard maximum of ``drug`` for the windows ending at or after ``now``, as
    :data:`Tiers` (the module doc): each compounded concentration's whole-nanolitre fill from
    the first instant a window can hold that fluid alone. The last limit is
    :func:`itdose.core.flight.limit_fg`'s."""
    limit = limit_fg(d, lib, drug)
    whole = hard_max_ng(d, lib, drug) * FG_PER_NG
    if limit == whole or d.shadows:
        return ((now, limit),)
    r = d.reservoir
    behind = () if r is None else ((r.drug, r.concentration_ng_per_ml),)
    fluids = [*((s.drug, s.concentration_ng_per_ml) for s in _path(d).segments), *behind]
    # the fluid next to leave the tip (the path's first, the reservoir's behind an empty path)
    front_conc = fluids[0][1] if fluids[0][0] == drug else 0
    moved = [max(o.start_s, o.reported_s) for o in d.orders]
    behind_from = min([now, *moved]) + DAY_S
    lags = [p.end_s for p in ledger_of(d, drug).pieces if is_lag(p)]
    front_from = max([now, *(e + DAY_S for e in lags)])
    concs = {k for name, k in fluids if name == drug}
    starts: dict[int, int] = {}
    for k in sorted(concs):  # a bounded loop over the path's few fluids
        if k and whole % k:
            # a fluid at the front may be behind it too: the sooner of the two
            soonest = min(front_from, behind_from) if k == front_conc else behind_from
            starts[k] = max(now, soonest)
    tiers: list[tuple[int, int]] = []
    for at in sorted({now, *starts.values()}):
        fill = whole - max((whole % k for k, s in starts.items() if s <= at), default=0)
        if not tiers or fill < tiers[-1][1]:
            tiers.append((at, fill))
    assert tiers[-1][1] == limit
    return tuple(tiers)


def over_fg(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], tiers: Tiers) -> int:
    """The most any window from the first instant of ``tiers`` on holds above its fill (0 or
    less: every window within it): the ledger's exact peak from each instant against its limit
    (a window ending at or after a later instant is judged against the lower limit too)."""
    return max(peak_fg(pieces, flows, at, fill) - fill for at, fill in tiers)


def within(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], tiers: Tiers) -> bool:
    """Every window from the first instant of ``tiers`` on holds at most its fill."""
    return all(peak_fg(pieces, flows, at, fill) <= fill for at, fill in tiers)
