"""The dose governor: the single choke point every delivery of drug passes (docs/architecture.md).

Basal and flex steps, priming, clinician and patient boluses, trial doses: each
is granted here and nowhere else. The arithmetic is written once against
:class:`~itdose.core.arith.Ops` (:func:`grant_amount`, :func:`grant_all_or_nothing` and their
helpers), so the proofs evaluate exactly the functions the runtime runs, on z3 terms
(REQ-GOV-007). :func:`decide_basal` and :func:`decide_bolus` are the int-level entry points: they
validate their inputs, call the same functions with :data:`~itdose.core.arith.INT_OPS` and give
every denial or reduction an explicit :class:`Reason`.

Each function names the requirements it meets (REQ-GOV-001..010, their text in
``specs/requirements.toml``; REQ-GOV-004..006, the ledger's bound on every real 24 h window, its
conservatism and the bolus history, are :mod:`itdose.core.ledger`'s).

Units and rounding (docs/architecture.md, "Units and arithmetic"): every amount here is drug
leaving the catheter tip, in ``ng``. The caller plans volumes through the fluid path
(:mod:`itdose.core.path`, REQ-TIP-002): an amount counted against a limit is rounded UP from the
exact femtogram amount, the reservoir room (what the usable volume pushes out of the tip) is
rounded DOWN. So a grant never counts less than reaches the patient, and never promises drug
that is not there.

The cap room comes from :func:`itdose.core.ledger.peak_fg`: the recorded drug, the drug in
flight and the requested delivery, each bounded by the drive's pace, over every later window.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from itdose.core.arith import INT_OPS, Ops, check_nonneg
from itdose.core.errors import InvalidInput
from itdose.core.ledger import BolusHistory

__all__ = [
    "Decision",
    "PatientBolus",
    "Reason",
    "Request",
    "bolus_permitted",
    "decide_basal",
    "decide_bolus",
    "grant_all_or_nothing",
    "grant_amount",
    "lockout_elapsed",
]

I = TypeVar("I")  # noqa: E741
B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class Request(Generic[I, B]):
    """The governor's inputs for one decision, built once by the caller (REQ-GOV-001..003).

    Every amount is drug leaving the catheter tip, in ng; ``I`` and ``B`` are ``int`` and ``bool``
    at run time and z3 terms in the proofs.

    - ``requested_ng``: the amount asked for.
    - ``cap_room_ng``: the most of this delivery that keeps every 24 h window within the hard
      daily maximum (:func:`itdose.core.dosing.cap_room_ng`, from the ledger's exact peak), or
      ``None`` when no cap check applies because nothing can be delivered (the request is denied
      for ``delivering`` alone).
    - ``reservoir_room_ng``: what the reservoir's usable volume (above the empty threshold, net
      of the volume in flight) pushes out of the tip, rounded down; ``None`` when the reservoir
      was checked for this delivery elsewhere (the priming guard) or nothing can be delivered.
    - ``delivering``: delivery is allowed now (phase, suspension, high-priority alarm).

    ``None`` is an explicit "this limit does not apply here", never a large sentinel amount.
    """

    requested_ng: I
    cap_room_ng: I | None
    reservoir_room_ng: I | None
    delivering: B

    def limits(self) -> tuple[I, ...]:
        """The rooms that apply, cap first."""
        cap, reservoir = self.cap_room_ng, self.reservoir_room_ng
        if cap is None:
            return () if reservoir is None else (reservoir,)
        return (cap,) if reservoir is None else (cap, reservoir)


# --- arithmetic on Ops (ints at run time, z3 terms in proofs) -------------------------------------


def grant_amount(ops: Ops[I, B], request: Request[I, B]) -> I:
    """Grant for a divisible delivery (basal or flex step, priming): the request cut to what fits
    under the cap and in the reservoir, or zero when not delivering
    (REQ-GOV-001, REQ-GOV-002, REQ-GOV-003).

    ``min(requested, cap room, reservoir room)`` (over the rooms that apply) if ``delivering``,
    else 0.

    pre: request.requested_ng >= 0 and all(r >= 0 for r in request.limits())
    post: 0 <= __return__ <= request.requested_ng
    post: request.delivering or __return__ == 0
    post: all(__return__ <= r for r in request.limits())
    """
    allowed = request.requested_ng
    for room in request.limits():
        allowed = ops.min_(allowed, room)
    return ops.ite(request.delivering, allowed, ops.lit(0))


def grant_all_or_nothing(ops: Ops[I, B], request: Request[I, B], permitted: B | None = None) -> I:
    """Grant for a bolus: the whole request or zero (REQ-GOV-008, REQ-GOV-002, REQ-GOV-003).

    The whole request is granted iff ``delivering``, ``permitted`` (a patient bolus's
    :func:`bolus_permitted`; ``None`` for a bolus without lockout or count) and it fits under
    the cap room (which already keeps room for the basal scheduled in the next 24 h: basal is
    never reduced to make room for a bolus) and in the reservoir room. Nothing already granted is
    cut to make room: a bolus that does not fit is denied (docs/dosing-rules.md,
    "Patient-activated bolus").

    pre: request.requested_ng >= 0 and all(r >= 0 for r in request.limits())
    post: __return__ in (0, request.requested_ng)
    post: request.delivering or __return__ == 0
    post: permitted is not False or __return__ == 0
    post: all(__return__ <= r for r in request.limits())
    """
    conds = [request.delivering] if permitted is None else [request.delivering, permitted]
    conds += [ops.le(request.requested_ng, room) for room in request.limits()]
    return ops.ite(ops.and_(*conds), request.requested_ng, ops.lit(0))


def lockout_elapsed(ops: Ops[I, B], *, now_s: I, last_start_s: I, lockout_s: I) -> B:
    """The lockout after a bolus started at ``last_start_s`` is over at ``now_s``: true from
    exactly ``last_start_s + lockout_s`` on (REQ-GOV-009).

    pre: lockout_s >= 0
    post: __return__ == (now_s >= last_start_s + lockout_s)
    """
    return ops.ge(ops.sub(now_s, last_start_s), lockout_s)


def bolus_permitted(ops: Ops[I, B], *, lockout_over: B, starts_in_window: I, max_per_24h: I) -> B:
    """A patient bolus may start: its lockout is over and fewer than ``max_per_24h`` delivered
    boluses started in the rolling 24 h window (REQ-GOV-009).

    post: __return__ == (lockout_over and starts_in_window < max_per_24h)
    """
    return ops.and_(lockout_over, ops.lt(starts_in_window, max_per_24h))


# --- int-level entry points -----------------------------------------------------------------------


class Reason(enum.Enum):
    """Why a grant is smaller than its request (REQ-GOV-010)."""

    NOT_DELIVERING = "not_delivering"
    """Delivery is not allowed now (phase, suspension, high-priority alarm)."""
    LOCKOUT = "lockout"
    """The patient bolus lockout since the previous delivered bolus has not ended."""
    BOLUS_COUNT = "bolus_count"
    """The maximum number of patient boluses per rolling 24 h has been delivered."""
    DAILY_CAP = "daily_cap"
    """The request does not fit under the hard daily maximum ("maximum dose reached")."""
    RESERVOIR = "reservoir"
    """The reservoir above the empty threshold does not hold the request."""
    NOT_PROGRAMMED = "not_programmed"
    """No patient bolus is programmed (or nothing is implanted and filled): the answer to a
    patient's request that never reaches the governor, which itself never returns it."""


