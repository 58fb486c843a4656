"""Scenario files (TOML, schema ``itdose-scenario/1``): parsing, running and checking.

A scenario tells one patient's story on a simulated drive: the patient, pump, catheter, drug and
programs, a timeline of clinician, patient and service actions, drive faults at given times, and
``[[expect]]`` items checked at the end. The schema is documented in ``docs/scenario-schema.md``;
every defect in a file is an :class:`~itdose.core.errors.InvalidInput` naming the field (e.g.
``timeline[3].dose``).

:func:`load_scenario` parses (all validation happens here, before anything runs);
:func:`run_scenario` runs it on a :class:`~itdose.adapters.simdrive.SimulatedDrive` through the
:class:`~itdose.adapters.controller.Controller` and returns a :class:`RunResult` (notable events,
per-day figures, samples for the plot, expectation results). Nothing here decides dosing.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.adapters.controller import Controller, ControllerEvent, VirtualClock
from itdose.adapters.paths import read_input_file
from itdose.adapters.program_file import check_keys, parse_program, table_of
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.dosing import SEGMENT_S
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    DeliveryOrder,
    Record,
    TipChange,
    Warn,
)
from itdose.core.errors import DosingError, InvalidInput
from itdose.core.library import Library, SourcedValue, Tag
from itdose.core.program import Program
from itdose.core.state import Device, Phase, Role, TrialOutcome
from itdose.core.units import (
    Dimension,
    parse_amount_ng,
    parse_concentration_ng_per_ml,
    parse_duration_s,
    parse_length_mm,
    parse_percent_bp,
    parse_volume_nl,
    parse_volume_per_length_nl_per_m,
    parse_volume_rate_nl_per_day,
)

__all__ = [
    "SCHEMA",
    "ExpectResult",
    "Expectation",
    "RunResult",
    "Scenario",
    "TimelineItem",
    "load_scenario",
    "parse_scenario",
    "parse_time",
    "run_scenario",
]

SCHEMA = "itdose-scenario/1"
DAY_S = 86_400
C, S, P = Role.CLINICIAN, Role.SERVICE, Role.PATIENT
_STATUS = {"naive": "opioid-naive", "tolerant": "opioid-tolerant"}
_DEFAULT_MAX_RATE_NL_PER_H = 100_000_000
"""The simulated drive's maximum rate when the scenario gives none (100 mL/h: the library has no
maximum programmable rate for any pump; a priming bolus must fit)."""
_SIM_CAPACITY_NL = 10**12
"""The simulated reservoir's capacity: the simulated drive has no withdrawal, so withdrawn
residuals are tracked as an offset (see :class:`_Truth`) and the capacity must not bind."""


# --------------------------------------------------------------------------------------------
# small parsers


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


# --------------------------------------------------------------------------------------------
# the scenario


@dataclass(frozen=True)
class TimelineItem:
    """One action of the timeline at ``at_s``: builds its core commands when it runs."""

    index: int
    at_s: int
    action: str
    role: str
    expect: str
    """``accepted`` (a rejection fails the run) or ``rejected`` (acceptance fails it)."""
    note: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Expectation:
    """One ``[[expect]]`` item (see the schema document)."""

    index: int
    type: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario file."""

    schema: str
    title: str
    description: str
    patient: Mapping[str, Any]
    pump: str
    catheter: str
    trimmed_mm: int
    drug: str
    indication: str
    concentration_ng_per_ml: int
    opioid_status: str | None
    programs: Mapping[str, tuple[Program, tuple[c.Override, ...]]]
    sim_config: sd.SimConfig
    faults: tuple[sd.SimEvent, ...]
    timeline: tuple[TimelineItem, ...]
    expectations: tuple[Expectation, ...]
    end_s: int
    library: Library
    library_overridden: bool
    utc_start_s: int
    max_segment_s: int = SEGMENT_S
    """Longest basal order the controller asks the core for (``[simulation] max_segment``)."""


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


