"""Dosing programs and their validation at programming time.

A :class:`Program` is a value in base units. :func:`check_program` checks it against the drug
library entry and the pump model and returns a :class:`ProgramReport`: every violated limit with
its level, and the figures a clinician must see together. It is accepted when no hard violation
remains and every soft one carries an override with a reason (REQ-LIB-001). The rules are those of
docs/dosing-rules.md (REQ-LIB-002, REQ-LIB-003, REQ-DOSE-003, REQ-DOSE-004, REQ-TITR-001,
REQ-TITR-002, REQ-TITR-005, REQ-BOL-005, REQ-TIME-003, REQ-BACL-001). The basal schedule is
:mod:`itdose.core.schedule`, its names re-exported here.
"""

from __future__ import annotations

from itdose.core.errors import InvalidInput
from itdose.core.library import (
    AnyLimit,
    DrugEntry,
    Library,
    PumpModel,
    concentration_cap_applies,
    pump_concentrations,
)
from itdose.core.schedule import (
    Basal,
    FlexClock,
    FlexStep,
    UtcOffset,
    basal_daily_ng,
    dst_day,
    local_seconds,
    max_basal_rate_ng_per_day,
    rate_at,
)
from itdose.core.units import (
    DAY_S,
    NL_PER_ML,
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_dose_rate_ng_per_day,
    format_duration_s,
    format_volume_rate_nl_per_day,
    volume_nl_for,
)
from itdose.core.value import Value

__all__ = [
    "BACLOFEN_CUT_CONFIRM_BP",
    "DAY_S",
    "NL_PER_ML",
    "Basal",
    "FlexClock",
    "FlexStep",
    "Increase",
    "PatientBolusProgram",
    "Program",
    "ProgramContext",
    "ProgramReport",
    "UtcOffset",
    "Violation",
    "basal_daily_ng",
    "check_program",
    "local_seconds",
    "max_basal_rate_ng_per_day",
    "rate_at",
    "titration_base",
]

BACLOFEN_CUT_CONFIRM_BP = 2_000
"""A baclofen decrease of more than 20 % in a day needs a confirmation (docs/dosing-rules.md)."""


class PatientBolusProgram(Value):
    """A patient-activated bolus: dose, duration, lockout, maximum delivered per rolling 24 h."""

    dose_ng: int
    duration_s: int
    lockout_s: int
    max_per_24h: int


class Program(Value):
    """What the pump delivers: drug, concentration in the reservoir, basal, patient bolus."""

    drug: str
    indication: str
    concentration_ng_per_ml: int
    basal: Basal
    patient_bolus: PatientBolusProgram | None = None
    opioid_status: str | None = None


class Increase(Value):
    """A past daily-dose increase, for the titration limits."""

    at_s: int
    from_ng_per_day: int
    to_ng_per_day: int


class ProgramContext(Value):
    """What validation needs beyond the program: the program it replaces, recent increases,
    the time, the overrides given and the baclofen confirmation."""

    previous: Program | None = None
    increases: tuple[Increase, ...] = ()
    now_s: int = 0
    overrides: tuple[tuple[str, str], ...] = ()
    confirm_withdrawal_risk: bool = False
    initial: bool = False
    utc_now_s: int | None = None
    effective_screening_dose_ng: int | None = None
    """Baclofen: the screening dose that produced a response (sets the starting pump dose)."""
    restart_from_ng_per_day: int | None = None
    """Set while delivery is stopped (suspended, zero rate, alarm): the last daily dose delivered
    before the stop. A restart may return to it; only the part above it is a titration step
    (docs/dosing-rules.md#r-lim-10)."""


class Violation(Value):
    """One limit a program breaks."""

    limit: str
    level: str
    field: str
    value: str
    bound: str
    message: str
    overridden: bool = False


class ProgramReport(Value):
    """The result of :func:`check_program`, with the figures shown together to the clinician."""

    accepted: bool
    violations: tuple[Violation, ...]
    basal_daily_ng: int
    worst_case_daily_ng: int
    volume_rate_nl_per_day: int
    worst_case_volume_nl_per_day: int
    days_to_low_reservoir: int | None
    seconds_to_low_reservoir: int | None
    dst_day_total_ng: int | None = None
    dst_day_utc_s: int | None = None


