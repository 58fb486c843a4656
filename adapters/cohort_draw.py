"""Cohort files (TOML, schema ``itdose-cohort/1``): how virtual patients are drawn.

A cohort file (docs/cohort-schema.md) describes distributions; :func:`draw_patient` turns
``(cohort, patient index, horizon)`` into one scenario document (the ``itdose-scenario/1`` format
of docs/scenario-schema.md, as a plain dict) that :func:`itdose.adapters.scenario.parse_scenario`
accepts and :func:`to_toml` writes out as a replayable scenario file. Every patient depends only on
the cohort seed and its index: each aspect (therapy, pump, boluses, refills, faults, clinic) has its
own random stream, ``random.Random`` seeded from SHA-256 of ``(seed, index, stream name)``, so
changing how one aspect is drawn leaves the others unchanged. Nothing here decides dosing.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.adapters.paths import read_input_file
from itdose.adapters.program_file import check_keys
from itdose.core.arith import ceil_div
from itdose.core.errors import InvalidInput
from itdose.core.library import Library
from itdose.core.units import (
    DAY_S,
    NL_PER_ML,
    parse_concentration_ng_per_ml,
    parse_duration_s,
    parse_length_mm,
    parse_percent_bp,
)

__all__ = [
    "SCHEMA",
    "Cohort",
    "Therapy",
    "draw_patient",
    "load_cohort",
    "parse_cohort",
    "stream",
    "to_toml",
]

SCHEMA = "itdose-cohort/1"
HOUR_S = 3600
IMPLANT_S = 7 * DAY_S + 8 * HOUR_S
"""Implant on day 7 at 08:00, after the trial on day 0 (as in the example scenarios)."""
START_S = IMPLANT_S + 90 * 60
"""Dosing starts at day 7 09:30."""

_FAULT_KINDS = (
    "motor_stall",
    "occlusion",
    "device_reset",
    "comm_loss",
    "partial_delivery",
    "garbled_reply",
)
# The restart reason of every resume that answers a HIGH alarm (R-LIM-10 of docs/dosing-rules.md:
# a resume after more than 24 h without delivery needs one; the core takes it on a shorter stop
# without effect).
_REASSESSED = "cohort: patient reassessed"
_HIGH_ALARMS = ("motor_stall", "occlusion", "drive_fault", "delivery_deviation")


def stream(seed: int, index: int, name: str) -> random.Random:
    """The independent random stream ``name`` of patient ``index`` in a cohort seeded ``seed``."""
    digest = hashlib.sha256(f"itdose-cohort:{seed}:{index}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


@dataclass(frozen=True)
class Therapy:
    """One ``[[therapy]]`` table: a drug and indication and how its programs are drawn."""

    weight: int
    drug: str
    indication: str
    opioid_status: str | None
    concentrations: tuple[int, ...]
    dose_bp: tuple[int, int]
    """Daily dose drawn in this range of the hard daily maximum (basis points)."""
    near_limit_bp: int
    """Share of patients (basis points) whose dose is drawn in the top 5 % below the hard max."""
    flex_bp: int
    patient_bolus: bool


@dataclass(frozen=True)
class Cohort:
    """A parsed cohort file."""

    title: str
    seed: int
    max_segment_s: int
    therapies: tuple[Therapy, ...]
    pumps: tuple[tuple[int, str, str, tuple[int, int]], ...]
    """(weight, pump id, catheter id, (trim low, trim high) in mm)."""
    bolus: Mapping[str, Any]
    refill: Mapping[str, Any]
    faults: sd.FaultRates
    response_s: tuple[int, int]
    library: Library
    titration: Mapping[str, Any] | None = None
    """``[titration]``: ``interval`` (s range), ``step`` (bp range), ``increase`` (bp share)."""
    mri: Mapping[str, Any] | None = None
    """``[mri]``: ``mean`` (s), ``emergency`` (bp share), ``scan`` (s range)."""
    poll_s: int = HOUR_S
    """The controller's longest wait between drive polls while a command runs."""
    restarts: Mapping[str, Any] | None = None
    """``[restarts]``: ``mean`` (s), ``downtime`` (s range), ``clock_back`` (bp share, s range),
    ``clock_fixed_after`` (s range), ``after_bolus`` (bp share)."""


def _range(raw: object, where: str, parse: Any) -> tuple[int, int]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise InvalidInput(where, "expected a list of two values [low, high]", value=raw)
    lo, hi = (parse(v, where) for v in raw)
    if lo > hi:
        raise InvalidInput(where, "low is above high", value=raw)
    return lo, hi


