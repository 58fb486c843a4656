"""Program files (TOML) for ``itdose check-program``: parsing and the report.

Format (every quantity a string with its unit, parsed exactly by :mod:`itdose.core.units`)::

    pump = "prometra-ii-20"        # synchromed-ii-20, synchromed-ii-40, prometra-20,
                                   # prometra-ii-20, prometra-ii-40
    drug = "morphine"              # lowercase generic name
    indication = "pain"            # pain, spasticity-spinal, spasticity-cerebral
    concentration = "25 mg/mL"
    opioid_status = "tolerant"     # optional: "naive" or "tolerant"

    [basal]
    mode = "continuous"
    dose = "5 mg/day"
    # or: mode = "flex", clock = "elapsed" | "wall", timezone = "Europe/Berlin" (wall only),
    #     steps = [{ start = "00:00", dose = "20 mcg/h" }, { start = "08:00", dose = "30 mcg/h" }]

    [patient_bolus]                # optional
    dose = "0.1 mg"
    duration = "10 min"
    lockout = "1 h"
    max_per_24h = 4

    [[override]]                   # optional, one per soft limit
    limit = "morphine.pain.max_concentration"
    reason = "label strength; PACC table not yet checked"

A ``wall`` schedule needs the time zone's UTC offsets: this adapter computes them from the IANA
database (``zoneinfo``) for the 400 days after ``now`` and hands them to the pure core.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itdose.adapters.toml_files import read_toml_file
from itdose.core.errors import InvalidInput
from itdose.core.library import Library
from itdose.core.program import (
    Basal,
    FlexClock,
    FlexStep,
    PatientBolusProgram,
    Program,
    ProgramContext,
    ProgramReport,
    UtcOffset,
    check_program,
)
from itdose.core.units import (
    format_amount_ng,
    format_dose_rate_ng_per_day,
    format_volume_rate_nl_per_day,
    parse_amount_ng,
    parse_concentration_ng_per_ml,
    parse_dose_rate_ng_per_day,
    parse_duration_s,
)

__all__ = [
    "ProgramFile",
    "check_keys",
    "check_program_file",
    "load_program_file",
    "report_json",
    "report_text",
    "table_of",
]

_TOP = {
    "pump",
    "drug",
    "indication",
    "concentration",
    "opioid_status",
    "basal",
    "patient_bolus",
    "override",
}
_STATUS = {"naive": "opioid-naive", "tolerant": "opioid-tolerant"}
_OFFSET_HORIZON_DAYS = 400


@dataclass(frozen=True)
class ProgramFile:
    """A parsed program file."""

    pump: str
    program: Program
    overrides: tuple[tuple[str, str], ...]


def table_of(data: object, field: str) -> Mapping[str, Any]:
    """``data`` as a TOML table, else :class:`InvalidInput` naming ``field``."""
    if not isinstance(data, Mapping):
        raise InvalidInput(field, f"expected a table, got {type(data).__name__}")
    return data


def check_keys(table: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    """Reject unknown and missing keys, naming ``where`` + the key."""
    for key in table:
        if key not in allowed:
            raise InvalidInput(f"{where}{key}", "unknown field", limit=", ".join(sorted(allowed)))
    for key in sorted(required):
        if key not in table:
            raise InvalidInput(f"{where}{key}", "missing field")


def _string(table: Mapping[str, Any], key: str, field: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "expected a non-empty string", value=value)
    return value.strip()


def _clock_time(text: object, field: str) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise InvalidInput(field, "expected a time of day HH:MM", value=text)
    hh, mm = text[:2], text[3:]
    if not (hh.isdigit() and mm.isdigit()) or int(hh) > 23 or int(mm) > 59:
        raise InvalidInput(field, "expected a time of day HH:MM from 00:00 to 23:59", value=text)
    return int(hh) * 3600 + int(mm) * 60


def utc_offsets(
    timezone: str, start_utc_s: int, days: int = _OFFSET_HORIZON_DAYS
) -> tuple[UtcOffset, ...]:
    """The UTC offset changes of ``timezone`` from ``start_utc_s`` on (hourly resolution)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("basal.timezone", "unknown IANA time zone", value=timezone) from None

    def offset(t: int) -> int:
        delta = datetime.fromtimestamp(t, UTC).astimezone(zone).utcoffset() or timedelta(0)
        return int(delta.total_seconds())

    changes = [UtcOffset(start_utc_s, offset(start_utc_s))]
    t = start_utc_s - start_utc_s % 3600
    end = start_utc_s + days * 86400
    while t < end:
        t += 3600
        now = offset(t)
        if now != changes[-1].offset_s:
            # the change happened within the last hour: find the exact second
            lo, hi = t - 3600, t
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == now:
                    hi = mid
                else:
                    lo = mid
            changes.append(UtcOffset(hi, now))
    return tuple(changes)