def _check_int(value: object, field: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"expected an int, got {type(value).__name__}", value=value)
    if value < 0 or (positive and value == 0):
        why = "must be positive" if positive else "must not be negative"
        raise InvalidInput(field, why, value=value)
    return value


def _validate_shape(p: Program) -> None:
    """Raise :class:`InvalidInput` for a malformed program (before any library lookup)."""
    _check_int(p.concentration_ng_per_ml, "concentration", positive=True)
    steps = p.basal.steps
    if not steps:
        raise InvalidInput("basal.steps", "a basal needs at least one step")
    for i, s in enumerate(steps):
        _check_int(s.start_s, f"basal.steps[{i}].start")
        _check_int(s.dose_ng_per_day, f"basal.steps[{i}].dose")
        if s.start_s >= DAY_S:
            raise InvalidInput(f"basal.steps[{i}].start", "must be before 24:00", value=s.start_s)
    if steps[0].start_s != 0:
        why = "steps must tile the day from 00:00 (a gap)"
        raise InvalidInput("basal.steps[0].start", why, value=steps[0].start_s)
    for i in range(1, len(steps)):
        if steps[i].start_s <= steps[i - 1].start_s:
            why = "steps must start in increasing order (an overlap)"
            raise InvalidInput(f"basal.steps[{i}].start", why, value=steps[i].start_s)
    if p.basal.clock is FlexClock.WALL and not p.basal.timezone:
        raise InvalidInput("basal.timezone", "a wall-clock schedule needs an IANA time zone")
    if p.basal.clock is FlexClock.ELAPSED and p.basal.utc_offsets:
        raise InvalidInput("basal.utc_offsets", "only a wall-clock schedule has offsets")
    if p.opioid_status not in (None, "opioid-naive", "opioid-tolerant"):
        why = "expected 'opioid-naive' or 'opioid-tolerant'"
        raise InvalidInput("opioid_status", why, value=p.opioid_status)
    b = p.patient_bolus
    if b is not None:
        _check_int(b.dose_ng, "patient_bolus.dose", positive=True)
        _check_int(b.duration_s, "patient_bolus.duration", positive=True)
        _check_int(b.lockout_s, "patient_bolus.lockout", positive=True)
        _check_int(b.max_per_24h, "patient_bolus.max_per_24h", positive=True)


class _Collector:
    def __init__(self, ctx: ProgramContext) -> None:
        self.ctx = ctx
        self.items: list[Violation] = []

    def add(self, limit: str, level: str, field: str, value: str, bound: str, message: str) -> None:
        overridden = level == "soft" and any(
            lid == limit and reason.strip() for lid, reason in self.ctx.overrides
        )
        self.items.append(Violation(limit, level, field, value, bound, message, overridden))

    def breach(self, limit: AnyLimit, field: str, value: str, why: str) -> None:
        """A violation of a library limit, at its own level, with its own text as the bound."""
        self.add(limit.id, limit.level.value, field, value, limit.text(), why)


def check_program(
    program: Program, library: Library, pump_id: str, ctx: ProgramContext | None = None
) -> ProgramReport:
    """Validate ``program`` for pump ``pump_id``; see the module docstring for the checks.

    Raises :class:`InvalidInput` for a malformed program (unknown drug or pump, steps that do
    not tile the day, non-integer fields); returns a report for limit violations.
    """
    ctx = ctx or ProgramContext()
    _validate_shape(program)
    entry = library.drug(program.drug, program.indication)
    pump = library.pump(pump_id)
    out = _Collector(ctx)
    b = program.patient_bolus
    if b is not None and b.duration_s > b.lockout_s:
        shown, lockout = format_duration_s(b.duration_s), format_duration_s(b.lockout_s)
        why, limit_id = "a bolus may not last longer than its lockout", f"{entry.id}.program_shape"
        out.add(limit_id, "hard", "patient_bolus.duration", shown, f"<= lockout {lockout}", why)
    _check_drug_and_pump(program, entry, pump, out)
    _check_concentration(program, entry, pump, out)
    basal = basal_daily_ng(program.basal)
    worst = basal + (b.dose_ng * b.max_per_24h if b else 0)
    _check_rates(program, pump, out)
    _check_daily(entry, worst, out)
    _check_bolus(program, entry, pump, out)
    _check_titration(program, entry, basal, out)
    _check_start(program, entry, basal, out)
    c = program.concentration_ng_per_ml
    volume_rate, worst_volume = volume_nl_for(basal, c), volume_nl_for(worst, c)
    usable = pump.reservoir_volume.value - pump.low_reservoir_threshold.value
    seconds_to_low = usable * DAY_S // worst_volume if worst_volume else None
    dst = None
    if program.basal.clock is FlexClock.WALL and ctx.utc_now_s is not None:
        dst = dst_day(program.basal, ctx.utc_now_s)
    accepted = all(v.level == "soft" and v.overridden for v in out.items)
    return ProgramReport(
        accepted=accepted,
        violations=tuple(out.items),
        basal_daily_ng=basal,
        worst_case_daily_ng=worst,
        volume_rate_nl_per_day=volume_rate,
        worst_case_volume_nl_per_day=worst_volume,
        days_to_low_reservoir=None if seconds_to_low is None else seconds_to_low // DAY_S,
        seconds_to_low_reservoir=seconds_to_low,
        dst_day_total_ng=None if dst is None else dst[1],
        dst_day_utc_s=None if dst is None else dst[0],
    )


