"""Benchmark: where one cohort patient-year's CPU time goes, by component.

Runs patients of the default cohort (``examples/cohorts/default.toml``) in this process with
timers (CPU time, ``time.process_time``) around the entry points of each component, and splits
each patient's time into: the patient draw (drawing the scenario document and parsing it), the
core's steps (``itdose.core.step`` as the controller calls it), the simulated drive (its
exchanges and clock, with the true-delivery log the cohort's recording drive keeps), the
independent reference (``check_patient``: the reservoir and catheter, the 24 h windows on the
drive's steps, the under-delivery windows; the quiet stretches; the observer that notes programs,
fills and dosing steps) and the controller (the rest of the scenario run: the loop, the timeline
recorder). Timers rather than cProfile: cProfile's per-call overhead inflates the components
made of many small calls (the reference's fractions) several times over. Prints one line per
patient and the totals per component. A benchmark, not a test: nothing here asserts.

    python benchmarks/cohort_profile.py [PATIENTS] [YEARS]      # default: patients 0-11, 1 year
    python benchmarks/cohort_profile.py 3,17,40 1               # chosen patients
    python benchmarks/cohort_profile.py 12 1 --cprofile         # and the top cProfile entries
    python benchmarks/cohort_profile.py 12 1 --cohort=examples/cohorts/restarts.toml

Figures (docs/cohort-schema.md, "Speed"), ``12 1`` on a 2-core machine shared with other work
(load average 2 to 5), CPU s per patient-year:

| component | before (``fractions.Fraction``) | after (``quicktions.Fraction``) |
|---|---|---|
| core steps | 0.62 (47 %) | 0.66 to 0.67 (58 %) |
| independent reference | 0.43 (33 %) | 0.19 (16 %) |
| controller and recorder | 0.15 (12 %) | 0.16 to 0.17 (14 to 15 %) |
| simulated drive | 0.10 (8 %) | 0.11 (10 %) |
| draw | 0.004 | 0.005 |
| total | 1.31 | 1.13 to 1.15 |

With ``--cohort=examples/cohorts/restarts.toml`` (controller restarts): 1.21 (the journal
written, opened and verified at each restart, in the controller's share: 0.26). After: patients
at the hard maximum (hourly orders, the core's rule) cost 2.0 to 3.2 s a year, 54 to 69 % of it
the core's steps; patients far from it 0.28 to 0.29 s.

Since the exact peak counts the pieces whole in a window without the general term (and
evaluates only the candidates it counts), ``12 1/4`` at a load average of about 10, before ->
after, CPU s per patient-year: core steps 1.28 -> 0.96, total 1.97 -> 1.62; patients at the
hard maximum (7, 28, 89, 198, a quarter year each) core steps 2.9 to 8.5 -> 2.1 to 5.2
(docs/cohort-schema.md, "Speed").

Split by component, ``12 1/4`` at a load average of 5 to 7, CPU s per patient-year, before the
controller's ladder of order lengths (default cohort) and after it (both cohorts): default
before 1.48 (core steps 0.91, reference 0.21, controller 0.20, simulated drive 0.14), after 1.57
(0.94, 0.22, 0.24, 0.15: these single runs differ by the load, the alternated comparison in
docs/cohort-schema.md says 5 % less); ``--cohort=examples/cohorts/restarts.toml`` before 1.44
(0.74, 0.22, 0.33, 0.14), after 1.69 (0.93, 0.21, 0.36, 0.18). Patient 7 (baclofen at the
maximum, basal cut by the cap) alone is a third of the 12 patients' CPU, 80 % of it the core's.

The adapters' work without a change of result (docs/cohort-schema.md, "Speed": the reference,
the simulated drive and the observers; the core unchanged), ``12 1/4
--cohort=examples/cohorts/restarts.toml``, old and new code alternated twice at a load average
of 3.2 to 3.4, CPU s per patient-year: total 0.903, 0.900 -> 0.841, 0.851; reference 0.140,
0.141 -> 0.110, 0.111; controller and recorder 0.187, 0.187 -> 0.172, 0.173; simulated drive
0.098, 0.098 -> 0.090, 0.091; core steps 0.467, 0.463 -> 0.459, 0.466 (the same work). The
adapters' share is 12 % smaller; the core's steps are now 55 % of the CPU.

After the exact peak's pruning to the piece whose window holds the most and the basal plan's
single read of the recorded terms (measured before the adapters' work above), ``12 1/4
--cohort=examples/cohorts/restarts.toml`` one after the other at a load average of about 4, CPU
s per patient-year: before 0.897 (core steps 0.461,
controller 0.185, reference 0.142, simulated drive 0.097), after 0.880 (0.441, 0.189, 0.143,
0.096). Instructions executed by the core's steps (callgrind, repeatable; docs/cohort-schema.md,
"Speed"): 9 % fewer for these patients, 11 % fewer for patients 4 and 7 at the maximum.
"""