def _basal(raw: object, now_utc_s: int) -> Basal:
    b = table_of(raw, "basal")
    mode = b.get("mode")
    if mode == "continuous":
        check_keys(b, {"mode", "dose"}, {"dose"}, "basal.")
        return Basal.continuous(parse_dose_rate_ng_per_day(b["dose"], "basal.dose"))
    if mode != "flex":
        raise InvalidInput("basal.mode", "expected 'continuous' or 'flex'", value=mode)
    check_keys(b, {"mode", "clock", "timezone", "steps"}, {"clock", "steps"}, "basal.")
    clock_text = b["clock"]
    if clock_text not in ("elapsed", "wall"):
        raise InvalidInput("basal.clock", "expected 'elapsed' or 'wall'", value=clock_text)
    steps_raw = b["steps"]
    if not isinstance(steps_raw, list) or not steps_raw:
        raise InvalidInput("basal.steps", "expected a non-empty list of steps")
    steps = []
    for i, item in enumerate(steps_raw):
        step = table_of(item, f"basal.steps[{i}]")
        check_keys(step, {"start", "dose"}, {"start", "dose"}, f"basal.steps[{i}].")
        steps.append(
            FlexStep(
                _clock_time(step["start"], f"basal.steps[{i}].start"),
                parse_dose_rate_ng_per_day(step["dose"], f"basal.steps[{i}].dose"),
            )
        )
    clock = FlexClock(clock_text)
    if clock is FlexClock.WALL:
        if "timezone" not in b:
            raise InvalidInput("basal.timezone", "a wall-clock schedule needs an IANA time zone")
        tz = _string(b, "timezone", "basal.timezone")
        return Basal(tuple(steps), clock, tz, utc_offsets(tz, now_utc_s))
    if "timezone" in b:
        raise InvalidInput("basal.timezone", "only a wall-clock schedule has a time zone")
    return Basal(tuple(steps), clock)


def _bolus(raw: object) -> PatientBolusProgram:
    b = table_of(raw, "patient_bolus")
    fields = {"dose", "duration", "lockout", "max_per_24h"}
    check_keys(b, fields, fields, "patient_bolus.")
    count = b["max_per_24h"]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise InvalidInput(
            "patient_bolus.max_per_24h", "expected a whole number 1..1000", value=count
        )
    return PatientBolusProgram(
        dose_ng=parse_amount_ng(b["dose"], "patient_bolus.dose"),
        duration_s=parse_duration_s(b["duration"], "patient_bolus.duration"),
        lockout_s=parse_duration_s(b["lockout"], "patient_bolus.lockout"),
        max_per_24h=count,
    )


def parse_program(data: Mapping[str, Any], now_utc_s: int) -> ProgramFile:
    """A :class:`ProgramFile` from parsed TOML data; :class:`InvalidInput` names the field."""
    top = table_of(data, "program")
    check_keys(top, _TOP, {"pump", "drug", "indication", "concentration", "basal"}, "")
    status = None
    if "opioid_status" in top:
        raw = top["opioid_status"]
        if not isinstance(raw, str) or raw not in _STATUS:
            raise InvalidInput("opioid_status", "expected 'naive' or 'tolerant'", value=raw)
        status = _STATUS[raw]
    overrides = []
    raw_overrides = top.get("override", [])
    if not isinstance(raw_overrides, list):
        raise InvalidInput("override", "expected [[override]] tables")
    for i, item in enumerate(raw_overrides):
        o = table_of(item, f"override[{i}]")
        check_keys(o, {"limit", "reason"}, {"limit", "reason"}, f"override[{i}].")
        overrides.append(
            (
                _string(o, "limit", f"override[{i}].limit"),
                _string(o, "reason", f"override[{i}].reason"),
            )
        )
    program = Program(
        drug=_string(top, "drug", "drug"),
        indication=_string(top, "indication", "indication"),
        concentration_ng_per_ml=parse_concentration_ng_per_ml(
            top["concentration"], "concentration"
        ),
        basal=_basal(top["basal"], now_utc_s),
        patient_bolus=_bolus(top["patient_bolus"]) if "patient_bolus" in top else None,
        opioid_status=status,
    )
    return ProgramFile(_string(top, "pump", "pump"), program, tuple(overrides))


