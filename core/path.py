"""The fluid path: pump tubing + catheter, first in, first out (REQ-TIP-001).

What reaches the patient is what leaves the catheter tip (docs/dosing-rules.md, "What reaches the
patient"). The path holds its dead volume as a sequence of segments, tip first; every volume the
drive moves pushes reservoir fluid in at the pump end and the same volume out of the tip. At
implant the path holds no drug (drug ``""``, concentration 0); priming fills it, and nothing
reaches the patient until drug arrives at the tip. A refill with a new concentration or drug
changes only the reservoir: the path still holds the old fluid, which leaves the tip first. The
bridge after a concentration change is therefore not a mode but a consequence of this model.

Amounts are exact: ``volume_nl * concentration_ng_per_ml`` is an amount in femtograms
(1 nL x 1 ng/mL = 10**-6 ng = 1 fg), an integer. Only where an amount is counted against a limit
is it converted to nanograms, rounding up (:func:`ng_up`); an amount that may be delivered rounds
down (:func:`ng_down`).

The path is bounded: equal neighbours merge, so it holds at most one segment per distinct fluid
that entered since it was last flushed, and its total volume never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from itdose.core.arith import ceil_div
from itdose.core.errors import InvalidInput
from itdose.core.units import FG_PER_NG

__all__ = [
    "FG_PER_NG",
    "NO_DRUG",
    "FluidPath",
    "Segment",
    "amount_fg",
    "drugs_in",
    "ng_down",
    "ng_up",
]

NO_DRUG: Final = ""
"""The drug name of fluid without drug (the path at implant, before priming)."""


def ng_up(fg: int) -> int:
    """An amount in fg as whole ng, rounded up (counted against a limit)."""
    return ceil_div(fg, FG_PER_NG)


def ng_down(fg: int) -> int:
    """An amount in fg as whole ng, rounded down (what may be delivered)."""
    return fg // FG_PER_NG


@dataclass(frozen=True, slots=True)
class Segment:
    """A volume of one fluid: ``drug`` at ``concentration_ng_per_ml`` (``""`` and 0: no drug)."""

    volume_nl: int
    drug: str
    concentration_ng_per_ml: int

    @property
    def amount_fg(self) -> int:
        return self.volume_nl * self.concentration_ng_per_ml

    def with_volume(self, volume_nl: int) -> Segment:
        return Segment(volume_nl, self.drug, self.concentration_ng_per_ml)

    def same_fluid(self, other: Segment) -> bool:
        return (self.drug, self.concentration_ng_per_ml) == (
            other.drug,
            other.concentration_ng_per_ml,
        )


def amount_fg(pieces: tuple[Segment, ...], drug: str) -> int:
    """Exact amount of ``drug`` in ``pieces`` (fg)."""
    return sum(p.amount_fg for p in pieces if p.drug == drug)


def drugs_in(pieces: tuple[Segment, ...]) -> tuple[str, ...]:
    """The drugs in ``pieces``, in order of first appearance (no-drug fluid left out)."""
    return tuple(dict.fromkeys(p.drug for p in pieces if p.drug != NO_DRUG))


def _append(pieces: list[Segment], seg: Segment) -> None:
    if seg.volume_nl <= 0:
        return
    if pieces and pieces[-1].same_fluid(seg):
        pieces[-1] = pieces[-1].with_volume(pieces[-1].volume_nl + seg.volume_nl)
    else:
        pieces.append(seg)


def _take(source: tuple[Segment, ...], skip_nl: int, volume_nl: int) -> tuple[list[Segment], int]:
    """The pieces of ``source`` from ``skip_nl`` to ``skip_nl + volume_nl`` (tip first), and the
    volume wanted beyond the end of ``source``."""
    out: list[Segment] = []
    start, end = skip_nl, skip_nl + volume_nl
    pos = 0
    for seg in source:
        lo, hi = max(start, pos), min(end, pos + seg.volume_nl)
        if hi > lo:
            _append(out, seg.with_volume(hi - lo))
        pos += seg.volume_nl
        if pos >= end:
            break
    return out, max(0, end - max(start, pos))


@dataclass(frozen=True, slots=True)
class FluidPath:
    """The path's contents, tip first (``segments[0]`` leaves the tip next)."""

    segments: tuple[Segment, ...] = ()

    @staticmethod
    def empty(volume_nl: int) -> FluidPath:
        """A new path of ``volume_nl`` holding no drug (at implant)."""
        if volume_nl < 0:
            raise InvalidInput("path.volume_nl", "must not be negative", value=volume_nl)
        return FluidPath((Segment(volume_nl, NO_DRUG, 0),) if volume_nl else ())

    @property
    def volume_nl(self) -> int:
        return sum(s.volume_nl for s in self.segments)

    def _only(self, drug: str, concentration_ng_per_ml: int) -> bool:
        """The path holds one fluid and it is the one behind it (the common case: pushing changes
        nothing in the path)."""
        segs = self.segments
        return len(segs) == 1 and (segs[0].drug, segs[0].concentration_ng_per_ml) == (
            drug,
            concentration_ng_per_ml,
        )

    def outflow(
        self, skip_nl: int, volume_nl: int, drug: str, concentration_ng_per_ml: int
    ) -> tuple[Segment, ...]:
        """What leaves the tip while ``volume_nl`` is pushed, after ``skip_nl`` has been pushed
        first, with the reservoir holding ``drug`` at ``concentration_ng_per_ml`` behind the path
        (the state does not change). Used to plan an order through the volume in flight."""
        if self._only(drug, concentration_ng_per_ml):
            return (Segment(volume_nl, drug, concentration_ng_per_ml),) if volume_nl > 0 else ()
        pieces, beyond = _take(self.segments, skip_nl, volume_nl)
        _append(pieces, Segment(beyond, drug, concentration_ng_per_ml))
        return tuple(pieces)

    def push(
        self, volume_nl: int, drug: str, concentration_ng_per_ml: int
    ) -> tuple[FluidPath, tuple[Segment, ...]]:
        """Push ``volume_nl`` of reservoir fluid in: the new path and what left the tip."""
        if volume_nl < 0:
            raise InvalidInput("volume_nl", "must not be negative", value=volume_nl)
        if volume_nl == 0:
            return self, ()
        if self._only(drug, concentration_ng_per_ml):
            return self, (Segment(volume_nl, drug, concentration_ng_per_ml),)
        total = self.volume_nl
        if total == 0:
            return self, (Segment(volume_nl, drug, concentration_ng_per_ml),)
        out = self.outflow(0, volume_nl, drug, concentration_ng_per_ml)
        incoming = Segment(volume_nl, drug, concentration_ng_per_ml)
        if volume_nl >= total:
            kept: list[Segment] = []
            _append(kept, incoming.with_volume(total))
            return FluidPath(tuple(kept)), out
        kept, _ = _take(self.segments, volume_nl, total - volume_nl)
        _append(kept, incoming)
        return FluidPath(tuple(kept)), out

    def check(self, path: str, volume_nl: int) -> None:
        """Reject a path that is not a valid, merged path of ``volume_nl`` (REQ-CORE-004)."""
        for i, s in enumerate(self.segments):
            if s.volume_nl <= 0:
                raise InvalidInput(f"{path}.segments[{i}].volume_nl", "must be positive")
            if s.concentration_ng_per_ml < 0 or (s.drug == NO_DRUG) != (
                s.concentration_ng_per_ml == 0
            ):
                raise InvalidInput(
                    f"{path}.segments[{i}]", "a segment without drug has concentration 0"
                )
            if i and s.same_fluid(self.segments[i - 1]):
                raise InvalidInput(f"{path}.segments[{i}]", "equal neighbours are merged")
        if self.volume_nl != volume_nl:
            raise InvalidInput(
                f"{path}.volume_nl",
                "the path holds the dead volume",
                value=self.volume_nl,
                limit=str(volume_nl),
            )
