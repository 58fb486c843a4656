"""``itdose cohort``: seeded virtual patients checked by an independent physical reference.

``itdose cohort FILE --patients N --years Y [--workers K | --scheduler ADDRESS] [--json PATH]
[--report DIR]`` draws
``N`` patients from the cohort file (:mod:`itdose.adapters.cohort_draw`), runs each for ``Y``
years after the start of dosing through the core, the controller and the simulated drive
(:mod:`itdose.adapters.cohort_run`; local processes, or a Dask distributed scheduler), checks
it with :mod:`itdose.adapters.cohort_physics`, and
summarises hazard counts, per patient-year rates with exact Clopper-Pearson bounds
(:mod:`itdose.adapters.cohort_stats`), the worst 24 h windows, time in each state and the bolus
decisions (:func:`summarise`; fields in docs/cohort-schema.md, "JSON report"). A patient that
fails (an exception, a CPU budget exceeded, or any hazard) is listed with its seed and index, and
with ``--report DIR`` its scenario is written there as a replayable ``itdose simulate`` file.

Exit codes: 0 no hazard and no failed patient, 1 otherwise, 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from itdose.adapters.cohort_draw import Cohort, draw_patient, load_cohort, to_toml
from itdose.adapters.cohort_physics import (
    HAZARDS,
    LATENCY_LIMIT_STEPS,
    SILENT_STOP_LIMIT_S,
    UNDER_DELIVERY_ALLOWANCE,
)
from itdose.adapters.cohort_plot import PlotUnavailable, write_plots
from itdose.adapters.cohort_run import SchedulerError, run_cohort, run_cohort_on_scheduler
from itdose.adapters.cohort_stats import clopper_pearson_upper, per_year_upper
from itdose.core.errors import InvalidInput

__all__ = [
    "REPORT_SCHEMA",
    "VERIFY_COHORT",
    "VERIFY_REQUIREMENTS",
    "add_parser",
    "markdown",
    "parse_years",
    "run",
    "summarise",
    "verify_check",
]

REPORT_SCHEMA = "itdose-cohort-report/1"
YEAR_S = 365 * 86_400
_BINS = (50, 80, 90, 95, 99, 100)
"""Upper edges (percent of the hard maximum) of the worst-window histogram; the last bin is
"above 100 %"."""


def parse_years(text: str, field: str = "--years") -> Fraction:
    """A number of years per patient from the command line (exact), or an error naming
    ``field``."""
    try:
        y = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(
            field, "expected a number of years, e.g. 1 or 0.25", value=text
        ) from None
    if y <= 0 or y > 100:
        raise InvalidInput(field, "must be above 0 and at most 100", value=text)
    return y


def summarise(
    cohort: Cohort, results: list[dict[str, Any]], years: Fraction, wall_s: float, workers: int
) -> dict[str, Any]:
    """The cohort report (schema ``itdose-cohort-report/1``) from per-patient results."""
    n = len(results)
    patient_years = n * years
    hazards: dict[str, Any] = {}
    for kind in HAZARDS:
        events = sum(r["hazards"][kind] for r in results)
        k = sum(1 for r in results if r["hazards"][kind] > 0)
        p_up = clopper_pearson_upper(k, n) if n else Fraction(1)
        hazards[kind] = {
            "events": events,
            "patients_with_event": k,
            "rate_per_patient_year": float(events / patient_years) if n else 0.0,
            "patient_upper_95": float(p_up),
            "patient_year_upper_95": per_year_upper(p_up, years),
        }
    ok = [r for r in results if r["error"] is None]
    worst = sorted(ok, key=lambda r: -r["max_window_fraction"])[:10]
    hist = [0] * (len(_BINS) + 1)
    for r in ok:
        pct = r["max_window_fraction"] * 100
        hist[next((i for i, edge in enumerate(_BINS) if pct <= edge), len(_BINS))] += 1
    states: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for r in ok:
        for s, v in r["time_in_state_s"].items():
            states[s] = states.get(s, 0) + v
        for s, v in r["deny_reasons"].items():
            reasons[s] = reasons.get(s, 0) + v
    failed = [
        {
            "index": r["index"],
            "seed": r["seed"],
            "error": r["error"],
            "hazards": {k: v for k, v in r["hazards"].items() if v},
        }
        for r in results
        if r["error"] is not None or any(r["hazards"].values())
    ]
    cpu = sum(r["cpu_s"] for r in results)
    latency: dict[str, int] = {}
    for r in ok:
        for x in r["alarm_latency_steps"]:
            latency[str(x)] = latency.get(str(x), 0) + 1
    lowest = sorted(ok, key=lambda r: r["min_delivered_ratio"])[:10]
    silent = sorted(
        (r for r in ok if r["silent_stop_longest_s"]), key=lambda r: -r["silent_stop_longest_s"]
    )[:10]
    stopped = sorted(
        (r for r in ok if r["alarm_stop_longest_s"]), key=lambda r: -r["alarm_stop_longest_s"]
    )[:10]
    excused: dict[str, int] = {}
    for r in ok:
        for cause, seconds in r["under_delivery_excused_s"].items():
            excused[cause] = excused.get(cause, 0) + seconds
    return {
        "schema": REPORT_SCHEMA,
        "cohort": {"title": cohort.title, "seed": cohort.seed},
        "patients": n,
        "years_per_patient": str(years),
        "patient_years": float(patient_years),
        "workers": workers,
        "ok": not failed,
        "hazards": hazards,
        "errors": sum(1 for r in results if r["error"] is not None),
        "failed_patients": failed,
        "worst_windows": [
            {
                "index": r["index"],
                "drug": r["drug"],
                "fraction_of_hard_max": r["max_window_fraction"],
                "amount_ng": r["max_window_ng"],
                "hard_max_ng": r["hard_max_ng"],
                "window_end_s": r["max_window_at_s"],
            }
            for r in worst
        ],
        "max_window_histogram": {
            "upper_edges_percent": list(_BINS),
            "counts": hist,
        },
        "time_in_state_s": dict(sorted(states.items())),
        "boluses": {
            "granted": sum(r["boluses_granted"] for r in ok),
            "denied": sum(r["boluses_denied"] for r in ok),
            "deny_reasons": dict(sorted(reasons.items())),
        },
        "rejected_actions": sum(r["rejected_actions"] for r in ok),
        "restarts": {
            "count": sum(r.get("restarts", 0) for r in ok),
            "patients": sum(1 for r in ok if r.get("restarts", 0)),
            "max_lag_s": max((r.get("restart_lag_s", 0) for r in ok), default=0),
        },
        "unstoppable_after_high_nl": sum(r["unstoppable_after_high_nl"] for r in ok),
        "alarm_latency": {
            "limit_steps": LATENCY_LIMIT_STEPS,
            "faults_by_steps": dict(sorted(latency.items(), key=lambda kv: int(kv[0]))),
            "never_raised": sum(r["alarms_missing"] for r in ok),
        },
        "silent_stop": {
            "limit_s": SILENT_STOP_LIMIT_S,
            "longest": [
                {"index": r["index"], "drug": r["drug"], "seconds": r["silent_stop_longest_s"]}
                for r in silent
            ],
        },
        "alarm_stops": {
            "longest": [
                {"index": r["index"], "drug": r["drug"], "seconds": r["alarm_stop_longest_s"]}
                for r in stopped
            ],
        },
        "under_delivery": {
            "allowance": float(UNDER_DELIVERY_ALLOWANCE),
            "excused_active_s": dict(sorted(excused.items())),
            "lowest_ratios": [
                {"index": r["index"], "drug": r["drug"], "ratio": r["min_delivered_ratio"]}
                for r in lowest
            ],
        },
        "cpu_s": round(cpu, 3),
        "cpu_s_per_patient_year": round(cpu / float(patient_years), 3) if n else 0.0,
        "wall_s": round(wall_s, 3),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    lines = [
        f"# Cohort report: {report['cohort']['title']}",
        "",
        f"Seed {report['cohort']['seed']}, {report['patients']} patients x "
        f"{report['years_per_patient']} years = {report['patient_years']:g} patient-years; "
        f"{report['errors']} patients failed to run. Result: "
        f"{'no hazard' if report['ok'] else 'HAZARDS OR FAILURES'}.",
        "",
        "| hazard | events | patients | per patient-year | 95 % upper (patient) "
        "| 95 % upper (patient-year) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, h in report["hazards"].items():
        lines.append(
            f"| {kind} | {h['events']} | {h['patients_with_event']} | "
            f"{h['rate_per_patient_year']:.3g} | {h['patient_upper_95']:.3g} | "
            f"{h['patient_year_upper_95']:.3g} |"
        )
    lines += [
        "",
        "## Worst 24 h windows at the catheter tip",
        "",
        "| patient | drug | % of hard max |",
        "|---|---|---|",
    ]
    for w in report["worst_windows"]:
        lines.append(f"| {w['index']} | {w['drug']} | {100 * w['fraction_of_hard_max']:.2f} |")
    lat = report["alarm_latency"]
    lines += [
        "",
        "## Alarm latency (drive fault to HIGH alarm, controller steps while dosing)",
        "",
        f"Limit {lat['limit_steps']}; faults by steps (0: a HIGH alarm was already active): "
        f"{lat['faults_by_steps'] or 'no fault drawn'}; never raised: {lat['never_raised']}.",
        "",
        "## Silent stops (delivery halted, not chosen by the clinician, no HIGH alarm present)",
        "",
        f"Limit {report['silent_stop']['limit_s']} s; longest: "
        + (
            ", ".join(
                f"patient {x['index']} {x['seconds']} s"
                for x in report["silent_stop"]["longest"][:5]
            )
            or "none"
        )
        + ". Longest stops under a HIGH alarm (phase alarm, announced): "
        + (
            ", ".join(
                f"patient {x['index']} ({x['drug']}) {x['seconds']} s"
                for x in report["alarm_stops"]["longest"][:5]
            )
            or "none"
        )
        + ".",
        "",
        "## Under-delivery (quiet 24 h windows, tip amount / accepted program)",
        "",
        f"Allowance {100 * report['under_delivery']['allowance']:g} %; lowest: "
        + (
            ", ".join(
                f"patient {x['index']} {x['ratio']:.5f}"
                for x in report["under_delivery"]["lowest_ratios"][:5]
            )
            or "none"
        )
        + ". Not judged while dosing (phase active): "
        + (
            ", ".join(
                f"{cause} {seconds} s"
                for cause, seconds in report["under_delivery"]["excused_active_s"].items()
            )
            or "nothing"
        )
        + ".",
    ]
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]]
    lines += ["", "## Failed patients", ""]
    for f in report["failed_patients"]:
        lines.append(f"- patient {f['index']} (seed {f['seed']}): {f['error'] or f['hazards']}")
    if not report["failed_patients"]:
        lines.append("none")
    b = report["boluses"]
    lines += ["", f"Boluses: {b['granted']} granted, {b['denied']} denied {b['deny_reasons']}."]
    rs = report["restarts"]
    if rs["count"]:
        lines.append(
            f"Controller restarts: {rs['count']} in {rs['patients']} patients; the largest lag "
            f"of a controller's timeline behind the drive's clock {rs['max_lag_s']} s."
        )
    lines.append("")
    lines.append(
        f"CPU {report['cpu_s']} s ({report['cpu_s_per_patient_year']} s per patient-year)."
    )
    return "\n".join(lines) + "\n"


VERIFY_COHORT = ("examples/cohorts/restarts.toml", 150, Fraction(1))
"""The cohort ``itdose verify --with-cohort`` runs (and CI, .ci/run): the default cohort with
controller restarts (from the repository root, as the tests), patients 0-149 x 1 year = 150
patient-years, about 170 to 230 CPU s (under 2 minutes on 2 idle cores). 1,000 patient-years
(``--cohort-patients 1000``) take 19 to 40 CPU minutes and, in patients 150 to 479, hold 5 with
a ``silent_stop`` not yet fixed (docs/cohort-schema.md, "In the evidence report")."""
VERIFY_REQUIREMENTS = (
    "REQ-GOV-004",
    "REQ-ALM-001",
    "REQ-ALM-004",
    "REQ-TIP-004",
    "REQ-PERS-001",
)
"""What the cohort's reference checks over whole runs (docs/cohort-schema.md, "Checks")."""


