"""Scenario fields: the small parsers, the tables of timeline actions, faults and expectations,
and the parsers of one ``[[timeline]]``, ``[[fault]]`` or ``[[expect]]`` item.

Every defect is an :class:`~itdose.core.errors.InvalidInput` naming the field (e.g.
``timeline[3].dose``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.adapters.program_file import check_keys, table_of
from itdose.adapters.scenario_model import Expectation, TimelineItem
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.errors import InvalidInput
from itdose.core.state import Phase, TrialOutcome
from itdose.core.units import (
    DAY_S,
    parse_amount_ng,
    parse_concentration_ng_per_ml,
    parse_duration_s,
    parse_percent_bp,
    parse_volume_nl,
)

_STATUS = {"naive": "opioid-naive", "tolerant": "opioid-tolerant"}


def _keys(t: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> None:
    check_keys(t, allowed, required, f"{where}.")


def _str(t: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    if key not in t:
        if default is None:
            raise InvalidInput(f"{where}.{key}", "missing field")
        return default
    value = t[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}.{key}", "expected a non-empty string", value=value)
    return value.strip()


def _bool(t: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = t.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}.{key}", "expected true or false", value=value)
    return value


def _int(t: Mapping[str, Any], key: str, where: str, lo: int, hi: int) -> int:
    if key not in t:
        raise InvalidInput(f"{where}.{key}", "missing field")
    value = t[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(f"{where}.{key}", f"expected a whole number {lo}..{hi}", value=value)
    return value


def parse_time(raw: object, where: str) -> int:
    """A time on the scenario timeline: whole seconds, ``"day N"`` or ``"day N HH:MM[:SS]"``
    (day 0 is the first day), or a duration from the start (``"36 h"``)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise InvalidInput(where, "expected seconds or 'day N HH:MM'", value=raw)
    if isinstance(raw, int):
        if raw < 0:
            raise InvalidInput(where, "must not be negative", value=raw)
        return raw
    text = raw.strip()
    parts = text.split()
    if parts and parts[0].lower() == "day":
        if len(parts) not in (2, 3) or not parts[1].isdigit():
            raise InvalidInput(where, "expected 'day N' or 'day N HH:MM[:SS]'", value=raw)
        t = int(parts[1]) * DAY_S
        if len(parts) == 3:
            hms = parts[2].split(":")
            if len(hms) not in (2, 3) or not all(x.isdigit() and len(x) == 2 for x in hms):
                raise InvalidInput(where, "expected a time of day HH:MM or HH:MM:SS", value=raw)
            h, m = int(hms[0]), int(hms[1])
            sec = int(hms[2]) if len(hms) == 3 else 0
            if h > 23 or m > 59 or sec > 59:
                raise InvalidInput(where, "time of day out of range", value=raw)
            t += h * 3600 + m * 60 + sec
        return t
    return parse_duration_s(text, where)


def _signed_ppm(raw: object, where: str) -> int:
    """``"+20 %"`` / ``"-5 %"`` as parts per million."""
    if not isinstance(raw, str):
        raise InvalidInput(where, "expected a signed percentage such as '+20 %'", value=raw)
    text = raw.strip()
    sign = -1 if text.startswith("-") else 1
    bp = parse_percent_bp(text.lstrip("+-"), where)
    if sign < 0 and bp >= 10_000:
        raise InvalidInput(where, "an accuracy error must be above -100 %", value=raw)
    return sign * bp * 100


def _overrides(t: Mapping[str, Any], where: str) -> tuple[c.Override, ...]:
    raw = t.get("overrides", [])
    if not isinstance(raw, list):
        raise InvalidInput(f"{where}.overrides", "expected a list of {limit, reason} tables")
    out = []
    for i, item in enumerate(raw):
        o = table_of(item, f"{where}.overrides[{i}]")
        _keys(o, {"limit", "reason"}, {"limit", "reason"}, f"{where}.overrides[{i}]")
        out.append(
            c.Override(
                _str(o, "limit", f"{where}.overrides[{i}]"),
                _str(o, "reason", f"{where}.overrides[{i}]"),
            )
        )
    return tuple(out)