def load_program_file(path: str | Path, now_utc_s: int) -> ProgramFile:
    """Read and parse a program file; unreadable or malformed files raise :class:`InvalidInput`."""
    return parse_program(read_toml_file(path, "file"), now_utc_s)


def check_program_file(
    path: str | Path, library: Library, now_utc_s: int
) -> tuple[ProgramFile, ProgramReport]:
    """Parse and validate a program file as a first program (no previous program)."""
    pf = load_program_file(path, now_utc_s)
    ctx = ProgramContext(overrides=pf.overrides, initial=True, utc_now_s=now_utc_s)
    return pf, check_program(pf.program, library, pf.pump, ctx)


def report_json(pf: ProgramFile, report: ProgramReport) -> dict[str, Any]:
    """The JSON document of ``itdose check-program --json``."""
    return {
        "accepted": report.accepted,
        "pump": pf.pump,
        "drug": pf.program.drug,
        "indication": pf.program.indication,
        "violations": [
            {
                "limit": v.limit,
                "level": v.level,
                "field": v.field,
                "value": v.value,
                "bound": v.bound,
                "message": v.message,
                "overridden": v.overridden,
            }
            for v in report.violations
        ],
        "basal_daily_ng": report.basal_daily_ng,
        "worst_case_daily_ng": report.worst_case_daily_ng,
        "volume_rate_nl_per_day": report.volume_rate_nl_per_day,
        "worst_case_volume_nl_per_day": report.worst_case_volume_nl_per_day,
        "days_to_low_reservoir": report.days_to_low_reservoir,
        "seconds_to_low_reservoir": report.seconds_to_low_reservoir,
        "dst_day_total_ng": report.dst_day_total_ng,
        "dst_day_utc": (
            datetime.fromtimestamp(report.dst_day_utc_s, UTC).isoformat()
            if report.dst_day_utc_s is not None
            else None
        ),
    }


def report_text(pf: ProgramFile, report: ProgramReport) -> str:
    """The human summary: dose/day, mL/day and days to the alarm together (hazard H2)."""
    lines = [
        f"program for {pf.pump}: {pf.program.drug} ({pf.program.indication})",
        f"  basal              {format_dose_rate_ng_per_day(report.basal_daily_ng)}"
        f"  ({format_volume_rate_nl_per_day(report.volume_rate_nl_per_day)})",
        f"  worst case per day {format_dose_rate_ng_per_day(report.worst_case_daily_ng)}"
        f"  ({format_volume_rate_nl_per_day(report.worst_case_volume_nl_per_day)})",
    ]
    if pf.program.patient_bolus is not None:
        b = pf.program.patient_bolus
        lines.append(f"  patient bolus      {format_amount_ng(b.dose_ng)} x {b.max_per_24h}/24 h")
    if report.days_to_low_reservoir is not None:
        lines.append(
            f"  full reservoir to low-reservoir alarm: {report.days_to_low_reservoir} days"
            " (every allowed bolus taken)"
        )
    if report.dst_day_total_ng is not None and report.dst_day_utc_s is not None:
        when = datetime.fromtimestamp(report.dst_day_utc_s, UTC).isoformat()
        lines.append(
            f"  next daylight-saving day (local day from {when}): "
            f"{format_dose_rate_ng_per_day(report.dst_day_total_ng)} that day"
        )
    for v in report.violations:
        state = (
            "overridden"
            if v.overridden
            else ("REJECTED" if v.level == "hard" else "needs override")
        )
        if v.value or v.bound:
            what = f"{v.message} (value {v.value}, bound {v.bound})"
        else:  # a shape problem has no figures: name the field instead of "(value , bound )"
            what = f"{v.field}: {v.message}"
        lines.append(f"  [{v.level} {state}] {v.limit}: {what}")
    lines.append("ACCEPTED" if report.accepted else "REJECTED")
    return "\n".join(lines) + "\n"


def dumps(doc: dict[str, Any]) -> str:
    """Stable JSON text."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