@dataclass(frozen=True)
class Decision:
    """What the governor grants for one request, and why any part of it is withheld.

    ``reasons`` is empty exactly when the whole request is granted; otherwise it lists every
    condition that alone would withhold the request, in :class:`Reason` order. For patient
    boluses ``lockout_remaining_s`` and ``boluses_in_window`` (delivered starts in the window
    before this request) are reported.
    """

    requested_ng: int
    granted_ng: int
    reasons: tuple[Reason, ...] = ()
    lockout_remaining_s: int = 0
    boluses_in_window: int = 0


@dataclass(frozen=True)
class PatientBolus:
    """A patient-activated bolus's own limits: the delivered-bolus history, the lockout and the
    maximum number per rolling 24 h (REQ-GOV-009)."""

    history: BolusHistory
    lockout_s: int
    max_per_24h: int

    def __post_init__(self) -> None:
        if not isinstance(self.history, BolusHistory):
            raise InvalidInput("history", "must be a BolusHistory", value=self.history)
        check_nonneg("lockout_s", self.lockout_s)
        check_nonneg("max_per_24h", self.max_per_24h)


def _positive(field: str, value: object) -> int:
    checked = check_nonneg(field, value)
    if checked == 0:
        raise InvalidInput(field, "must be positive", value=checked, limit="> 0")
    return checked