_ACTIONS: dict[str, tuple[str, set[str], set[str]]] = {
    # action: (role, allowed fields, required fields)
    "screening": ("clinician", {"candidate", "baseline_pain", "note"}, set()),
    "start_trial": ("clinician", {"plan", "opioid_status", "overrides"}, set()),
    "trial_dose": ("clinician", {"dose", "overrides"}, {"dose"}),
    "pain_score": ("clinician", {"score"}, {"score"}),
    "screening_response": ("clinician", {"positive"}, {"positive"}),
    "conclude_trial": ("clinician", {"outcome", "reason"}, set()),
    "implant": ("clinician", {"overrides"}, set()),
    "fill": ("clinician", {"volume", "concentration", "overrides"}, {"volume"}),
    "set_program": (
        "clinician",
        {"program", "overrides", "confirm_withdrawal_risk"},
        {"program"},
    ),
    "prime": ("clinician", {"duration"}, set()),
    "start": ("clinician", {"restart_reason"}, set()),
    "bolus": ("patient", set(), set()),
    "clinician_bolus": ("clinician", {"dose", "duration"}, {"dose", "duration"}),
    "suspend": ("clinician", {"reason", "confirm_withdrawal_risk"}, set()),
    "resume": ("clinician", {"reason", "restart_reason"}, set()),
    "clear_alarm": ("clinician", {"alarm", "reason"}, {"alarm"}),
    "silence_alarm": ("clinician", {"alarm", "duration"}, {"alarm", "duration"}),
    "begin_refill": ("clinician", set(), set()),
    "record_withdrawal": ("clinician", {"withdrawn"}, set()),
    "complete_refill": (
        "clinician",
        {
            "volume",
            "concentration",
            "drug",
            "program",
            "finding_reason",
            "overrides",
            "confirm_withdrawal_risk",
        },
        {"volume"},
    ),
    "refill": (
        "clinician",
        {
            "withdrawn",
            "volume",
            "concentration",
            "drug",
            "program",
            "finding_reason",
            "overrides",
            "confirm_withdrawal_risk",
        },
        {"volume"},
    ),
    "abort_refill": ("clinician", {"reason"}, set()),
    "empty_reservoir": ("clinician", {"withdrawn"}, set()),
    "begin_mri": ("clinician", {"emergency", "reason"}, set()),
    "end_mri": ("clinician", set(), set()),
    "confirm_mri": ("clinician", {"reason"}, set()),
    "explant": ("clinician", {"reason", "confirm_withdrawal_risk"}, set()),
    "restart": ("service", {"downtime", "clock_back", "clock_fixed_after"}, set()),
}
"""Every timeline action: its role and fields (``docs/scenario-schema.md``)."""

_COMMON = {"at", "action", "expect", "note", "repeat_every", "repeat_count"}

_FAULTS: dict[str, set[str]] = {
    "motor_stall": {"recovers_after"},
    "mri_stall": {"scan", "recovery_delay"},
    "occlusion": {"clears_after"},
    "dislodgement": set(),
    "device_reset": set(),
    "comm_loss": {"duration"},
    "partial_delivery": set(),
    "garbled_reply": set(),
    "accuracy": {"error"},
}

_EXPECTS: dict[str, tuple[set[str], set[str]]] = {
    "phase": ({"phase", "by", "at_end"}, {"phase"}),
    "alarm": ({"alarm", "after", "before", "raised"}, {"alarm"}),
    "bolus_denied": ({"reason", "min_count", "max_count"}, set()),
    "bolus_granted": ({"min_count", "max_count"}, set()),
    "delivered": ({"from", "to", "min", "max"}, set()),
    "warning": ({"code", "min_count", "max_count"}, {"code"}),
    "rejected": ({"action", "min_count", "max_count"}, {"action"}),
    "reservoir": ({"at", "min", "max"}, set()),
}