from __future__ import annotations

import cProfile
import functools
import pstats
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from itdose.adapters import cohort_run, controller, scenario_run
from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_draw import load_cohort
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parent.parent

spent: dict[str, float] = {}
_depth: dict[str, int] = {}


def _timed(part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _depth.get(part):  # nested in the same component: counted once, outermost
            return fn(*args, **kwargs)
        _depth[part] = 1
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[part] = spent.get(part, 0.0) + time.process_time() - t0
            _depth[part] = 0

    return wrapper


def install() -> None:
    """Wrap each component's entry points with a CPU timer."""
    cohort_run.draw_patient = _timed("draw", cohort_run.draw_patient)  # type: ignore[assignment]
    cohort_run.parse_scenario = _timed("draw", cohort_run.parse_scenario)  # type: ignore[assignment]
    controller.step = _timed("core step", controller.step)  # type: ignore[assignment]
    for name in ("check_patient", "quiet_stretches", "excused_seconds"):
        setattr(cohort_run, name, _timed("reference", getattr(cohort_run, name)))
    cohort_run.TrueLog.observer = _timed("observer", cohort_run.TrueLog.observer)  # type: ignore[method-assign]
    drive = sd.SimulatedDrive
    for name in (
        "advance_to",
        "start",
        "stop",
        "poll",
        "acknowledge",
        "configure",
        "refill",
        "withdraw",
        "identify",
        "next_drive_stop_s",
    ):
        setattr(drive, name, _timed("simulated drive", getattr(drive, name)))
    cohort_run.run_scenario = _timed("scenario run", scenario_run.run_scenario)  # type: ignore[assignment]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    arg = args[0] if args else "12"
    indices = [int(x) for x in arg.split(",")] if "," in arg else list(range(int(arg)))
    years = Fraction(args[1]) if len(args) > 1 else Fraction(1)
    path = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--cohort=")), None)
    path = path or str(ROOT / "examples" / "cohorts" / "default.toml")
    cohort = load_cohort(path, load_library())
    horizon = int(years * 365 * 86_400)
    install()
    prof = cProfile.Profile() if "--cprofile" in sys.argv else None
    totals: dict[str, float] = {}
    cpu = 0.0
    for i in indices:
        spent.clear()
        t0 = time.process_time()
        if prof is not None:
            prof.enable()
        r = cohort_run.run_patient(cohort, i, horizon)
        if prof is not None:
            prof.disable()
        used = time.process_time() - t0
        cpu += used
        parts = dict(spent)
        run = parts.pop("scenario run", 0.0)
        observer = parts.pop("observer", 0.0)  # inside the scenario run: the reference's
        parts["reference"] = parts.get("reference", 0.0) + observer
        inside = parts.get("core step", 0.0) + parts.get("simulated drive", 0.0) + observer
        parts["controller"] = run - inside
        parts["other"] = used - sum(parts.values())
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + v
        share = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        print(
            f"patient {i}: {r.get('drug')}, largest window {r.get('max_window_fraction', 0):.3f} "
            f"of the hard maximum, {r.get('steps')} steps, {used:.2f} CPU s ({share})"
        )
    n = float(len(indices) * years)
    print(f"{len(indices)} patients x {years} years: {cpu / n:.3f} CPU s per patient-year")
    for k, v in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {k:16s} {v / n:6.3f} s per patient-year ({100 * v / cpu:4.1f} %)")
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
