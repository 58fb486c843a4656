"""The dose governor: the single choke point every delivery of drug passes (DESIGN.md section 2).

Basal and flex steps, bridge and priming boluses, clinician and patient boluses, trial doses: each
is granted here and nowhere else. The arithmetic is written once against
:class:`~itdose.core.arith.Ops` (:func:`grant_amount`, :func:`grant_all_or_nothing` and their
helpers), so the proofs evaluate exactly the functions the runtime runs, on z3 terms
(REQ-GOV-007). :func:`decide_basal` and :func:`decide_bolus` are the int-level entry points: they
validate their inputs, call the same functions with :data:`~itdose.core.arith.INT_OPS` and give
every denial or reduction an explicit :class:`Reason`.

Requirements (their text is listed in ``specs/requirements.toml``):

- REQ-GOV-001: a grant never exceeds the request; it is zero while delivery is not allowed.
- REQ-GOV-002: a grant never lets the 24 h total (window total + in-flight + grant) exceed the
  hard daily maximum.
- REQ-GOV-003: a grant never takes the reservoir, net of in-flight volume, below the empty
  threshold; the volume charged for a grant rounds up, the amount a volume can give rounds down.
- REQ-GOV-004..006: the ledger's bound on every real 24 h window, its conservatism, and the
  bolus history (see :mod:`itdose.core.ledger`).
- REQ-GOV-007: the governor arithmetic runs unchanged on ints and on z3 terms.
- REQ-GOV-008: a bolus is all or nothing; basal is never reduced to make room for one.
- REQ-GOV-009: patient bolus lockout runs from the start of the previous delivered bolus and a
  request exactly at its end is granted; at most ``max_per_24h`` delivered in any rolling 24 h.
- REQ-GOV-010: every denial or reduction carries an explicit reason.

Units and rounding (DESIGN.md section 3): amount ``ng``, volume ``nL``, concentration ``ng/mL``.
``volume_nl = amount_ng * 1_000_000 / concentration_ng_per_ml`` (1 mL = 10**6 nL). The volume
taken from the reservoir for an amount rounds UP (the tracked reservoir is never more than what
is really left); the amount deliverable from a volume rounds DOWN (never promise drug that is not
there). Hence ``volume_nl_for(reservoir_room_ng(v)) <= v``: a grant bounded by the reservoir room
never charges more volume than is usable. Repeated small grants each round their volume up, so
the tracked reservoir drifts low, never high.

In-flight amounts: the ledger records what the drive reports delivered, at the report time
(:mod:`itdose.core.ledger`). Drug granted but not yet reported is passed as ``in_flight_ng`` (and
its volume as ``in_flight_nl``); without it, two grants before one report could together exceed
the cap. ``reservoir_nl`` is the tracked volume after the reported deliveries only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, TypeVar

from itdose.core.arith import INT_OPS, Ops
from itdose.core.errors import InvalidInput
from itdose.core.ledger import BolusHistory, Ledger

__all__ = [
    "NL_PER_ML",
    "Decision",
    "PatientBolus",
    "Reason",
    "amount_ng_in",
    "bolus_permitted",
    "cap_room_ng",
    "decide_basal",
    "decide_bolus",
    "grant_all_or_nothing",
    "grant_amount",
    "lockout_elapsed",
    "reservoir_room_ng",
    "volume_nl_for",
]

I = TypeVar("I")  # noqa: E741
B = TypeVar("B")

NL_PER_ML: Final = 1_000_000
"""Nanolitres per millilitre."""


# --- arithmetic on Ops (ints at run time, z3 terms in proofs) -------------------------------------


def volume_nl_for(ops: Ops[I, B], amount_ng: I, concentration_ng_per_ml: I) -> I:
    """Volume that holds ``amount_ng``, rounded UP (REQ-GOV-003).

    Preconditions: ``amount_ng >= 0``, ``concentration_ng_per_ml > 0``.

    Contracts (PEP 316) are checked by CrossHair on :data:`~itdose.core.arith.INT_OPS`
    (tests/properties/test_crosshair.py):

    pre: amount_ng >= 0 and concentration_ng_per_ml > 0
    post: __return__ * concentration_ng_per_ml >= amount_ng * NL_PER_ML
    post: (__return__ - 1) * concentration_ng_per_ml < amount_ng * NL_PER_ML
    """
    return ops.ceil_div(ops.mul(amount_ng, ops.lit(NL_PER_ML)), concentration_ng_per_ml)


def amount_ng_in(ops: Ops[I, B], volume_nl: I, concentration_ng_per_ml: I) -> I:
    """Amount a volume can deliver, rounded DOWN (REQ-GOV-003).

    Preconditions: ``volume_nl >= 0``, ``concentration_ng_per_ml > 0``.

    pre: volume_nl >= 0 and concentration_ng_per_ml > 0
    post: __return__ * NL_PER_ML <= volume_nl * concentration_ng_per_ml
    post: (__return__ + 1) * NL_PER_ML > volume_nl * concentration_ng_per_ml
    """
    return ops.floor_div(ops.mul(volume_nl, concentration_ng_per_ml), ops.lit(NL_PER_ML))


def cap_room_ng(ops: Ops[I, B], *, window_total_ng: I, in_flight_ng: I, hard_max_ng: I) -> I:
    """Amount that still fits under the hard daily maximum, never negative (REQ-GOV-002).

    pre: window_total_ng >= 0 and in_flight_ng >= 0 and hard_max_ng >= 0
    post: __return__ >= 0
    post: __return__ == 0 or window_total_ng + in_flight_ng + __return__ == hard_max_ng
    """
    used = ops.add(window_total_ng, in_flight_ng)
    return ops.max_(ops.lit(0), ops.sub(hard_max_ng, used))


def reservoir_room_ng(
    ops: Ops[I, B],
    *,
    reservoir_nl: I,
    in_flight_nl: I,
    empty_threshold_nl: I,
    concentration_ng_per_ml: I,
) -> I:
    """Amount the reservoir holds above the empty threshold, net of in-flight volume, rounded
    down; zero at or below the threshold (REQ-GOV-003). Precondition: concentration ``> 0``.

    pre: reservoir_nl >= 0 and in_flight_nl >= 0 and empty_threshold_nl >= 0
    pre: concentration_ng_per_ml > 0
    post: __return__ >= 0
    post: __return__ == 0 or reservoir_nl > in_flight_nl + empty_threshold_nl
    """
    above = ops.sub(reservoir_nl, ops.add(in_flight_nl, empty_threshold_nl))
    usable_nl = ops.max_(ops.lit(0), above)
    return amount_ng_in(ops, usable_nl, concentration_ng_per_ml)


def grant_amount(
    ops: Ops[I, B],
    *,
    requested_ng: I,
    window_total_ng: I,
    in_flight_ng: I,
    hard_max_ng: I,
    reservoir_nl: I,
    in_flight_nl: I,
    empty_threshold_nl: I,
    concentration_ng_per_ml: I,
    delivering: B,
) -> I:
    """Grant for a divisible delivery (basal or flex step, bridge, priming): the request cut to
    what fits under the cap and in the reservoir, or zero when not delivering
    (REQ-GOV-001, REQ-GOV-002, REQ-GOV-003).

    ``min(requested, cap room, reservoir room)`` if ``delivering``, else 0. Preconditions: every
    integer argument ``>= 0``, ``concentration_ng_per_ml > 0``.

    pre: requested_ng >= 0 and window_total_ng >= 0 and in_flight_ng >= 0 and hard_max_ng >= 0
    pre: reservoir_nl >= 0 and in_flight_nl >= 0 and empty_threshold_nl >= 0
    pre: concentration_ng_per_ml > 0
    post: 0 <= __return__ <= requested_ng
    post: delivering or __return__ == 0
    post: __return__ == 0 or window_total_ng + in_flight_ng + __return__ <= hard_max_ng
    post: __return__ == 0 or reservoir_nl > in_flight_nl + empty_threshold_nl
    """
    cap_room = cap_room_ng(
        ops, window_total_ng=window_total_ng, in_flight_ng=in_flight_ng, hard_max_ng=hard_max_ng
    )
    res_room = reservoir_room_ng(
        ops,
        reservoir_nl=reservoir_nl,
        in_flight_nl=in_flight_nl,
        empty_threshold_nl=empty_threshold_nl,
        concentration_ng_per_ml=concentration_ng_per_ml,
    )
    allowed = ops.min_(requested_ng, ops.min_(cap_room, res_room))
    return ops.ite(delivering, allowed, ops.lit(0))


def grant_all_or_nothing(
    ops: Ops[I, B],
    *,
    requested_ng: I,
    window_total_ng: I,
    in_flight_ng: I,
    hard_max_ng: I,
    reserve_ng: I,
    reservoir_nl: I,
    in_flight_nl: I,
    empty_threshold_nl: I,
    concentration_ng_per_ml: I,
    delivering: B,
) -> I:
    """Grant for a bolus: the whole request or zero (REQ-GOV-008, REQ-GOV-002, REQ-GOV-003).

    The whole request is granted iff ``delivering`` and it fits, together with ``reserve_ng``
    (cap kept free, e.g. for basal scheduled in the next 24 h; 0 for none), under the cap room,
    and in the reservoir room. Nothing already granted is cut to make room: a bolus that does not
    fit is denied (DECISIONS.md, "Patient-activated bolus"). Pass ``delivering`` combined with
    :func:`bolus_permitted` for a patient bolus. Preconditions as :func:`grant_amount`.

    pre: requested_ng >= 0 and window_total_ng >= 0 and in_flight_ng >= 0 and hard_max_ng >= 0
    pre: reserve_ng >= 0 and reservoir_nl >= 0 and in_flight_nl >= 0 and empty_threshold_nl >= 0
    pre: concentration_ng_per_ml > 0
    post: __return__ in (0, requested_ng)
    post: delivering or __return__ == 0
    post: __return__ == 0 or window_total_ng + in_flight_ng + reserve_ng + __return__ <= hard_max_ng
    post: __return__ == 0 or reservoir_nl > in_flight_nl + empty_threshold_nl
    """
    cap_room = cap_room_ng(
        ops, window_total_ng=window_total_ng, in_flight_ng=in_flight_ng, hard_max_ng=hard_max_ng
    )
    res_room = reservoir_room_ng(
        ops,
        reservoir_nl=reservoir_nl,
        in_flight_nl=in_flight_nl,
        empty_threshold_nl=empty_threshold_nl,
        concentration_ng_per_ml=concentration_ng_per_ml,
    )
    fits = ops.and_(
        delivering,
        ops.le(ops.add(requested_ng, reserve_ng), cap_room),
        ops.le(requested_ng, res_room),
    )
    return ops.ite(fits, requested_ng, ops.lit(0))


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


@dataclass(frozen=True)
class Decision:
    """What the governor grants for one request, and why any part of it is withheld.

    ``reasons`` is empty exactly when the whole request is granted; otherwise it lists every
    condition that alone would withhold the request, in :class:`Reason` order. ``granted_nl`` is
    the volume charged to the reservoir (rounded up). For patient boluses ``lockout_remaining_s``
    and ``boluses_in_window`` (delivered starts in the window before this request) are reported.
    """

    requested_ng: int
    granted_ng: int
    granted_nl: int
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
        _nonneg("lockout_s", self.lockout_s)
        _nonneg("max_per_24h", self.max_per_24h)


def _nonneg(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, "must be an integer", value=value)
    if value < 0:
        raise InvalidInput(field, "must not be negative", value=value, limit=">= 0")
    return value


def _positive(field: str, value: object) -> int:
    checked = _nonneg(field, value)
    if checked == 0:
        raise InvalidInput(field, "must be positive", value=checked, limit="> 0")
    return checked


@dataclass(frozen=True)
class _Checked:
    now_s: int
    window_total_ng: int
    in_flight_ng: int
    hard_max_ng: int
    reservoir_nl: int
    in_flight_nl: int
    empty_threshold_nl: int
    concentration_ng_per_ml: int
    delivering: bool


def _check_common(
    *,
    now_s: object,
    ledger: object,
    in_flight_ng: object,
    in_flight_nl: object,
    hard_max_ng: object,
    reservoir_nl: object,
    empty_threshold_nl: object,
    concentration_ng_per_ml: object,
    delivering: object,
) -> _Checked:
    now = _nonneg("now_s", now_s)
    if not isinstance(ledger, Ledger):
        raise InvalidInput("ledger", "must be a Ledger", value=ledger)
    if not isinstance(delivering, bool):
        raise InvalidInput("delivering", "must be a bool", value=delivering)
    try:
        window = ledger.window_total_ng(now)
    except InvalidInput as exc:
        raise InvalidInput("now_s", exc.message, value=now, limit=exc.limit) from exc
    return _Checked(
        now_s=now,
        window_total_ng=window,
        in_flight_ng=_nonneg("in_flight_ng", in_flight_ng),
        hard_max_ng=_nonneg("hard_max_ng", hard_max_ng),
        reservoir_nl=_nonneg("reservoir_nl", reservoir_nl),
        in_flight_nl=_nonneg("in_flight_nl", in_flight_nl),
        empty_threshold_nl=_nonneg("empty_threshold_nl", empty_threshold_nl),
        concentration_ng_per_ml=_positive("concentration_ng_per_ml", concentration_ng_per_ml),
        delivering=delivering,
    )


def _rooms(c: _Checked) -> tuple[int, int]:
    cap = cap_room_ng(
        INT_OPS,
        window_total_ng=c.window_total_ng,
        in_flight_ng=c.in_flight_ng,
        hard_max_ng=c.hard_max_ng,
    )
    res = reservoir_room_ng(
        INT_OPS,
        reservoir_nl=c.reservoir_nl,
        in_flight_nl=c.in_flight_nl,
        empty_threshold_nl=c.empty_threshold_nl,
        concentration_ng_per_ml=c.concentration_ng_per_ml,
    )
    return cap, res


def decide_basal(
    *,
    now_s: int,
    requested_ng: int,
    ledger: Ledger,
    in_flight_ng: int,
    in_flight_nl: int,
    hard_max_ng: int,
    reservoir_nl: int,
    empty_threshold_nl: int,
    concentration_ng_per_ml: int,
    delivering: bool,
) -> Decision:
    """Decide a divisible delivery (basal or flex step, bridge, priming) at ``now_s``.

    Grants :func:`grant_amount` of the request, with the 24 h window total taken from ``ledger``
    at ``now_s``. Every argument is validated (non-negative ``int``, not ``bool``; concentration
    positive; ``now_s`` not before the ledger's newest bucket): :class:`InvalidInput` names the
    field. Reasons: ``NOT_DELIVERING``, ``DAILY_CAP``, ``RESERVOIR`` (REQ-GOV-010).
    """
    requested = _nonneg("requested_ng", requested_ng)
    c = _check_common(
        now_s=now_s,
        ledger=ledger,
        in_flight_ng=in_flight_ng,
        in_flight_nl=in_flight_nl,
        hard_max_ng=hard_max_ng,
        reservoir_nl=reservoir_nl,
        empty_threshold_nl=empty_threshold_nl,
        concentration_ng_per_ml=concentration_ng_per_ml,
        delivering=delivering,
    )
    granted = grant_amount(
        INT_OPS,
        requested_ng=requested,
        window_total_ng=c.window_total_ng,
        in_flight_ng=c.in_flight_ng,
        hard_max_ng=c.hard_max_ng,
        reservoir_nl=c.reservoir_nl,
        in_flight_nl=c.in_flight_nl,
        empty_threshold_nl=c.empty_threshold_nl,
        concentration_ng_per_ml=c.concentration_ng_per_ml,
        delivering=c.delivering,
    )
    cap, res = _rooms(c)
    reasons: list[Reason] = []
    if not c.delivering and requested > 0:
        reasons.append(Reason.NOT_DELIVERING)
    if cap < requested:
        reasons.append(Reason.DAILY_CAP)
    if res < requested:
        reasons.append(Reason.RESERVOIR)
    return Decision(
        requested_ng=requested,
        granted_ng=granted,
        granted_nl=volume_nl_for(INT_OPS, granted, c.concentration_ng_per_ml),
        reasons=tuple(reasons),
    )


def decide_bolus(
    *,
    now_s: int,
    requested_ng: int,
    ledger: Ledger,
    in_flight_ng: int,
    in_flight_nl: int,
    hard_max_ng: int,
    reserve_ng: int,
    reservoir_nl: int,
    empty_threshold_nl: int,
    concentration_ng_per_ml: int,
    delivering: bool,
    patient: PatientBolus | None,
) -> Decision:
    """Decide a bolus at ``now_s``: all or nothing (REQ-GOV-008).

    ``patient`` carries a patient-activated bolus's history, lockout and count limit
    (REQ-GOV-009); ``None`` for a clinician bolus, which has neither. ``reserve_ng`` is cap kept
    free for delivery already scheduled (0 for none). ``requested_ng`` must be positive. Reasons:
    ``NOT_DELIVERING``, ``LOCKOUT``, ``BOLUS_COUNT``, ``DAILY_CAP``, ``RESERVOIR``; a
    ``DAILY_CAP`` denial of a patient bolus is the "maximum dose reached" case. On a grant of a
    patient bolus the caller records the start with :meth:`BolusHistory.record_start`; a denial
    records nothing and does not restart the lockout.
    """
    requested = _positive("requested_ng", requested_ng)
    reserve = _nonneg("reserve_ng", reserve_ng)
    if patient is not None and not isinstance(patient, PatientBolus):
        raise InvalidInput("patient", "must be a PatientBolus or None", value=patient)
    c = _check_common(
        now_s=now_s,
        ledger=ledger,
        in_flight_ng=in_flight_ng,
        in_flight_nl=in_flight_nl,
        hard_max_ng=hard_max_ng,
        reservoir_nl=reservoir_nl,
        empty_threshold_nl=empty_threshold_nl,
        concentration_ng_per_ml=concentration_ng_per_ml,
        delivering=delivering,
    )
    permitted = True
    remaining = 0
    count = 0
    reasons: list[Reason] = []
    if not c.delivering:
        reasons.append(Reason.NOT_DELIVERING)
    if patient is not None:
        history = patient.history
        try:
            count = history.count_in_window(c.now_s)
            remaining = history.lockout_remaining_s(c.now_s, patient.lockout_s)
        except InvalidInput as exc:
            raise InvalidInput("now_s", exc.message, value=c.now_s, limit=exc.limit) from exc
        over = (
            True
            if history.last_start_s is None
            else lockout_elapsed(
                INT_OPS,
                now_s=c.now_s,
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
    granted = grant_all_or_nothing(
        INT_OPS,
        requested_ng=requested,
        window_total_ng=c.window_total_ng,
        in_flight_ng=c.in_flight_ng,
        hard_max_ng=c.hard_max_ng,
        reserve_ng=reserve,
        reservoir_nl=c.reservoir_nl,
        in_flight_nl=c.in_flight_nl,
        empty_threshold_nl=c.empty_threshold_nl,
        concentration_ng_per_ml=c.concentration_ng_per_ml,
        delivering=INT_OPS.and_(c.delivering, permitted),
    )
    cap, res = _rooms(c)
    if cap < requested + reserve:
        reasons.append(Reason.DAILY_CAP)
    if res < requested:
        reasons.append(Reason.RESERVOIR)
    return Decision(
        requested_ng=requested,
        granted_ng=granted,
        granted_nl=volume_nl_for(INT_OPS, granted, c.concentration_ng_per_ml),
        reasons=tuple(reasons),
        lockout_remaining_s=remaining,
        boluses_in_window=count,
    )