_TOP = {
    "schema",
    "title",
    "description",
    "patient",
    "pump",
    "catheter",
    "drug",
    "programs",
    "timeline",
    "fault",
    "random_faults",
    "expect",
    "simulation",
    "library_override",
}


def _alarm(raw: object, where: str) -> AlarmKind:
    try:
        return AlarmKind(raw)
    except ValueError:
        raise InvalidInput(
            where, "unknown alarm", value=raw, limit=", ".join(k.value for k in AlarmKind)
        ) from None


def _phase(raw: object, where: str) -> Phase:
    try:
        return Phase(raw)
    except ValueError:
        raise InvalidInput(
            where, "unknown phase", value=raw, limit=", ".join(p.value for p in Phase)
        ) from None


def _fault(raw: object, i: int) -> sd.SimEvent:
    where = f"fault[{i}]"
    t = table_of(raw, where)
    kind = _str(t, "kind", where)
    if kind not in _FAULTS:
        raise InvalidInput(f"{where}.kind", "unknown fault", value=kind, limit=", ".join(_FAULTS))
    _keys(t, {"at", "kind", "note"} | _FAULTS[kind], {"at"}, where)
    at = parse_time(t["at"], f"{where}.at")

    def dur(key: str) -> int | None:
        return parse_duration_s(t[key], f"{where}.{key}") if key in t else None

    if kind == "motor_stall":
        return sd.MotorStall(at, dur("recovers_after"))
    if kind == "mri_stall":
        return sd.MriStall(at, dur("scan") or 3600, dur("recovery_delay") or 2 * 3600)
    if kind == "occlusion":
        return sd.Occlusion(at, dur("clears_after"))
    if kind == "dislodgement":
        return sd.CatheterDislodgement(at)
    if kind == "device_reset":
        return sd.DeviceReset(at)
    if kind == "comm_loss":
        d = dur("duration")
        if d is None or d < 1:
            raise InvalidInput(f"{where}.duration", "a communication loss needs a duration")
        return sd.CommLoss(at, d)
    if kind == "partial_delivery":
        return sd.PartialDelivery(at)
    if kind == "garbled_reply":
        return sd.GarbledReply(at)
    if "error" not in t:
        raise InvalidInput(f"{where}.error", "missing field")
    return sd.AccuracyChange(at, _signed_ppm(t["error"], f"{where}.error"))


def _timeline_item(raw: object, i: int, programs: Mapping[str, object]) -> list[TimelineItem]:
    where = f"timeline[{i}]"
    t = table_of(raw, where)
    action = _str(t, "action", where)
    if action not in _ACTIONS:
        raise InvalidInput(
            f"{where}.action", "unknown action", value=action, limit=", ".join(_ACTIONS)
        )
    role, allowed, required = _ACTIONS[action]
    _keys(t, allowed | _COMMON, required | {"at"}, where)
    at = parse_time(t["at"], f"{where}.at")
    expect = t.get("expect", "accepted")
    if expect not in ("accepted", "rejected"):
        raise InvalidInput(f"{where}.expect", "expected 'accepted' or 'rejected'", value=expect)
    note = t.get("note", "")
    if not isinstance(note, str):
        raise InvalidInput(f"{where}.note", "expected a string")
    params = _action_params(action, t, where, programs)
    every = parse_time(t["repeat_every"], f"{where}.repeat_every") if "repeat_every" in t else 0
    count = _int(t, "repeat_count", where, 1, 100_000) if "repeat_count" in t else 1
    if count > 1 and every <= 0:
        raise InvalidInput(f"{where}.repeat_every", "a repeated action needs a positive interval")
    return [
        TimelineItem(i, at + k * every, action, role, expect, note, params) for k in range(count)
    ]