def _check_drug_and_pump(p: Program, entry: DrugEntry, pump: PumpModel, out: _Collector) -> None:
    if not entry.approved_for_intrathecal_pump.value:
        why = f"{p.drug} is not approved for intrathecal pumps (FDA 2018)"
        out.add(f"{entry.id}.unapproved", "soft", "drug", p.drug, "approved drugs only", why)
    if not pump.is_approved_for(p.drug):
        labelled = ", ".join(pump.approved_drugs.names)
        why = f"{pump.id} is not labelled for {p.drug}"
        out.add(f"{pump.id}.approved_drugs", "soft", "drug", p.drug, labelled, why)


def _check_concentration(p: Program, entry: DrugEntry, pump: PumpModel, out: _Collector) -> None:
    c = p.concentration_ng_per_ml
    narrowing = pump.concentration_range(p.drug)
    allowed = pump_concentrations(entry, pump)
    shown = format_concentration_ng_per_ml(c)
    if c not in allowed:
        strengths = ", ".join(format_concentration_ng_per_ml(x) for x in allowed) or "none"
        why = "not a product strength allowed in this pump (compounded product)"
        limit_id = f"{entry.id}.product_concentrations"
        out.add(limit_id, "soft", "concentration", shown, strengths, why)
    if narrowing is not None and not narrowing.contains(c):
        low, high = narrowing.low_ng_per_ml, narrowing.high_ng_per_ml
        bound = f"{format_concentration_ng_per_ml(low)}..{format_concentration_ng_per_ml(high)}"
        why = f"outside the concentrations {pump.id} accepts for {p.drug}"
        out.add(narrowing.id, "hard", "concentration", shown, bound, why)
    cap = entry.max_concentration
    if cap is not None and concentration_cap_applies(entry, c) and c > cap.value:
        out.breach(cap, "concentration", shown, "above the maximum concentration")


def _check_rates(p: Program, pump: PumpModel, out: _Collector) -> None:
    if pump.min_rate is None:
        return
    minimum = pump.min_rate.value
    c = p.concentration_ng_per_ml
    for i, s in enumerate(p.basal.steps):
        if s.dose_ng_per_day == 0:
            continue
        rate_nl = s.dose_ng_per_day * NL_PER_ML // c
        if rate_nl < minimum:
            # concentration at which this dose reaches the minimum rate: D * 1e6 / min, floored
            diluted = s.dose_ng_per_day * NL_PER_ML // minimum
            shown = format_volume_rate_nl_per_day(rate_nl)
            bound = format_volume_rate_nl_per_day(minimum)
            why = (
                f"below the pump's minimum rate; dilute to at most "
                f"{format_concentration_ng_per_ml(diluted)} to deliver "
                f"{format_dose_rate_ng_per_day(s.dose_ng_per_day)}"
            )
            out.add(pump.min_rate.id, "hard", f"basal.steps[{i}].dose", shown, bound, why)


def _check_daily(entry: DrugEntry, worst: int, out: _Collector) -> None:
    shown = format_dose_rate_ng_per_day(worst)
    if worst > entry.max_daily.value:
        why = "worst-case daily total (basal + every allowed bolus) above the maximum"
        out.breach(entry.max_daily, "worst_case_daily", shown, why)
    soft = entry.soft_max_daily
    if soft is not None and worst > soft.value:
        out.breach(soft, "worst_case_daily", shown, "worst-case daily total above the soft maximum")