def verify_check(
    stream: Any,
    workers: int | None = None,
    patients: int | None = None,
    years: Fraction | None = None,
) -> dict[str, Any]:
    """The cohort as an ``itdose verify`` check (kind ``cohort``): passes when every patient ran
    and the reference found no hazard; ``summary_md`` is the cohort report for report.md.
    ``patients`` and ``years`` replace :data:`VERIFY_COHORT`'s (``--cohort-patients``,
    ``--cohort-years``)."""
    from itdose.specs import load_library

    path, default_patients, default_years = VERIFY_COHORT
    patients = default_patients if patients is None else patients
    years = default_years if years is None else years
    start = time.perf_counter()
    title = f"cohort {path}: {patients} patients x {years} years"
    base: dict[str, Any] = {
        "id": "COHORT",
        "kind": "cohort",
        "title": title,
        "requirements": list(VERIFY_REQUIREMENTS),
    }
    try:
        cohort = load_cohort(path, load_library())
    except InvalidInput as e:  # asked for and impossible: a failed check, never a silent skip
        return base | {
            "status": "fail",
            "seconds": 0.0,
            "detail": f"{e} (run from the repository root)",
        }
    k = workers if workers is not None else (os.cpu_count() or 1)
    results = run_cohort(cohort, patients, int(years * YEAR_S), k, None, 600)
    wall = time.perf_counter() - start
    report = summarise(cohort, results, years, wall, k)
    md = markdown(report).split("\n", 1)[1].lstrip("\n")
    hazards = {kind: h["events"] for kind, h in report["hazards"].items() if h["events"]}
    detail = (
        f"{report['patient_years']:g} patient-years, {report['errors']} failed patients, "
        f"hazards {hazards or 'none'}"
    )
    return base | {
        "status": "pass" if report["ok"] else "fail",
        "seconds": round(wall, 4),
        "detail": detail,
        "summary_md": md,
        "cohort": {k_: report[k_] for k_ in ("patients", "patient_years", "ok", "hazards")},
    }