def _action_params(
    action: str, t: Mapping[str, Any], where: str, programs: Mapping[str, object]
) -> dict[str, Any]:
    """The action's fields parsed into base units (validated now, used when it runs)."""
    p: dict[str, Any] = {}
    for key in ("reason", "plan", "note", "finding_reason", "drug", "restart_reason"):
        if key in t:
            p[key] = _str(t, key, where)
    for key in ("candidate", "positive", "confirm_withdrawal_risk", "emergency"):
        if key in t:
            p[key] = _bool(t, key, where, False)
    if "baseline_pain" in t:
        p["baseline_pain"] = _int(t, "baseline_pain", where, 0, 10)
    if "score" in t:
        p["score"] = _int(t, "score", where, 0, 10)
    if "dose" in t:
        p["dose"] = parse_amount_ng(t["dose"], f"{where}.dose")
    if "duration" in t:
        p["duration"] = parse_duration_s(t["duration"], f"{where}.duration")
    for key in ("downtime", "clock_back", "clock_fixed_after"):
        if key in t:
            p[key] = parse_duration_s(t[key], f"{where}.{key}")
    if "volume" in t:
        p["volume"] = parse_volume_nl(t["volume"], f"{where}.volume")
    if "concentration" in t:
        p["concentration"] = parse_concentration_ng_per_ml(
            t["concentration"], f"{where}.concentration"
        )
    if "withdrawn" in t:
        w = t["withdrawn"]
        p["withdrawn"] = None if w == "auto" else parse_volume_nl(w, f"{where}.withdrawn")
    if "alarm" in t:
        p["alarm"] = _alarm(t["alarm"], f"{where}.alarm")
    if "outcome" in t:
        try:
            p["outcome"] = TrialOutcome(t["outcome"])
        except ValueError:
            raise InvalidInput(
                f"{where}.outcome", "expected 'success' or 'failure'", value=t["outcome"]
            ) from None
    if "opioid_status" in t:
        if t["opioid_status"] not in _STATUS:
            raise InvalidInput(f"{where}.opioid_status", "expected 'naive' or 'tolerant'")
        p["opioid_status"] = _STATUS[t["opioid_status"]]
    if "program" in t:
        name = _str(t, "program", where)
        if name not in programs:
            raise InvalidInput(
                f"{where}.program",
                "no such [programs] table",
                value=name,
                limit=", ".join(programs),
            )
        p["program"] = name
    p["overrides"] = _overrides(t, where)
    return p


def _expectation(raw: object, i: int) -> Expectation:
    where = f"expect[{i}]"
    t = table_of(raw, where)
    kind = _str(t, "type", where)
    if kind not in _EXPECTS:
        raise InvalidInput(
            f"{where}.type", "unknown expectation", value=kind, limit=", ".join(_EXPECTS)
        )
    allowed, required = _EXPECTS[kind]
    _keys(t, allowed | {"type", "note"}, required, where)
    p: dict[str, Any] = {}
    if "phase" in t:
        p["phase"] = _phase(t["phase"], f"{where}.phase")
    if "alarm" in t:
        p["alarm"] = _alarm(t["alarm"], f"{where}.alarm")
    for key in ("by", "after", "before", "from", "to", "at"):
        if key in t:
            p[key] = parse_time(t[key], f"{where}.{key}")
    for key in ("at_end", "raised"):
        if key in t:
            p[key] = _bool(t, key, where, False)
    for key in ("min_count", "max_count"):
        if key in t:
            p[key] = _int(t, key, where, 0, 10**9)
    for key in ("reason", "code", "action"):
        if key in t:
            p[key] = _str(t, key, where)
    if "action" in p and p["action"] not in _ACTIONS:
        raise InvalidInput(f"{where}.action", "unknown action", value=p["action"])
    for key in ("min", "max"):
        if key in t:
            if kind == "reservoir":
                p[key] = parse_volume_nl(t[key], f"{where}.{key}")
            else:
                p[key] = parse_amount_ng(t[key], f"{where}.{key}")
    return Expectation(i, kind, p)