def _checked(request: object, *, positive: bool) -> Request[int, bool]:
    """``request`` with every field validated (:class:`InvalidInput` names the field)."""
    if not isinstance(request, Request):
        raise InvalidInput("request", "must be a governor Request", value=request)
    check = _positive if positive else check_nonneg
    check("requested_ng", request.requested_ng)
    if request.cap_room_ng is not None:
        check_nonneg("cap_room_ng", request.cap_room_ng)
    if request.reservoir_room_ng is not None:
        check_nonneg("reservoir_room_ng", request.reservoir_room_ng)
    if not isinstance(request.delivering, bool):
        raise InvalidInput("delivering", "must be a bool", value=request.delivering)
    return request


def _limit_reasons(request: Request[int, bool]) -> list[Reason]:
    """``DAILY_CAP`` / ``RESERVOIR`` for each room that applies and is below the request."""
    reasons: list[Reason] = []
    requested = request.requested_ng
    if request.cap_room_ng is not None and request.cap_room_ng < requested:
        reasons.append(Reason.DAILY_CAP)
    if request.reservoir_room_ng is not None and request.reservoir_room_ng < requested:
        reasons.append(Reason.RESERVOIR)
    return reasons


def decide_basal(request: Request[int, bool]) -> Decision:
    """Decide a divisible delivery (basal or flex step, priming).

    Grants :func:`grant_amount` of the request. Every field is validated (non-negative ``int``,
    not ``bool``; ``delivering`` a ``bool``): :class:`InvalidInput` names the field. Reasons:
    ``NOT_DELIVERING``, ``DAILY_CAP``, ``RESERVOIR`` (REQ-GOV-010).
    """
    req = _checked(request, positive=False)
    granted = grant_amount(INT_OPS, req)
    reasons: list[Reason] = []
    if not req.delivering and req.requested_ng > 0:
        reasons.append(Reason.NOT_DELIVERING)
    reasons += _limit_reasons(req)
    return Decision(requested_ng=req.requested_ng, granted_ng=granted, reasons=tuple(reasons))


def decide_bolus(
    request: Request[int, bool], *, now_s: int, patient: PatientBolus | None
) -> Decision:
    """Decide a bolus at ``now_s``: all or nothing (REQ-GOV-008).

    ``patient`` carries a patient-activated bolus's history, lockout and count limit
    (REQ-GOV-009); ``None`` for a clinician bolus, which has neither. The request's cap room
    already keeps room for the basal scheduled in the next 24 h; its ``requested_ng`` must be
    positive. Reasons: ``NOT_DELIVERING``, ``LOCKOUT``, ``BOLUS_COUNT``, ``DAILY_CAP``,
    ``RESERVOIR``; a ``DAILY_CAP`` denial of a patient bolus is the "maximum dose reached" case.
    On a grant of a patient bolus the caller records the start with
    :meth:`BolusHistory.record_start`; a denial records nothing and does not restart the lockout.
    """
    now = check_nonneg("now_s", now_s)
    req = _checked(request, positive=True)
    if patient is not None and not isinstance(patient, PatientBolus):
        raise InvalidInput("patient", "must be a PatientBolus or None", value=patient)
    permitted: bool | None = None
    remaining = 0
    count = 0
    reasons: list[Reason] = []
    if not req.delivering:
        reasons.append(Reason.NOT_DELIVERING)
    if patient is not None:
        history = patient.history
        try:
            count = history.count_in_window(now)
            remaining = history.lockout_remaining_s(now, patient.lockout_s)
        except InvalidInput as exc:
            raise InvalidInput("now_s", exc.message, value=now, limit=exc.limit) from exc
        over = (
            True
            if history.last_start_s is None
            else lockout_elapsed(
                INT_OPS,
                now_s=now,
                last_start_s=history.last_start_s,
                lockout_s=patient.lockout_s,
            )
        )
        permitted = bolus_permitted(
            INT_OPS, lockout_over=over, starts_in_window=count, max_per_24h=patient.max_per_24h
        )
        if not over:
            reasons.append(Reason.LOCKOUT)
        if count >= patient.max_per_24h:
            reasons.append(Reason.BOLUS_COUNT)
    granted = grant_all_or_nothing(INT_OPS, req, permitted)
    reasons += _limit_reasons(req)
    return Decision(
        requested_ng=req.requested_ng,
        granted_ng=granted,
        reasons=tuple(reasons),
        lockout_remaining_s=remaining,
        boluses_in_window=count,
    )