def _check_bolus(p: Program, entry: DrugEntry, pump: PumpModel, out: _Collector) -> None:
    b = p.patient_bolus
    if b is None:
        return
    if not pump.allows_patient_bolus(p.drug):
        allowed = ", ".join(pump.patient_bolus.names) or "none"
        why = f"{pump.id} allows no patient bolus of {p.drug}"
        out.add(pump.patient_bolus.id, "hard", "patient_bolus", p.drug, allowed, why)
    if entry.max_bolus is not None and b.dose_ng > entry.max_bolus.value:
        shown = format_amount_ng(b.dose_ng)
        out.breach(entry.max_bolus, "patient_bolus.dose", shown, "bolus dose above maximum")
    if entry.min_lockout is not None and b.lockout_s < entry.min_lockout.value:
        shown, why = format_duration_s(b.lockout_s), "lockout shorter than the minimum"
        out.breach(entry.min_lockout, "patient_bolus.lockout", shown, why)


def _check_titration(p: Program, entry: DrugEntry, basal: int, out: _Collector) -> None:
    prev = out.ctx.previous
    if prev is None or prev.drug != p.drug or prev.indication != p.indication:
        return
    old = basal_daily_ng(prev.basal)
    # Restart is not titration (docs/dosing-rules.md#r-lim-10): the steps count from the last daily
    # dose delivered before the stop when that is above the program being replaced.
    base = titration_base(old, out.ctx.restart_from_ng_per_day)
    tit = entry.titration
    if basal > base and tit is not None:
        step, up = tit.max_increase, format_dose_rate_ng_per_day(basal - base)
        if step is not None and basal - base > step.value:
            out.breach(step, "basal", up, "increase larger than the titration step")
        pct = tit.max_increase_percent
        if pct is not None and (basal - base) * 10_000 > pct.value * base:
            shown = f"+{up} on {format_dose_rate_ng_per_day(base)}"
            why = "increase larger than the allowed percentage of the current dose"
            out.breach(pct, "basal", shown, why)
        count = tit.max_increases
        if count is not None:
            now = out.ctx.now_s
            recent = sum(1 for inc in out.ctx.increases if inc.at_s > now - count.window_s)
            if recent + 1 > count.count:
                why = "too many increases in the rolling window"
                out.breach(count, "basal", f"{recent + 1} increases", why)
    if entry.withdrawal_risk.value and basal < old:
        cut_bp = (old - basal) * 10_000
        confirmed = out.ctx.confirm_withdrawal_risk
        if (basal == 0 or cut_bp > BACLOFEN_CUT_CONFIRM_BP * old) and not confirmed:
            limit_id, bound = f"{entry.id}.withdrawal_confirmation", "confirmation"
            why = (
                "stopping or cutting this drug by more than 20 % needs an explicit "
                "confirmation of the withdrawal risk"
            )
            out.add(limit_id, "hard", "basal", format_dose_rate_ng_per_day(basal), bound, why)


def titration_base(previous_ng_per_day: int, restart_from_ng_per_day: int | None) -> int:
    """The daily dose titration steps count from: the program being replaced, or while delivery
    is stopped the last daily dose delivered before the stop if that is higher
    (docs/dosing-rules.md#r-lim-10)."""
    if restart_from_ng_per_day is None:
        return previous_ng_per_day
    return max(previous_ng_per_day, restart_from_ng_per_day)


def _check_start(p: Program, entry: DrugEntry, basal: int, out: _Collector) -> None:
    if not out.ctx.initial:
        return
    screening, effective = entry.screening, out.ctx.effective_screening_dose_ng
    if screening is not None and effective is not None:
        # docs/dosing-rules.md: starting pump dose = 2 x the effective screening dose per 24 h
        times = screening.start_dose_multiple
        expected = times * effective
        if basal != expected:
            shown, bound = format_dose_rate_ng_per_day(basal), format_dose_rate_ng_per_day(expected)
            why = f"the starting pump dose is {times} x the effective screening dose per 24 h"
            out.add(f"{screening.id}.starting_dose", "soft", "basal", shown, bound, why)
    rng = entry.starting_range(p.opioid_status or "any")
    if rng is not None and not rng.contains(basal):
        why = "starting dose outside the library's starting range"
        out.breach(rng, "basal", format_dose_rate_ng_per_day(basal), why)
