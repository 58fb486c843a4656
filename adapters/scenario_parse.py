"""Scenario parsing: a TOML scenario file (schema ``itdose-scenario/1``) into a :class:`Scenario`.

All validation happens here, before anything runs; the file's schema is documented in
``docs/scenario-schema.md``. Files are read by the TOML file reader shared with library and
program files (:func:`itdose.adapters.toml_files.read_toml_file`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.adapters.program_file import parse_program, table_of
from itdose.adapters.scenario_fields import (
    _STATUS,
    _TOP,
    _bool,
    _expectation,
    _fault,
    _int,
    _keys,
    _signed_ppm,
    _str,
    _timeline_item,
    parse_time,
)
from itdose.adapters.scenario_model import SCHEMA, Expectation, Scenario, TimelineItem
from itdose.adapters.toml_files import read_toml_file
from itdose.core import commands as c
from itdose.core.arith import ceil_div
from itdose.core.dosing import SEGMENT_S
from itdose.core.errors import DosingError, InvalidInput
from itdose.core.library import Library, SourcedValue, Tag
from itdose.core.program import Program
from itdose.core.units import (
    DAY_S,
    Dimension,
    parse_concentration_ng_per_ml,
    parse_duration_s,
    parse_length_mm,
    parse_volume_nl,
    parse_volume_per_length_nl_per_m,
    parse_volume_rate_nl_per_day,
)

_DEFAULT_MAX_RATE_NL_PER_H = 100_000_000
"""The simulated drive's maximum rate when the scenario gives none (100 mL/h: the library has no
maximum programmable rate for any pump; a priming bolus must fit)."""
_SIM_CAPACITY_NL = 10**12
"""The simulated reservoir's capacity: the simulated drive has no withdrawal, so withdrawn
residuals are tracked as an offset (see ``scenario_run._Truth``) and the capacity must not
bind."""


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
    _keys(
        sim_t,
        {"end", "utc_start", "max_segment", "poll", "drive_wakeups", "segment_backoff"},
        set(),
        "simulation",
    )
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
    poll = SEGMENT_S
    if "poll" in sim_t:
        poll = parse_duration_s(sim_t["poll"], "simulation.poll")
        if not 60 <= poll <= DAY_S:
            raise InvalidInput(
                "simulation.poll",
                "must lie between one minute and one day",
                value=sim_t["poll"],
                limit='"1 min" .. "24 h"',
            )
    drive_wakeups = _bool(sim_t, "drive_wakeups", "simulation", False)
    segment_backoff = _bool(sim_t, "segment_backoff", "simulation", False)

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
        min_rate = ceil_div(parse_volume_rate_nl_per_day(pump_t["min_rate"], "pump.min_rate"), 24)
    elif model.min_rate is not None:
        min_rate = ceil_div(model.min_rate.value, 24)
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
        poll_s=poll,
        drive_wakeups=drive_wakeups,
        segment_backoff=segment_backoff,
    )


def load_scenario(path: str | Path, library: Library) -> Scenario:
    """Read and parse a scenario file; unreadable or malformed files raise InvalidInput."""
    return parse_scenario(read_toml_file(path), library)