def _q(parse: Any) -> Any:
    def p(v: object, where: str) -> int:
        out: int = parse(v, where)
        return out

    return p


def _count(v: object, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 10**6:
        raise InvalidInput(where, "expected a whole number 0 to 1000000", value=v)
    return v


_pct, _dur, _conc, _len = (
    _q(parse_percent_bp),
    _q(parse_duration_s),
    _q(parse_concentration_ng_per_ml),
    _q(parse_length_mm),
)


def _share(t: Mapping[str, Any], key: str, where: str, default: int = 0) -> int:
    if key not in t:
        return default
    bp: int = _pct(t[key], f"{where}.{key}")
    if not 0 <= bp <= 10_000:
        raise InvalidInput(f"{where}.{key}", "a share must be 0 % to 100 %", value=t[key])
    return bp


def _table(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput(where, "expected a table", value=type(raw).__name__)
    return raw


def parse_cohort(data: Mapping[str, Any], library: Library) -> Cohort:
    """Validate a cohort document; every defect is an :class:`InvalidInput` naming the field."""
    check_keys(
        data,
        {
            "schema",
            "title",
            "seed",
            "max_segment",
            "poll",
            "therapy",
            "pump",
            "bolus",
            "refill",
            "faults",
            "titration",
            "mri",
            "restarts",
        },
        {"schema", "title", "seed", "therapy", "pump"},
        "cohort.",
    )
    if data["schema"] != SCHEMA:
        raise InvalidInput("schema", f'expected "{SCHEMA}"', value=data["schema"])
    title = data["title"]
    if not isinstance(title, str):
        raise InvalidInput("title", "expected a string", value=title)
    seed = data["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput("seed", "expected a non-negative integer", value=seed)
    max_segment = _dur(data.get("max_segment", "1 h"), "max_segment")
    if not HOUR_S <= max_segment <= DAY_S:
        raise InvalidInput("max_segment", "1 h to 24 h", value=data.get("max_segment"))
    poll = _dur(data.get("poll", "1 h"), "poll")
    if not 60 <= poll <= DAY_S:
        raise InvalidInput("poll", "1 min to 24 h", value=data.get("poll"))
    therapies = []
    raw_t = data["therapy"]
    if not isinstance(raw_t, list) or not raw_t:
        raise InvalidInput("therapy", "expected at least one [[therapy]] table", value=raw_t)
    for i, raw in enumerate(raw_t):
        w = f"therapy[{i}]"
        t = _table(raw, w)
        check_keys(
            t,
            {
                "weight",
                "drug",
                "indication",
                "opioid_status",
                "concentrations",
                "dose",
                "near_limit_share",
                "flex_share",
                "patient_bolus",
            },
            {"drug", "indication", "concentrations", "dose"},
            f"{w}.",
        )
        try:
            library.drug(t["drug"], t["indication"])
        except Exception as e:
            raise InvalidInput(f"{w}.drug", str(e), value=t["drug"]) from None
        concs = t["concentrations"]
        if not isinstance(concs, list) or not concs:
            raise InvalidInput(f"{w}.concentrations", "expected a non-empty list", value=concs)
        status = t.get("opioid_status")
        if status not in (None, "naive", "tolerant"):
            raise InvalidInput(f"{w}.opioid_status", 'expected "naive" or "tolerant"', value=status)
        dose = _range(t["dose"], f"{w}.dose", _pct)
        if dose[0] <= 0 or dose[1] > 10_000:
            raise InvalidInput(
                f"{w}.dose",
                "a share of the hard maximum above 0 % and at most 100 %",
                value=t["dose"],
            )
        pb = t.get("patient_bolus", False)
        if not isinstance(pb, bool):
            raise InvalidInput(f"{w}.patient_bolus", "expected true or false", value=pb)
        therapies.append(
            Therapy(
                _count(t.get("weight", 1), f"{w}.weight"),
                t["drug"],
                t["indication"],
                status,
                tuple(_conc(c, f"{w}.concentrations[{j}]") for j, c in enumerate(concs)),
                dose,
                _share(t, "near_limit_share", w),
                _share(t, "flex_share", w),
                pb,
            )
        )
    pumps = []
    raw_p = data["pump"]
    if not isinstance(raw_p, list) or not raw_p:
        raise InvalidInput("pump", "expected at least one [[pump]] table", value=raw_p)
    for i, raw in enumerate(raw_p):
        w = f"pump[{i}]"
        t = _table(raw, w)
        check_keys(t, {"weight", "model", "catheter", "trim"}, {"model", "catheter"}, f"{w}.")
        try:
            library.pump(t["model"])
            library.catheter(t["catheter"])
        except Exception as e:
            raise InvalidInput(f"{w}.model", str(e), value=t["model"]) from None
        trim = _range(t.get("trim", ["0 cm", "0 cm"]), f"{w}.trim", _len)
        pumps.append((_count(t.get("weight", 1), f"{w}.weight"), t["model"], t["catheter"], trim))
    bolus = _table(data.get("bolus", {}), "bolus")
    check_keys(
        bolus,
        {"dose", "duration", "lockout", "max_per_24h", "requests_per_day", "burst_share"},
        set(),
        "bolus.",
    )
    b = {
        "dose": _range(bolus.get("dose", ["1 %", "2 %"]), "bolus.dose", _pct),
        "duration": _dur(bolus.get("duration", "10 min"), "bolus.duration"),
        "lockout": _range(bolus.get("lockout", ["1 h", "4 h"]), "bolus.lockout", _dur),
        "max_per_24h": _range(bolus.get("max_per_24h", [2, 6]), "bolus.max_per_24h", _count),
        "requests_per_day": _range(
            bolus.get("requests_per_day", [0, 6]), "bolus.requests_per_day", _count
        ),
        "burst": _share(bolus, "burst_share", "bolus"),
    }
    refill = _table(data.get("refill", {}), "refill")
    check_keys(
        refill,
        {"reservoir_use", "max_interval", "repeat_share", "change_share", "flush_share"},
        set(),
        "refill.",
    )
    r = {
        "use": _range(refill.get("reservoir_use", ["60 %", "95 %"]), "refill.reservoir_use", _pct),
        "max_interval": _dur(refill.get("max_interval", "90 days"), "refill.max_interval"),
        "repeat": _share(refill, "repeat_share", "refill"),
        "change": _share(refill, "change_share", "refill"),
        "flush": _share(refill, "flush_share", "refill"),
    }
    faults = _table(data.get("faults", {}), "faults")
    check_keys(
        faults,
        {f"{k}_mean" for k in _FAULT_KINDS} | {"comm_loss_max", "response"},
        set(),
        "faults.",
    )
    means = {
        k: (_dur(faults[f"{k}_mean"], f"faults.{k}_mean") if f"{k}_mean" in faults else None)
        for k in _FAULT_KINDS
    }
    rates = sd.FaultRates(
        motor_stall_mean_s=means["motor_stall"],
        occlusion_mean_s=means["occlusion"],
        device_reset_mean_s=means["device_reset"],
        comm_loss_mean_s=means["comm_loss"],
        comm_loss_max_s=_dur(faults.get("comm_loss_max", "10 min"), "faults.comm_loss_max"),
        partial_delivery_mean_s=means["partial_delivery"],
        garbled_reply_mean_s=means["garbled_reply"],
    )
    response = _range(faults.get("response", ["2 h", "2 days"]), "faults.response", _dur)
    titration: dict[str, Any] | None = None
    if "titration" in data:
        tt = _table(data["titration"], "titration")
        check_keys(tt, {"interval", "step", "increase_share"}, {"interval", "step"}, "titration.")
        titration = {
            "interval": _range(tt["interval"], "titration.interval", _dur),
            "step": _range(tt["step"], "titration.step", _pct),
            "increase": _share(tt, "increase_share", "titration", 5_000),
        }
        if titration["interval"][0] < DAY_S:
            raise InvalidInput("titration.interval", "at least 1 day", value=tt["interval"])
        if titration["step"][1] > 5_000:
            raise InvalidInput("titration.step", "at most 50 %", value=tt["step"])
    mri: dict[str, Any] | None = None
    if "mri" in data:
        tm = _table(data["mri"], "mri")
        check_keys(tm, {"mean_interval", "emergency_share", "scan"}, {"mean_interval"}, "mri.")
        mri = {
            "mean": _dur(tm["mean_interval"], "mri.mean_interval"),
            "emergency": _share(tm, "emergency_share", "mri"),
            "scan": _range(tm.get("scan", ["20 min", "90 min"]), "mri.scan", _dur),
        }
        if mri["mean"] < DAY_S:
            raise InvalidInput("mri.mean_interval", "at least 1 day", value=tm["mean_interval"])
        if mri["scan"][0] < 60 or mri["scan"][1] > 6 * HOUR_S:
            raise InvalidInput("mri.scan", "1 min to 6 h", value=tm.get("scan"))
    return Cohort(
        title,
        seed,
        max_segment,
        tuple(therapies),
        tuple(pumps),
        b,
        r,
        rates,
        response,
        library,
        titration,
        mri,
        poll,
        _restarts(data["restarts"]) if "restarts" in data else None,
    )


def _restarts(raw: object) -> dict[str, Any]:
    """The ``[restarts]`` table (docs/cohort-schema.md)."""
    t = _table(raw, "restarts")
    check_keys(
        t,
        {
            "mean_interval",
            "downtime",
            "clock_back_share",
            "clock_back",
            "clock_fixed_after",
            "after_bolus_share",
        },
        {"mean_interval"},
        "restarts.",
    )
    out = {
        "mean": _dur(t["mean_interval"], "restarts.mean_interval"),
        "downtime": _range(t.get("downtime", ["10 s", "30 min"]), "restarts.downtime", _dur),
        "clock_back_share": _share(t, "clock_back_share", "restarts"),
        "clock_back": _range(t.get("clock_back", ["1 min", "2 h"]), "restarts.clock_back", _dur),
        "clock_fixed_after": _range(
            t.get("clock_fixed_after", ["10 min", "2 days"]), "restarts.clock_fixed_after", _dur
        ),
        "after_bolus": _share(t, "after_bolus_share", "restarts"),
    }
    if out["mean"] < HOUR_S:
        raise InvalidInput("restarts.mean_interval", "at least 1 h", value=t["mean_interval"])
    for key in ("downtime", "clock_back"):
        if out[key][0] < 1 or out[key][1] > 7 * DAY_S:
            raise InvalidInput(f"restarts.{key}", "1 s to 7 days", value=t.get(key))
    return out


def load_cohort(path: str | Path, library: Library) -> Cohort:
    """Read and validate a cohort file (a bad or special file is an :class:`InvalidInput`)."""
    raw = read_input_file(path, "file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("file", "is not UTF-8 text", value=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("file", f"is not valid TOML: {exc}", value=str(path)) from None
    return parse_cohort(data, library)


def _pick(rng: random.Random, items: list[tuple[int, Any]]) -> Any:
    total = sum(w for w, _ in items)
    x = rng.randrange(total) if total > 0 else 0
    for w, item in items:
        if x < w:
            return item
        x -= w
    return items[-1][1]


def _bp_of(rng: random.Random, lo: int, hi: int) -> int:
    return rng.randint(lo, hi)


def draw_patient(cohort: Cohort, index: int, horizon_s: int) -> dict[str, Any]:
    """Patient ``index`` as a scenario document running ``horizon_s`` after the start of dosing."""
    lib, seed = cohort.library, cohort.seed
    rt = stream(seed, index, "therapy")
    th: Therapy = _pick(rt, [(t.weight, t) for t in cohort.therapies])
    entry = lib.drug(th.drug, th.indication)
    hard = entry.max_daily.value
    if rt.randrange(10_000) < th.near_limit_bp:
        bp = rt.randint(max(th.dose_bp[0], 9_500), max(th.dose_bp[1], 9_500))
    else:
        bp = rt.randint(*th.dose_bp)
    dose_ng = max(1, hard * bp // 10_000 // 1000 * 1000)  # whole micrograms per day
    conc = rt.choice(th.concentrations)
    flex = rt.randrange(10_000) < th.flex_bp
    rp = stream(seed, index, "pump")
    _, pump_id, catheter_id, trim = _pick(rp, [(w, (w, p, c, tr)) for w, p, c, tr in cohort.pumps])
    trim_mm = rp.randint(trim[0] // 10, trim[1] // 10) * 10
    capacity_nl = lib.pump(pump_id).reservoir_volume.value

    bolus: dict[str, Any] | None = None
    rb = stream(seed, index, "bolus")
    if th.patient_bolus and lib.pump(pump_id).allows_patient_bolus(th.drug):
        bd = cohort.bolus
        bolus = {
            "dose": f"{max(1000, hard * rb.randint(*bd['dose']) // 10_000 // 1000 * 1000)} ng",
            "duration": f"{bd['duration']} s",
            "lockout": f"{rb.randint(*bd['lockout']) // 60 * 60} s",
            "max_per_24h": rb.randint(*bd["max_per_24h"]),
        }
        # the worst case (basal + every allowed bolus) stays within the hard maximum
        worst = int(bolus["dose"].split()[0]) * bolus["max_per_24h"]
        dose_ng = max(1000, min(dose_ng, (hard - worst) // 1000 * 1000))

    starting = dict(entry.starting_ranges)
    status_key = {"naive": "opioid-naive", "tolerant": "opioid-tolerant"}.get(
        th.opioid_status or "", ""
    )
    rng_start = starting.get(status_key) or (starting.get("any") if "any" in starting else None)

    def overrides_for(dose: int) -> list[dict[str, str]]:
        out = []
        if rng_start is not None and not rng_start.low <= dose <= rng_start.high:
            out.append({"limit": rng_start.id, "reason": "cohort: established patient"})
        if entry.screening is not None and dose != entry.screening.start_dose_multiple * 50_000:
            out.append(
                {"limit": f"{entry.screening.id}.starting_dose", "reason": "cohort: titrated"}
            )
        # the soft maximum is checked on the worst case, as the hard one (R-LIM-7): basal (its
        # largest step, for a flex schedule) and every allowed bolus
        bolus_worst = int(bolus["dose"].split()[0]) * bolus["max_per_24h"] if bolus else 0
        if entry.soft_max_daily is not None and dose + bolus_worst > entry.soft_max_daily.value:
            out.append({"limit": entry.soft_max_daily.id, "reason": "cohort: near the limit"})
        return out

    programs: dict[str, dict[str, Any]] = {}

    def program(c_ng_per_ml: int, dose: int) -> str:
        """The name of the program at this concentration and daily dose (made on first use)."""
        name = f"c{c_ng_per_ml}" if dose == dose_ng else f"c{c_ng_per_ml}_d{dose // 1000}"
        if name in programs:
            return name
        if flex:
            steps = [
                {"start": "00:00", "dose": f"{dose * 3 // 4 // 1000} mcg/day"},
                {"start": "08:00", "dose": f"{dose // 1000} mcg/day"},
                {"start": "20:00", "dose": f"{dose * 3 // 4 // 1000} mcg/day"},
            ]
            basal: dict[str, Any] = {"mode": "flex", "clock": "elapsed", "steps": steps}
        else:
            basal = {"mode": "continuous", "dose": f"{dose // 1000} mcg/day"}
        p: dict[str, Any] = {"concentration": f"{c_ng_per_ml} ng/mL", "basal": basal}
        if bolus is not None:
            p["patient_bolus"] = dict(bolus)
        ov = overrides_for(dose)
        if ov:
            p["override"] = ov
        programs[name] = p
        return name

    for c_ in th.concentrations:
        program(c_, dose_ng)
    end_s = START_S + horizon_s
    timeline: list[dict[str, Any]] = []

    def act(at: int, action: str, **kw: Any) -> None:
        if at < end_s:
            timeline.append({"at": at, "action": action, **kw})

    # titration: program changes at drawn visits, within the therapy's dose range, the bolus
    # worst case and the library's titration steps
    doses: list[tuple[int, int]] = [(0, dose_ng)]
    if cohort.titration is not None:
        tz = cohort.titration
        rz = stream(seed, index, "titration")
        lo = max(1000, hard * th.dose_bp[0] // 10_000 // 1000 * 1000)
        worst_bolus = int(bolus["dose"].split()[0]) * bolus["max_per_24h"] if bolus else 0
        hi = max(lo, min(hard * th.dose_bp[1] // 10_000, hard - worst_bolus) // 1000 * 1000)
        tit = entry.titration
        t = START_S
        while True:
            t += rz.randint(*tz["interval"])
            if t >= end_s:
                break
            up = rz.randrange(10_000) < tz["increase"]
            bp = rz.randint(*tz["step"])
            cur = doses[-1][1]
            if up:
                if tit is not None and tit.max_increase_percent is not None:
                    bp = min(bp, tit.max_increase_percent.value - 100)  # a margin for rounding
                new = cur + cur * bp // 10_000
                if tit is not None and tit.max_increase is not None:
                    new = min(new, cur + tit.max_increase.value)
                new = min(hi, new // 1000 * 1000)
            else:
                new = max(lo, ceil_div(cur - cur * bp // 10_000, 1000) * 1000)
            if new != cur:
                doses.append((t, new))

    def dose_at(t: int) -> int:
        return next(d for at, d in reversed(doses) if at <= t)

    if th.drug == "baclofen":
        act(9 * HOUR_S, "screening", baseline_pain=0)
        act(10 * HOUR_S, "start_trial", plan="baclofen screening 50 mcg")
        act(10 * HOUR_S + 1800, "trial_dose", dose="50 mcg")
        act(16 * HOUR_S, "screening_response", positive=True)
        act(17 * HOUR_S, "conclude_trial")
    else:
        lo_trial = entry.trial_bolus_range.low if entry.trial_bolus_range is not None else 100_000
        act(9 * HOUR_S, "screening", baseline_pain=8)
        act(10 * HOUR_S, "start_trial", plan="single intrathecal bolus")
        act(10 * HOUR_S + 900, "trial_dose", dose=f"{lo_trial} ng")
        act(16 * HOUR_S, "pain_score", score=3)
        act(17 * HOUR_S, "conclude_trial")
    act(IMPLANT_S, "implant")
    act(IMPLANT_S + HOUR_S, "fill", volume=f"{capacity_nl} nL", concentration=f"{conc} ng/mL")
    act(IMPLANT_S + HOUR_S + 300, "set_program", program=program(conc, dose_ng))
    act(IMPLANT_S + HOUR_S + 600, "prime", duration="8 min")
    act(START_S, "start")

    # refills: the reservoir lasts capacity / daily volume; refill after a drawn share of it
    rr = stream(seed, index, "refill")
    rf = cohort.refill
    t, current = START_S, conc
    concs: list[tuple[int, int]] = [(0, conc)]
    usable_nl = capacity_nl - lib.pump(pump_id).empty_threshold.value
    bolus_worst_ng = int(bolus["dose"].split()[0]) * bolus["max_per_24h"] if bolus else 0
    while True:
        daily_nl = dose_at(t) * NL_PER_ML // current if current else 1
        days_full = Fraction(capacity_nl, max(1, daily_nl))
        use = rr.randint(*rf["use"])
        interval = min(int(days_full * DAY_S * use / 10_000), rf["max_interval"])
        # the patient's boluses draw on the reservoir too: with every allowed one taken, at the
        # largest daily dose a titration sets before it, it may reach its empty threshold (a
        # HIGH alarm) before this refill, which the clinician then answers (R-RES-1, R-RES-2);
        # within 2 % of it too (default cohort patient 388 reached it 0.15 % sooner than its
        # daily rate says)
        last, t = t, t + max(HOUR_S, interval)
        peak = max([dose_at(last)] + [x for at, x in doses if last < at <= t])
        worst_nl = (peak + bolus_worst_ng) * NL_PER_ML // current if current else 1
        may_empty = (t - last) * worst_nl * 100 >= usable_nl * DAY_S * 98
        if t >= end_s:
            break
        new = current
        if len(th.concentrations) > 1 and rr.randrange(10_000) < rf["change"]:
            new = rr.choice([c for c in th.concentrations if c != current])
        item: dict[str, Any] = {"volume": f"{capacity_nl} nL", "withdrawn": "auto"}
        if new != current:
            item |= {"concentration": f"{new} ng/mL", "program": program(new, dose_at(t))}
            concs.append((t, new))
        act(t, "refill", **item)
        if use > 10_000 or may_empty:  # a late refill: the reservoir may have run empty
            act(t + 300, "clear_alarm", alarm="empty_reservoir", reason="refilled")
            act(t + 360, "resume", reason="refilled", restart_reason="cohort: reassessed")
        if rr.randrange(10_000) < rf["repeat"]:
            t += rr.randint(60, 6 * HOUR_S)
            act(t, "refill", volume=f"{capacity_nl} nL", withdrawn="auto")
        if new != current and rr.randrange(10_000) < rf["flush"]:
            t += rr.randint(HOUR_S, 24 * HOUR_S)  # the old fluid is still in the catheter
            act(
                t,
                "refill",
                volume=f"{capacity_nl} nL",
                withdrawn="auto",
                concentration=f"{current} ng/mL",
                program=program(current, dose_at(t)),
            )
            concs.append((t, current))
            new = current
        current = new

    def conc_at(t: int) -> int:
        return next(c_ for at, c_ in reversed(concs) if at <= t)

    for at, d in doses[1:]:
        cut = d < next(x for a_, x in reversed(doses) if a_ < at)
        act(at, "set_program", program=program(conc_at(at), d), confirm_withdrawal_risk=cut)

    # MRIs: planned (the pump's MRI workflow) or, for a share, emergency scans
    mri_faults: list[dict[str, Any]] = []
    policy = lib.pump(pump_id).mri_policy.value
    if cohort.mri is not None and policy != "refuse":
        rm = stream(seed, index, "mri")
        t = START_S
        while True:
            t += max(HOUR_S, int(rm.expovariate(1 / cohort.mri["mean"])))
            if t >= end_s:
                break
            scan = rm.randint(*cohort.mri["scan"])
            verify = rm.randint(10 * 60, 2 * HOUR_S)
            emergency = (
                policy == "empty-and-reset" and rm.randrange(10_000) < cohort.mri["emergency"]
            )
            if policy == "empty-and-reset" and not emergency:
                act(t, "suspend", reason="MRI preparation", confirm_withdrawal_risk=True)
                act(t + 300, "empty_reservoir", withdrawn="auto")
                begin = t + 1800
                act(begin, "begin_mri")
            elif emergency:
                begin = t
                act(begin, "begin_mri", emergency=True, reason="cohort: imaging cannot wait")
            else:  # suspend-verify: the field stalls the rotor for the scan and a recovery delay
                begin = t
                act(begin, "begin_mri")
                mri_faults.append({"at": begin + 60, "kind": "mri_stall", "scan": f"{scan} s"})
            act(begin + scan, "end_mri")
            done = begin + scan + 2 * HOUR_S + verify  # after the rotor's recovery delay
            act(done, "confirm_mri", reason="cohort: valve reset / rotor checked")
            if policy == "empty-and-reset" and not emergency:
                act(
                    done + 300,
                    "refill",
                    volume=f"{capacity_nl} nL",
                    withdrawn="auto",
                    concentration=f"{conc_at(done)} ng/mL",
                )
            if policy == "suspend-verify":
                act(done + 450, "clear_alarm", alarm="motor_stall", reason="MRI stall recovered")
            act(done + 600, "resume", reason="after MRI")
            t = done + 600

    # patient boluses: requests at random times, bursts at the lockout boundary
    if bolus is not None:
        lockout = int(bolus["lockout"].split()[0])
        per_day = rb.randint(*cohort.bolus["requests_per_day"])
        day = START_S // DAY_S + 1
        while day * DAY_S < end_s:
            n = sum(1 for _ in range(2 * per_day) if rb.random() < 0.5)
            for _ in range(n):
                act(day * DAY_S + rb.randint(7 * HOUR_S, 22 * HOUR_S), "bolus")
            if rb.randrange(10_000) < cohort.bolus["burst"]:
                t0 = day * DAY_S + rb.randint(8 * HOUR_S, 12 * HOUR_S)
                for dt in (0, lockout - 1, lockout, lockout + 1, 2 * lockout):
                    act(t0 + dt, "bolus")
            day += 1

    # drive faults: drawn by the simulated drive's own schedule, then made to recover; the
    # clinician answers after a drawn delay (clear whichever HIGH alarm is active, resume)
    rfa = stream(seed, index, "faults")
    faults: list[dict[str, Any]] = []
    schedule = sd.random_faults(
        rfa.getrandbits(63), max(0, end_s - START_S), cohort.faults, start_s=START_S
    )
    for f in schedule:
        delay = rfa.randint(*cohort.response_s)
        if isinstance(f, sd.MotorStall):
            faults.append({"at": f.at_s, "kind": "motor_stall", "recovers_after": f"{delay} s"})
        elif isinstance(f, sd.Occlusion):
            faults.append({"at": f.at_s, "kind": "occlusion", "clears_after": f"{delay} s"})
        elif isinstance(f, sd.DeviceReset):
            faults.append({"at": f.at_s, "kind": "device_reset"})
        elif isinstance(f, sd.CommLoss):
            faults.append({"at": f.at_s, "kind": "comm_loss", "duration": f"{f.duration_s} s"})
        elif isinstance(f, sd.PartialDelivery):
            faults.append({"at": f.at_s, "kind": "partial_delivery"})
        elif isinstance(f, sd.GarbledReply):
            faults.append({"at": f.at_s, "kind": "garbled_reply"})
        else:
            continue
        visit = f.at_s + delay + 60
        for k, alarm in enumerate(_HIGH_ALARMS):
            act(visit + k, "clear_alarm", alarm=alarm, reason="cause resolved")
        # the clinician answers a stop of over 24 h as R-LIM-10 asks (a reason), whenever it
        # began: an earlier fault or an empty reservoir may have stopped delivery long before
        act(visit + len(_HIGH_ALARMS), "resume", reason="checked", restart_reason=_REASSESSED)

    # controller restarts: the process stops and starts again from its journal, the drive
    # running on; a share with the wall clock set back while it was down (corrected later), a
    # share just after a patient bolus request with another request inside its lockout after it
    if cohort.restarts is not None:
        rs = cohort.restarts
        rx = stream(seed, index, "restarts")
        requests = sorted(x["at"] for x in timeline if x["action"] == "bolus")
        lockout_s = int(bolus["lockout"].split()[0]) if bolus is not None else 0
        t = START_S + HOUR_S
        while True:
            t += 1 + int(rx.expovariate(1 / rs["mean"]))
            if t >= end_s:
                break
            down = rx.randint(*rs["downtime"])
            at = t
            follow: int | None = None
            if requests and lockout_s and rx.randrange(10_000) < rs["after_bolus"]:
                k = bisect.bisect_left(requests, t)
                if k < len(requests):
                    at = requests[k] + rx.randint(30, 600)  # often with the bolus in flight
                    follow = at + down + rx.randint(1, max(1, lockout_s // 2))
            extra: dict[str, Any] = {}
            if rx.randrange(10_000) < rs["clock_back_share"]:
                extra["clock_back"] = f"{rx.randint(*rs['clock_back'])} s"
                extra["clock_fixed_after"] = f"{rx.randint(*rs['clock_fixed_after'])} s"
            act(at, "restart", downtime=f"{down} s", **extra)
            if follow is not None:
                act(follow, "bolus", note="inside the lockout, after a restart")
            delay = rx.randint(*cohort.response_s)
            visit = at + down + delay
            for k, alarm in enumerate(_HIGH_ALARMS):  # whichever HIGH alarm the restart raised
                act(visit + k, "clear_alarm", alarm=alarm, reason="checked after a restart")
            act(
                visit + len(_HIGH_ALARMS),
                "resume",
                reason="checked after a restart",
                restart_reason=_REASSESSED,
            )
            t = max(t, at + down)

    for item in timeline:
        item.setdefault("expect", "accepted")
    timeline.sort(key=lambda x: x["at"])  # stable: same-instant actions keep their order
    doc: dict[str, Any] = {
        "schema": "itdose-scenario/1",
        "title": f"cohort {seed} patient {index}",
        "description": f"Drawn by itdose cohort from seed {seed}, patient {index}.",
        "patient": {"cohort_seed": seed, "index": index},
        "pump": {"model": pump_id},
        "catheter": {"model": catheter_id, "trimmed": f"{trim_mm} mm"},
        "drug": {"name": th.drug, "indication": th.indication, "concentration": f"{conc} ng/mL"},
        "programs": programs,
        "timeline": timeline,
        "simulation": {
            "end": end_s,
            "max_segment": f"{cohort.max_segment_s} s",
            "poll": f"{cohort.poll_s} s",
            "drive_wakeups": True,
            "segment_backoff": True,
        },
    }
    if th.opioid_status is not None:
        doc["drug"]["opioid_status"] = th.opioid_status
    faults.extend(mri_faults)
    faults.sort(key=lambda f: f["at"])
    if faults:
        doc["fault"] = faults
    return doc


# ------------------------------------------------------------------------------ TOML writer


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _emit(out: list[str], name: str, table: Mapping[str, Any]) -> None:
    scalars = {
        k: v
        for k, v in table.items()
        if not isinstance(v, dict) and (k == "steps" or not _is_tables(v))
    }
    if name:
        out.append(f"\n[{name}]")
    out.extend(f"{k} = {_value(v)}" for k, v in scalars.items())
    for k, v in table.items():
        full = f"{name}.{k}" if name else k
        if isinstance(v, dict):
            _emit(out, full, v)
        elif _is_tables(v) and k not in ("steps",):
            for x in v:
                out.append(f"\n[[{full}]]")
                out.extend(f"{kk} = {_value(vv)}" for kk, vv in x.items())


def to_toml(doc: Mapping[str, Any]) -> str:
    """A scenario document as TOML text (strings, integers, booleans, tables, arrays of tables;
    ``steps`` lists stay inline)."""
    out: list[str] = []
    _emit(out, "", doc)
    text = "\n".join(out).lstrip("\n") + "\n"
    tomllib.loads(text)  # always valid
    return text