def _library_override(raw: object, library: Library) -> Library:
    """Institution values for missing pump tubing / catheter volumes, marked as test values."""
    t = table_of(raw, "library_override")
    _keys(t, {"test_values", "pumps", "catheters"}, {"test_values"}, "library_override")
    if t["test_values"] is not True:
        raise InvalidInput(
            "library_override.test_values",
            "must be true: scenario library values are test data, never clinical facts",
        )
    note = "TEST VALUE from a scenario file (library_override); not a clinical fact"
    pumps_raw = table_of(t.get("pumps", {}), "library_override.pumps")
    pumps = list(library.pumps)
    for pid, entry_raw in pumps_raw.items():
        where = f"library_override.pumps.{pid}"
        entry = table_of(entry_raw, where)
        _keys(entry, {"tubing_volume"}, {"tubing_volume"}, where)
        idx = next((i for i, p in enumerate(pumps) if p.id == pid), None)
        if idx is None:
            raise InvalidInput(where, "unknown pump", value=pid)
        vol = parse_volume_nl(entry["tubing_volume"], f"{where}.tubing_volume")
        sv = SourcedValue(f"{pid}.tubing_volume", vol, Dimension.VOLUME, "scenario", Tag.D, note)
        pumps[idx] = dataclasses.replace(pumps[idx], tubing_volume=sv)
    cath_raw = table_of(t.get("catheters", {}), "library_override.catheters")
    catheters = list(library.catheters)
    for cid, entry_raw in cath_raw.items():
        where = f"library_override.catheters.{cid}"
        entry = table_of(entry_raw, where)
        _keys(entry, {"volume_per_length"}, {"volume_per_length"}, where)
        idx = next((i for i, k in enumerate(catheters) if k.id == cid), None)
        if idx is None:
            raise InvalidInput(where, "unknown catheter", value=cid)
        vpl = parse_volume_per_length_nl_per_m(
            entry["volume_per_length"], f"{where}.volume_per_length"
        )
        sv = SourcedValue(
            f"{cid}.volume_per_length", vpl, Dimension.VOLUME_PER_LENGTH, "scenario", Tag.D, note
        )
        catheters[idx] = dataclasses.replace(catheters[idx], volume_per_length=sv)
    return dataclasses.replace(library, pumps=tuple(pumps), catheters=tuple(catheters))


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


def _random_faults(raw: object, end_s: int) -> tuple[sd.SimEvent, ...]:
    where = "random_faults"
    t = table_of(raw, where)
    means = {
        "motor_stall_mean",
        "mri_mean",
        "occlusion_mean",
        "device_reset_mean",
        "comm_loss_mean",
        "partial_delivery_mean",
        "garbled_reply_mean",
        "dislodgement_mean",
    }
    _keys(t, {"seed", "start", "comm_loss_max"} | means, {"seed"}, where)
    seed = _int(t, "seed", where, 0, 2**63)
    start = parse_time(t["start"], f"{where}.start") if "start" in t else 0
    kwargs: dict[str, int] = {}
    for key in means:
        if key in t:
            kwargs[key + "_s"] = parse_duration_s(t[key], f"{where}.{key}")
    if "comm_loss_max" in t:
        kwargs["comm_loss_max_s"] = parse_duration_s(t["comm_loss_max"], f"{where}.comm_loss_max")
    rates = sd.FaultRates(**kwargs)
    return sd.random_faults(seed, max(0, end_s - start), rates, start_s=start)