def _out_path(raw: str | None, field: str) -> Path | None:
    if raw is None:
        return None
    p = Path(raw)
    if not p.parent.is_dir() or p.is_dir():
        raise InvalidInput(field, "the folder does not exist or the path is a folder", value=raw)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``itdose cohort``."""
    try:
        from itdose.specs import load_library

        cohort = load_cohort(args.file, load_library())
        years = parse_years(args.years)
        if args.patients < 1 or args.patients > 10**7:
            raise InvalidInput("--patients", "must be 1 to 10000000", value=args.patients)
        workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
        if workers < 1 or workers > 256:
            raise InvalidInput("--workers", "must be 1 to 256", value=workers)
        if args.scheduler is not None and args.workers is not None:
            raise InvalidInput(
                "--scheduler", "give either --workers or --scheduler", value=args.scheduler
            )
        json_path = _out_path(args.json, "--json")
        report_dir = Path(args.report) if args.report is not None else None
        if report_dir is not None and not report_dir.parent.is_dir():
            raise InvalidInput("--report", "the parent folder does not exist", value=args.report)
        if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
            raise InvalidInput("--report", "exists and is not a folder", value=args.report)
    except InvalidInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    horizon = int(years * YEAR_S)
    show = not args.no_progress

    shown: list[bool] = []  # a progress line was written

    def progress(done: int, total: int) -> None:
        if show:
            shown[:] = [True]
            print(f"\rcohort: {done}/{total} patients", end="", file=sys.stderr, flush=True)

    t0 = time.monotonic()
    if args.scheduler is not None:
        try:
            results, workers = run_cohort_on_scheduler(
                cohort, args.patients, horizon, args.scheduler, progress, args.cpu_budget
            )
        except SchedulerError as e:
            if shown:
                print(file=sys.stderr)
            print(f"error: --scheduler: {e}", file=sys.stderr)
            return 2
    else:
        results = run_cohort(cohort, args.patients, horizon, workers, progress, args.cpu_budget)
    if show:
        print(file=sys.stderr)
    report = summarise(cohort, results, years, time.monotonic() - t0, workers)
    if report_dir is not None:
        report_dir.mkdir(exist_ok=True)
        for f in report["failed_patients"]:
            path = report_dir / f"patient-{f['index']}.toml"
            path.write_text(to_toml(draw_patient(cohort, f["index"], horizon)))
            f["scenario_file"] = path.name
        try:
            report["plots"] = [p.name for p in write_plots(report, results, report_dir)]
        except PlotUnavailable as e:  # the plot extra is not installed: say so, keep the report
            report["plots"] = []
            print(f"warning: --report: no plots ({e})", file=sys.stderr)
        (report_dir / "report.md").write_text(markdown(report))
        (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(markdown(report))
    return 0 if report["ok"] else 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``cohort`` on the ``itdose`` sub-parsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "cohort",
        help="run seeded virtual patients checked by an independent physical reference (exit 0 "
        "no hazard, 1 a hazard or a failed patient, 2 invalid input)",
    )
    p.add_argument("file", help="cohort file (TOML; see docs/cohort-schema.md)")
    p.add_argument("--patients", type=int, required=True, help="number of patients")
    p.add_argument("--years", required=True, help="years of dosing per patient (e.g. 1, 0.25)")
    p.add_argument("--workers", type=int, help="local worker processes (default: CPU count)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the patients on this Dask distributed scheduler (e.g. tcp://host:8786; the "
        "optional extra 'cluster') instead of local processes",
    )
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write report.md, report.json and failing patients' scenarios",
    )
    p.add_argument(
        "--cpu-budget",
        type=int,
        default=600,
        metavar="SECONDS",
        help="CPU seconds a patient may use before it is stopped and reported (default 600)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(fn=run)
    return p
