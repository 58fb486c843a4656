"""Effects: what a step asks the imperative shell to do (drive orders, annunciations, records).

The core never does I/O; it returns these values and the shell carries them out in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from itdose.core.alarms import AlarmKind, Priority
from itdose.core.governor import Reason
from itdose.core.state import Phase
from itdose.core.value import Value


class Effect(Value):
    """Base of every effect."""


class _Detail:
    """The ``detail`` of a :class:`Record`: a non-data descriptor, so the text a constructor stored
    in the instance takes precedence; a :meth:`Record.deferred` record builds it on every read (the
    same text each time); read on the class, it is the field's default, the empty text."""

    @overload
    def __get__(self, record: None, owner: type[Record]) -> str: ...
    @overload
    def __get__(self, record: Record, owner: type[Record] | None = None) -> str: ...
    def __get__(self, record: Record | None, owner: type[Record] | None = None) -> str:
        if record is None:
            return ""
        text, of = record.__dict__["_detail_of"]
        return text(of)  # type: ignore[no-any-return]


class Record(Effect):
    """An audit record of an accepted command: what, who, when, and the phase change.

    ``detail`` is built only where it is read (the journal, a scenario's expectations): a step
    makes its record with :meth:`deferred`, which keeps the command and builds the one-line text
    on demand; the text, equality, hash and encoding are those of a record built with the text.
    """

    event: str
    role: str
    at_s: int
    source: Phase
    dest: Phase
    detail: str = _Detail()  # type: ignore[assignment]

    @classmethod
    def deferred(
        cls,
        event: str,
        role: str,
        at_s: int,
        source: Phase,
        dest: Phase,
        text: Callable[[Any], str],
        of: object,
    ) -> Record:
        """The record whose ``detail`` is ``text(of)``, built when it is read (``text`` must be
        pure and ``of`` immutable, so that every read gives the same text)."""
        record = object.__new__(cls)
        record.__dict__.update(
            event=event, role=role, at_s=at_s, source=source, dest=dest, _detail_of=(text, of)
        )
        return record


class StopDelivery(Effect):
    """Stop the drive now (the core's phase no longer allows delivery)."""

    reason: str


class Annunciate(Effect):
    """Annunciate an alarm condition at its priority."""

    kind: AlarmKind
    priority: Priority


class Warn(Effect):
    """A warning the clinician must see now (e.g. the baclofen withdrawal risk)."""

    code: str
    text: str


class DeliveryOrder(Effect):
    """Command the drive: deliver ``volume_nl`` over ``duration_s`` for order ``order_id``.

    Granted by the dose governor; the drive reports back with ``drive_report`` commands, and only
    what it reports delivered is counted (REQ-GOV-004). The drive must not run it faster than its
    pace, ``volume_nl`` over ``duration_s`` in whole nL/h rounded up (SAFETY.md, "What the drive is
    trusted for"). A bolus order carries the basal due during it (``basal_nl`` of its volume): the
    pump delivers them together, so that no two orders ever run at once.
    """

    order_id: int
    kind: str
    volume_nl: int
    duration_s: int
    basal_nl: int = 0


class BolusDecision(Effect):
    """The answer to a patient's bolus request: granted, or denied with its reasons."""

    granted: bool
    dose_ng: int
    reasons: tuple[Reason, ...] = ()
    lockout_remaining_s: int = 0


class Projection(Effect):
    """Projected low-reservoir alarm and empty instants, worst case (every allowed bolus taken);
    recomputed at each bolus, program change and refill (docs/dosing-rules.md)."""

    low_reservoir_at_s: int | None
    empty_at_s: int | None


class CancelOrder(Effect):
    """Stop the drive's order ``order_id`` now (e.g. the program changed); the drive reports
    what it delivered with a final ``drive_report``."""

    order_id: int
    reason: str


class ProgramFigures(Value):
    """The figures a clinician checks together for one program (hazard H2): dose per day,
    volume per day and, from the current reservoir, the projected low-reservoir instant."""

    basal_daily_ng: int
    worst_case_daily_ng: int
    volume_rate_nl_per_day: int
    low_reservoir_at_s: int | None


class ProgramComparison(Effect):
    """An accepted program side by side with the one it replaces (REQ-DOSE-005)."""

    previous: ProgramFigures | None
    new: ProgramFigures


class TipChange(Effect):
    """At a refill that changes the concentration or the drug: when the new fluid reaches the
    catheter tip (``None``: never at the current program's rate) and the pump's volume rate
    before and after, so that the tip delivers the programmed daily dose of whatever it holds
    (REQ-TIP-003)."""

    arrives_at_s: int | None
    rate_before_nl_per_day: int
    rate_after_nl_per_day: int