def parse_scenario(data: Mapping[str, Any], library: Library) -> Scenario:
    """A :class:`Scenario` from parsed TOML; :class:`InvalidInput` names the offending field."""
    top = table_of(data, "scenario")
    if "timeline" not in top and "schema" not in top and ("basal" in top or "indication" in top):
        raise InvalidInput(
            "file",
            "this is a program file (it has a basal program and no timeline), not a scenario; "
            "check it with: itdose check-program FILE",
        )
    _keys(top, _TOP, {"schema", "title", "pump", "catheter", "drug", "timeline"}, "scenario")
    schema = top["schema"]
    if schema != SCHEMA:
        raise InvalidInput("schema", "unsupported scenario schema", value=schema, limit=SCHEMA)
    title = _str(top, "title", "scenario")
    description = top.get("description", "")
    if not isinstance(description, str):
        raise InvalidInput("description", "expected a string")
    patient = table_of(top.get("patient", {}), "patient")
    for key, value in patient.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidInput(f"patient.{key}", "expected a string or a whole number")

    overridden = "library_override" in top
    if overridden:
        library = _library_override(top["library_override"], library)

    pump_t = table_of(top["pump"], "pump")
    _keys(
        pump_t,
        {"model", "accuracy_error", "battery_eri", "battery_eos", "min_rate", "max_rate"},
        {"model"},
        "pump",
    )
    pump = _str(pump_t, "model", "pump")
    try:
        model = library.pump(pump)
    except DosingError as exc:
        raise InvalidInput("pump.model", exc.message, value=pump) from None

    cat_t = table_of(top["catheter"], "catheter")
    _keys(cat_t, {"model", "trimmed"}, {"model"}, "catheter")
    catheter = _str(cat_t, "model", "catheter")
    try:
        library.catheter(catheter)
    except DosingError as exc:
        raise InvalidInput("catheter.model", exc.message, value=catheter) from None
    trimmed = parse_length_mm(cat_t["trimmed"], "catheter.trimmed") if "trimmed" in cat_t else 0

    drug_t = table_of(top["drug"], "drug")
    _keys(drug_t, {"name", "indication", "concentration", "opioid_status"}, {"name"}, "drug")
    drug = _str(drug_t, "name", "drug")
    indication = _str(drug_t, "indication", "drug", "pain")
    try:
        library.drug(drug, indication)
    except DosingError as exc:
        raise InvalidInput("drug.name", exc.message, value=f"{drug} ({indication})") from None
    concentration = (
        parse_concentration_ng_per_ml(drug_t["concentration"], "drug.concentration")
        if "concentration" in drug_t
        else 0
    )
    status = None
    if "opioid_status" in drug_t:
        if drug_t["opioid_status"] not in _STATUS:
            raise InvalidInput("drug.opioid_status", "expected 'naive' or 'tolerant'")
        status = _STATUS[drug_t["opioid_status"]]

    sim_t = table_of(top.get("simulation", {}), "simulation")
    _keys(sim_t, {"end", "utc_start", "max_segment"}, set(), "simulation")
    utc_start = _int(sim_t, "utc_start", "simulation", 0, 2**40) if "utc_start" in sim_t else 0
    max_segment = SEGMENT_S
    if "max_segment" in sim_t:
        max_segment = parse_duration_s(sim_t["max_segment"], "simulation.max_segment")
        if not SEGMENT_S <= max_segment <= DAY_S:
            raise InvalidInput(
                "simulation.max_segment",
                "must lie between one hour and one day",
                value=sim_t["max_segment"],
                limit='"1 h" .. "24 h"',
            )

    programs: dict[str, tuple[Program, tuple[c.Override, ...]]] = {}
    for name, raw in table_of(top.get("programs", {}), "programs").items():
        where = f"programs.{name}"
        pt = dict(table_of(raw, where))
        pt.setdefault("pump", pump)
        pt.setdefault("drug", drug)
        pt.setdefault("indication", indication)
        if concentration and "concentration" not in pt:
            pt["concentration"] = drug_t["concentration"]
        if status is not None and "opioid_status" not in pt:
            pt["opioid_status"] = drug_t["opioid_status"]
        try:
            pf = parse_program(pt, utc_start)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}.{exc.field}", exc.message, value=exc.value) from None
        programs[name] = (pf.program, tuple(c.Override(lim, why) for lim, why in pf.overrides))

    timeline: list[TimelineItem] = []
    raw_timeline = top["timeline"]
    if not isinstance(raw_timeline, list) or not raw_timeline:
        raise InvalidInput("timeline", "expected a non-empty list of [[timeline]] tables")
    for i, raw in enumerate(raw_timeline):
        timeline.extend(_timeline_item(raw, i, programs))

    faults: list[sd.SimEvent] = []
    raw_faults = top.get("fault", [])
    if not isinstance(raw_faults, list):
        raise InvalidInput("fault", "expected [[fault]] tables")
    for i, raw in enumerate(raw_faults):
        faults.append(_fault(raw, i))

    last = max(item.at_s for item in timeline)
    end_s = parse_time(sim_t["end"], "simulation.end") if "end" in sim_t else last + DAY_S
    if "random_faults" in top:
        faults.extend(_random_faults(top["random_faults"], end_s))
    faults.sort(key=lambda e: e.at_s)

    eri, eos = sd.MAX_SERVICE_S - sd.ERI_TO_EOS_S, sd.MAX_SERVICE_S
    if "battery_eri" in pump_t:
        eri = parse_time(pump_t["battery_eri"], "pump.battery_eri")
        eos = eri + (model.eri_to_eos.value if model.eri_to_eos else sd.ERI_TO_EOS_S)
    if "battery_eos" in pump_t:
        eos = parse_time(pump_t["battery_eos"], "pump.battery_eos")
        if eos < eri:
            raise InvalidInput(
                "pump.battery_eos", "before battery_eri", value=pump_t["battery_eos"]
            )
    min_rate = 1
    if "min_rate" in pump_t:
        min_rate = -(-parse_volume_rate_nl_per_day(pump_t["min_rate"], "pump.min_rate") // 24)
    elif model.min_rate is not None:
        min_rate = -(-model.min_rate.value // 24)
    max_rate = _DEFAULT_MAX_RATE_NL_PER_H
    if "max_rate" in pump_t:
        max_rate = parse_volume_rate_nl_per_day(pump_t["max_rate"], "pump.max_rate") // 24
        if max_rate < min_rate:
            raise InvalidInput("pump.max_rate", "below the minimum rate")
    ppm = (
        _signed_ppm(pump_t["accuracy_error"], "pump.accuracy_error")
        if ("accuracy_error" in pump_t)
        else 0
    )
    config = sd.SimConfig(
        reservoir_capacity_nl=_SIM_CAPACITY_NL,
        reservoir_nl=0,
        accuracy_error_ppm=ppm,
        battery_eri_at_s=eri,
        battery_eos_at_s=eos,
        min_rate_nl_per_h=min_rate,
        max_rate_nl_per_h=max_rate,
    )

    expectations: list[Expectation] = []
    raw_expect = top.get("expect", [])
    if not isinstance(raw_expect, list):
        raise InvalidInput("expect", "expected [[expect]] tables")
    for i, raw in enumerate(raw_expect):
        expectations.append(_expectation(raw, i))

    return Scenario(
        schema=SCHEMA,
        title=title,
        description=description,
        patient=patient,
        pump=pump,
        catheter=catheter,
        trimmed_mm=trimmed,
        drug=drug,
        indication=indication,
        concentration_ng_per_ml=concentration,
        opioid_status=status,
        programs=programs,
        sim_config=config,
        faults=tuple(faults),
        timeline=tuple(sorted(timeline, key=lambda x: (x.at_s, x.index))),
        expectations=tuple(expectations),
        end_s=end_s,
        library=library,
        library_overridden=overridden,
        utc_start_s=utc_start,
        max_segment_s=max_segment,
    )


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


def load_scenario(path: str | Path, library: Library) -> Scenario:
    """Read and parse a scenario file; unreadable or malformed files raise InvalidInput."""
    raw = read_input_file(path, "file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("file", "is not UTF-8 text", value=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("file", f"is not valid TOML: {exc}", value=str(path)) from None
    return parse_scenario(data, library)


# --------------------------------------------------------------------------------------------
# running


@dataclass
class DayFigures:
    """Per-day figures (day ``day`` is ``[day * 86400, (day + 1) * 86400)``)."""

    day: int
    delivered_ng: int = 0
    reservoir_nl: int | None = None
    boluses_granted: int = 0
    boluses_denied: int = 0
    max_window_ng: int = 0


@dataclass(frozen=True)
class ExpectResult:
    """The verdict on one expectation (or on one timeline item's ``expect``).

    ``detail`` is what the run showed, ``expected`` what the scenario asked for. An expectation
    judged after the end of a shortened run (``--until``) is not ``reached``: neither held nor
    failed (``ok`` is False, and :attr:`RunResult.ok` ignores it).
    """

    source: str
    type: str
    ok: bool
    detail: str
    expected: str = ""
    reached: bool = True

    @property
    def status(self) -> str:
        """``ok``, ``FAIL`` or ``not reached``."""
        if not self.reached:
            return "not reached"
        return "ok" if self.ok else "FAIL"


@dataclass
class RunResult:
    """Everything a run produced for the timeline, the JSON document and the plot."""

    scenario: Scenario
    device: Device
    events: list[dict[str, Any]] = field(default_factory=list)
    days: dict[int, DayFigures] = field(default_factory=dict)
    samples: list[tuple[int, int, int]] = field(default_factory=list)
    """(t_s, tracked reservoir nL, rolling 24 h delivered ng), thinned."""
    boluses: list[tuple[int, bool, tuple[str, ...]]] = field(default_factory=list)
    alarm_spans: list[tuple[str, str, int, int | None]] = field(default_factory=list)
    """(alarm kind, priority, raised at, cleared at or None)."""
    phases: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    probes: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    """t_s -> (lifetime delivered ng, reservoir nL, phase) at that instant."""
    results: list[ExpectResult] = field(default_factory=list)
    hard_max_ng: int = 0
    steps: int = 0
    wakeups: int = 0
    drive_events: int = 0

    @property
    def ok(self) -> bool:
        """No expectation that was reached failed."""
        return all(r.ok or not r.reached for r in self.results)


_ROUTINE = frozenset({c.Tick.name, c.DriveReport.name})
_QUIET_RECORDS = frozenset({*c.COMMANDS, "basal_withheld"})
"""Audit records not shown unless verbose: those repeating an accepted command (shown as the
command event) and the routine basal withholding while the reservoir runs low."""


class _Recorder:
    """The controller's observer: keeps notable events, daily figures and plot samples."""

    def __init__(self, result: RunResult, sample_s: int, verbose: bool) -> None:
        self.r = result
        self.sample_s = sample_s
        self.verbose = verbose
        self.last_sample = -sample_s
        self.delivered = 0
        self.phase = ""
        self.open_alarms: dict[str, int] = {}
        self.last_alarms: tuple[object, ...] = ()
        self.prev: tuple[int, Device] | None = None
        """Time and device of the latest event: nothing changes until the next one."""

    def __call__(self, e: ControllerEvent, d: Device) -> None:
        r = self.r
        t = e.t_s
        if self.prev is not None and t - self.prev[0] > self.sample_s:
            # a quiet stretch: the rolling 24 h window still ages, so sample it on the way
            t0, d0 = self.prev
            for ts in range(max(t0, self.last_sample) + self.sample_s, t, self.sample_s):
                self._sample(ts, d0)
        self.prev = (t, d)
        if d.delivered_ng != self.delivered:
            day = self._day(t)
            day.delivered_ng += d.delivered_ng - self.delivered
            self.delivered = d.delivered_ng
        if d.phase.value != self.phase:
            self.phase = d.phase.value
            r.phases.append((t, self.phase))
        if d.alarms is not self.last_alarms:
            self._alarms(t, d)
        if e.kind == "step":
            if t - self.last_sample >= self.sample_s:
                self._sample(t, d)
            return
        notable = True
        if e.kind == "command" and e.command is not None and e.command.name in _ROUTINE:
            notable = self.verbose
        elif e.kind == "effect":
            eff = e.effect
            if isinstance(eff, DeliveryOrder):
                notable = self.verbose or eff.kind != "basal"
            elif isinstance(eff, BolusDecision):
                r.boluses.append((t, eff.granted, eff.reasons))
                day = self._day(t)
                if eff.granted:
                    day.boluses_granted += 1
                else:
                    day.boluses_denied += 1
            elif isinstance(eff, Warn):
                r.warnings.append((t, eff.code))
            elif isinstance(eff, TipChange):
                r.warnings.append((t, "tip_change"))
            elif isinstance(eff, Record):
                notable = self.verbose or eff.event not in _QUIET_RECORDS
            elif e.text in ("stop", "cancel"):
                notable = self.verbose or e.text == "stop"
            elif not isinstance(eff, Annunciate):
                notable = self.verbose
        elif e.kind == "rejected" and e.command is not None and e.command.role is S:
            notable = True
        if notable:
            r.events.append(self._event(e, d))
            self._sample(t, d)

    def _day(self, t: int) -> DayFigures:
        day = self.r.days.get(t // DAY_S)
        if day is None:
            day = self.r.days[t // DAY_S] = DayFigures(t // DAY_S)
        return day

    def _sample(self, t: int, d: Device) -> None:
        self.last_sample = t
        res = d.reservoir.volume_nl if d.reservoir is not None else 0
        window = d.ledger.window_total_ng(t) if d.clock_s is not None else 0
        self.r.samples.append((t, res, window))
        day = self._day(t)
        day.reservoir_nl = res
        day.max_window_ng = max(day.max_window_ng, window)

    def _alarms(self, t: int, d: Device) -> None:
        self.last_alarms = d.alarms
        now = {a.kind.value: a for a in d.alarms}
        for kind, a in now.items():
            if kind not in self.open_alarms:
                self.open_alarms[kind] = len(self.r.alarm_spans)
                self.r.alarm_spans.append((kind, a.priority.name.lower(), t, None))
        for kind in list(self.open_alarms):
            if kind not in now:
                i = self.open_alarms.pop(kind)
                k, prio, start, _ = self.r.alarm_spans[i]
                self.r.alarm_spans[i] = (k, prio, start, t)

    def _event(self, e: ControllerEvent, d: Device) -> dict[str, Any]:
        ev: dict[str, Any] = {"t_s": e.t_s, "kind": e.kind, "text": e.text}
        if e.command is not None:
            ev["command"] = e.command.name
            ev["role"] = e.command.role.value
            if e.outcome is not None and e.outcome.effects:
                rec = e.outcome.effects[0]
                if isinstance(rec, Record) and rec.detail:
                    ev["detail"] = {"record": rec.detail[:160]}
        if e.effect is not None:
            ev["effect"] = type(e.effect).__name__
            ev["detail"] = _effect_detail(e.effect)
        if e.error is not None:
            ev["error"] = str(e.error)
        ev["phase"] = d.phase.value
        ev["alarms"] = [a.kind.value for a in d.alarms]
        ev["reservoir_nl"] = d.reservoir.volume_nl if d.reservoir is not None else None
        return ev


def _effect_detail(eff: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(eff):  # type: ignore[arg-type]
        v = getattr(eff, f.name)
        if hasattr(v, "value") and not isinstance(v, int):
            v = v.value
        if isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


class _Truth:
    """The simulated reservoir as the clinician sees it at a refill: withdrawals and refills act
    on the :class:`~itdose.adapters.simdrive.SimulatedDrive`'s physical reservoir."""

    def __init__(self, sim: sd.SimulatedDrive) -> None:
        self.sim = sim

    def residual(self) -> int:
        return self.sim.truth().reservoir_nl

    def withdraw(self, requested: int | None) -> int:
        """Withdraw ``requested`` (everything with ``None``); the clinician records the volume
        asked for, which may exceed what was there (a reconciliation finding)."""
        taken = self.sim.withdraw(requested)
        return requested if requested is not None else taken

    def add(self, volume: int) -> None:
        self.sim.refill(volume)


def _commands(
    item: TimelineItem, sc: Scenario, truth: _Truth, ctl: Controller
) -> list[Callable[[], c.Command]]:
    """The core commands an action issues (built lazily: a withdrawal reads the truth when it
    runs)."""
    p = item.params
    ov = p.get("overrides", ())

    def prog(name: str) -> tuple[Program, tuple[c.Override, ...]]:
        program, program_ov = sc.programs[name]
        return program, program_ov + ov

    a = item.action
    if a == "screening":
        return [
            lambda: c.RecordScreening(
                C, p.get("candidate", True), p.get("baseline_pain", 0), p.get("note", "")
            )
        ]
    if a == "start_trial":
        return [
            lambda: c.StartTrial(
                C,
                sc.drug,
                sc.indication,
                p.get("plan", "trial"),
                p.get("opioid_status", sc.opioid_status),
                ov,
            )
        ]
    if a == "trial_dose":
        return [lambda: c.RecordTrialDose(C, p["dose"], ov)]
    if a == "pain_score":
        return [lambda: c.RecordPainScore(C, p["score"])]
    if a == "screening_response":
        return [lambda: c.RecordScreeningResponse(C, p["positive"])]
    if a == "conclude_trial":
        return [lambda: c.ConcludeTrial(C, p.get("outcome"), p.get("reason", ""))]
    if a == "implant":
        return [lambda: c.Implant(C, sc.pump, sc.catheter, sc.trimmed_mm, ov)]
    if a == "fill":
        return [
            lambda: c.Fill(C, p["volume"], p.get("concentration", sc.concentration_ng_per_ml), ov)
        ]
    if a == "set_program":
        program, pov = prog(p["program"])
        return [
            lambda: c.SetProgram(
                C, program, pov, p.get("confirm_withdrawal_risk", False), sc.utc_start_s
            )
        ]
    if a == "prime":
        return [lambda: c.Prime(C, p.get("duration", 480))]
    if a == "start":
        return [lambda: c.StartDosing(C, p.get("restart_reason", ""))]
    if a == "bolus":
        return [lambda: c.RequestBolus(P)]
    if a == "clinician_bolus":
        return [lambda: c.ClinicianBolus(C, p["dose"], p["duration"])]
    if a == "suspend":
        return [
            lambda: c.Suspend(
                C, p.get("reason", "clinician"), p.get("confirm_withdrawal_risk", False)
            )
        ]
    if a == "resume":
        return [lambda: c.Resume(C, p.get("reason", "clinician"), p.get("restart_reason", ""))]
    if a == "clear_alarm":
        return [lambda: c.ClearAlarm(C, p["alarm"], p.get("reason", "cause resolved"))]
    if a == "silence_alarm":
        return [lambda: c.SilenceAlarm(C, p["alarm"], p["duration"])]
    if a == "abort_refill":
        return [lambda: c.AbortRefill(C, p.get("reason", "abandoned"))]
    if a == "begin_mri":
        return [lambda: c.BeginMri(C, p.get("emergency", False), p.get("reason", ""))]
    if a == "end_mri":
        return [lambda: c.EndMri(C)]
    if a == "confirm_mri":
        return [lambda: c.ConfirmPostMri(C, p.get("reason", "recovery confirmed"))]
    if a == "explant":
        return [
            lambda: c.Explant(
                C, p.get("reason", "explant"), p.get("confirm_withdrawal_risk", False)
            )
        ]
    if a == "empty_reservoir":
        return [lambda: c.EmptyReservoir(C, truth.withdraw(p.get("withdrawn")))]
    begin: list[Callable[[], c.Command]] = [lambda: c.BeginRefill(C)]
    withdraw: list[Callable[[], c.Command]] = [
        lambda: c.RecordWithdrawal(C, truth.withdraw(p.get("withdrawn")))
    ]

    def complete() -> c.Command:
        program = prog(p["program"]) if "program" in p else None
        res = ctl.device.reservoir
        current = res.concentration_ng_per_ml if res is not None else sc.concentration_ng_per_ml
        return c.CompleteRefill(
            C,
            p["volume"],
            p.get("concentration", current),
            p.get("drug"),
            program[0] if program else None,
            p.get("finding_reason", ""),
            (program[1] if program else ov),
            sc.utc_start_s if program else None,
            p.get("confirm_withdrawal_risk", False),
        )

    if a == "begin_refill":
        return begin
    if a == "record_withdrawal":
        return withdraw
    if a == "complete_refill":
        return [complete]
    return [*begin, *withdraw, complete]  # refill


def run_scenario(
    sc: Scenario,
    *,
    until_s: int | None = None,
    verbose: bool = False,
    progress: Callable[[int, int], None] | None = None,
    max_segment_s: int | None = None,
    drive_factory: Callable[[sd.SimConfig, tuple[sd.SimEvent, ...]], sd.SimulatedDrive]
    | None = None,
    observer: Callable[[ControllerEvent, Device], None] | None = None,
) -> RunResult:
    """Run ``sc`` on a simulated drive up to its end (or ``until_s``) and check it;
    ``max_segment_s`` overrides the scenario's longest basal order. ``drive_factory`` builds the
    simulated drive (e.g. one that records its true delivery), ``observer`` also receives every
    controller event (after the timeline recorder)."""
    end = sc.end_s if until_s is None else until_s
    make = sd.SimulatedDrive if drive_factory is None else drive_factory
    sim = make(sc.sim_config, sc.faults)
    truth = _Truth(sim)
    device = Device()
    result = RunResult(sc, device)
    result.hard_max_ng = sc.library.drug(sc.drug, sc.indication).max_daily.value
    recorder = _Recorder(result, max(600, end // 4000), verbose)

    def observe(e: ControllerEvent, d: Device) -> None:
        recorder(e, d)
        if observer is not None:
            observer(e, d)

    ctl = Controller(
        sim,
        sc.library,
        VirtualClock(sim),
        device,
        observer=recorder if observer is None else observe,
        max_segment_s=sc.max_segment_s if max_segment_s is None else max_segment_s,
    )

    for f in sc.faults:
        ctl.wake_at(f.at_s)
    for t in (sc.sim_config.battery_eri_at_s, sc.sim_config.battery_eos_at_s):
        if t is not None:
            ctl.wake_at(t)
    probe_times: set[int] = set()
    for ex in sc.expectations:
        for key in ("from", "to", "at"):
            if key in ex.params:
                probe_times.add(ex.params[key])
    timeline = [x for x in sc.timeline if x.at_s <= end]
    times = sorted({x.at_s for x in timeline} | {t for t in probe_times if t <= end} | {end})
    by_time: dict[int, list[TimelineItem]] = {}
    for x in timeline:
        by_time.setdefault(x.at_s, []).append(x)
    for t in times:
        ctl.run_until(t)
        if progress is not None:
            progress(t, end)
        if t in probe_times:
            d = ctl.device
            res = d.reservoir.volume_nl if d.reservoir is not None else 0
            result.probes[t] = (d.delivered_ng, res, d.phase.value)
        for item in by_time.get(t, []):
            _run_item(ctl, item, sc, truth, result)
        if by_time.get(t):
            ctl.service()
    result.device = ctl.device
    result.steps = ctl.stats.steps
    result.wakeups = ctl.stats.wakeups
    result.drive_events = sim.events_processed
    recorder._sample(end, ctl.device)
    result.results.extend(check_expectations(result, end, None if until_s is None else sc.end_s))
    return result


def _run_item(
    ctl: Controller, item: TimelineItem, sc: Scenario, truth: _Truth, result: RunResult
) -> None:
    error: DosingError | None = None
    for build in _commands(item, sc, truth, ctl):
        command = build()
        try:
            ctl.submit(command)
        except DosingError as exc:
            error = exc
            break
        if isinstance(command, c.Fill | c.CompleteRefill):
            truth.add(command.volume_nl if isinstance(command, c.Fill) else command.added_nl)
    where = f"timeline[{item.index}] {item.action} at t={item.at_s}"
    if error is not None:
        result.rejected.append((item.at_s, item.action, str(error)))
        if item.expect == "accepted":
            result.results.append(
                ExpectResult(where, "accepted", False, f"rejected: {error}", "accepted")
            )
        else:
            result.results.append(ExpectResult(where, "rejected", True, str(error), "rejected"))
    elif item.expect == "rejected":
        result.results.append(ExpectResult(where, "rejected", False, "accepted", "rejected"))


def _count_ok(n: int, p: Mapping[str, Any]) -> bool:
    return n >= p.get("min_count", 1) and ("max_count" not in p or n <= p["max_count"])


def _counts(p: Mapping[str, Any]) -> str:
    if p.get("max_count") == p.get("min_count", 1):
        return f"exactly {p['max_count']}"
    text = f"at least {p.get('min_count', 1)}"
    return text + (f" and at most {p['max_count']}" if "max_count" in p else "")


def _range(p: Mapping[str, Any], unit: str) -> str:
    text = f"at least {p.get('min', 0)} {unit}"
    return text + (f" and at most {p['max']} {unit}" if "max" in p else "")


def expected_text(ex: Expectation, end: int) -> str:
    """What expectation ``ex`` asks for, in words (``end``: the end of the run)."""
    p = ex.params
    if ex.type == "phase":
        if p.get("at_end", False):
            return f"final phase {p['phase'].value}"
        return f"phase {p['phase'].value} entered by t={p.get('by', end)}"
    if ex.type == "alarm":
        window = f"[{p.get('after', 0)}, {p.get('before', end)}]"
        raised = p.get("raised", True)
        return f"alarm {p['alarm'].value} {'raised' if raised else 'not raised'} in {window}"
    if ex.type == "bolus_denied":
        why = f" for {p['reason']}" if "reason" in p else ""
        return f"{_counts(p)} boluses denied{why}"
    if ex.type == "bolus_granted":
        return f"{_counts(p)} boluses granted"
    if ex.type == "delivered":
        return f"{_range(p, 'ng')} delivered in [{p.get('from', 0)}, {p.get('to', end)}]"
    if ex.type == "warning":
        return f"{_counts(p)} x {p['code']}"
    if ex.type == "rejected":
        return f"{_counts(p)} rejected {p['action']}"
    return f"reservoir {_range(p, 'nL')} at t={p.get('at', end)}"


def _horizon(ex: Expectation, scenario_end: int) -> int:
    """The latest time expectation ``ex`` needs to see (its window's end, else the scenario's
    end: a count or a final phase is about the whole run)."""
    p = ex.params
    times: list[int] = [p[k] for k in ("by", "after", "before", "from", "to", "at") if k in p]
    upper = any(k in p for k in ("by", "before", "to", "at")) and not p.get("at_end", False)
    return max(times) if upper and times else max([scenario_end, *times])


def check_expectations(
    r: RunResult, end: int, scenario_end: int | None = None
) -> list[ExpectResult]:
    """Check every ``[[expect]]`` item against a run that ended at ``end``.

    Given ``scenario_end`` (the scenario's own end) after ``end``, an expectation whose window
    reaches past ``end`` (or that concerns the whole run) is reported as not reached.
    """
    out: list[ExpectResult] = []
    for ex in r.scenario.expectations:
        p = ex.params
        src = f"expect[{ex.index}]"
        expected = expected_text(ex, end if scenario_end is None else scenario_end)
        if scenario_end is not None and _horizon(ex, scenario_end) > end:
            out.append(
                ExpectResult(
                    src, ex.type, False, f"the run stopped at t={end}", expected, reached=False
                )
            )
            continue
        if ex.type == "phase":
            target = p["phase"].value
            if p.get("at_end", False):
                ok = r.device.phase.value == target
                detail = f"final phase {r.device.phase.value}"
            else:
                by = p.get("by", end)
                hits = [t for t, ph in r.phases if ph == target and t <= by]
                ok = bool(hits)
                detail = f"entered at t={hits[0]}" if hits else f"never entered by t={by}"
        elif ex.type == "alarm":
            kind = p["alarm"].value
            lo, hi = p.get("after", 0), p.get("before", end)
            spans = [s for s in r.alarm_spans if s[0] == kind and lo <= s[2] <= hi]
            wanted = p.get("raised", True)
            ok = bool(spans) == wanted
            detail = f"raised at t={spans[0][2]}" if spans else f"not raised in [{lo}, {hi}]"
        elif ex.type == "bolus_denied":
            n = sum(
                1
                for _, granted, reasons in r.boluses
                if not granted and ("reason" not in p or p["reason"] in reasons)
            )
            ok, detail = (
                _count_ok(n, p),
                f"{n} denied" + (f" for {p['reason']}" if "reason" in p else ""),
            )
        elif ex.type == "bolus_granted":
            n = sum(1 for _, granted, _ in r.boluses if granted)
            ok, detail = _count_ok(n, p), f"{n} granted"
        elif ex.type == "delivered":
            lo_t, hi_t = p.get("from", 0), p.get("to", end)
            start = r.probes.get(lo_t, (0, 0, ""))[0] if lo_t else 0
            stop = r.probes[hi_t][0] if hi_t in r.probes else r.device.delivered_ng
            amount = stop - start
            ok = amount >= p.get("min", 0) and ("max" not in p or amount <= p["max"])
            detail = f"{amount} ng delivered in [{lo_t}, {hi_t}]"
        elif ex.type == "warning":
            n = sum(1 for _, code in r.warnings if code == p["code"])
            ok, detail = _count_ok(n, p), f"{n} x {p['code']}"
        elif ex.type == "rejected":
            n = sum(1 for _, action, _ in r.rejected if action == p["action"])
            ok, detail = _count_ok(n, p), f"{n} rejected {p['action']}"
        else:  # reservoir
            t = p.get("at", end)
            vol = (
                r.probes[t][1]
                if t in r.probes
                else (r.device.reservoir.volume_nl if r.device.reservoir else 0)
            )
            ok = vol >= p.get("min", 0) and ("max" not in p or vol <= p["max"])
            detail = f"reservoir {vol} nL at t={t}"
        out.append(ExpectResult(src, ex.type, ok, detail, expected))
    return out
