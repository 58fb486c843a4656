"""Benchmark: cost per patient-year of ``itdose cohort`` and the scaling from 1 to 2 local workers.

Runs the default cohort (``examples/cohorts/default.toml``) for ``PATIENTS`` patients of
``YEARS`` years with 1 and then 2 worker processes and prints the wall time, the CPU seconds per
patient-year, whether both runs gave the same per-patient results, and what 1,000 and 10,000
patient-years would take at that cost, with the load average at the end of each run (the CPU
time per patient-year is the figure to compare on a shared machine). Issue target: 10,000
patient-years on 2 cores in under 10 minutes (0.12 CPU s per patient-year).
A benchmark, not a test: nothing here asserts.

Measured (``32 1``, the default cohort with day-long orders and daily polls, a 2-core machine
shared with other work): 1 worker 1.90 CPU s per patient-year (load average 7.7 9.6 8.9), 2
workers 1.93 (10.9 10.3 9.4), the same per-patient results; wall 276 s and 269 s: no scaling at
that load. Before the day-long orders, daily polls and the exact reference windows, the same
32 patient-years took 4.00 CPU s per patient-year (load average 9.0 10.1 10.5). With the faster
core steps of main merged: 1 worker 1.60 (6.8 8.1 9.4), 2 workers 1.66 (6.2 7.5 9.1), wall 133 s
and 111 s (1.19x). At 1.6 CPU s, 10,000 patient-years are about 2.2 h on 2 fully available cores
(13 times the target); docs/cohort-schema.md ("Speed") says where the time goes. The exact
peak's pruning (a piece's candidate evaluated only while a flow still rises), ``12 1/4``,
alternated runs at a load average of 8.5 to 10.7: 1 worker 3.48 and 3.21 CPU s per patient-year
before, 1.72 and 2.03 after; 2 workers 3.66 and 3.44 before, 1.77 and 1.69 after. The default
``6 1/10`` draws no patient near the hard maximum and is unchanged (1.07 to 1.19 both ways).
With the reference on ``quicktions.Fraction`` (the extra ``cohort``; benchmarks/cohort_profile.py
splits the time by component): ``itdose cohort --patients 32 --years 0.5`` at a load average of
6.2 to 7.4, 1 worker 1.57 and 2 workers 1.63 CPU s per patient-year, wall 55 s and 54 s (the run
had about half a core either way: the machine's load, not the pool); 150 patients x 1 year on
2 workers 1.48 (load 6.8 to 7.6), no hazard.

After the controller's ladder of order lengths, the restart journals in memory-backed storage
and batches shrinking to single patients (the core unchanged), ``32 1/2`` run before and after
one after the other as the load average rose from 9 to 18 (the CPU s of a patient-year grow
with it): default cohort, 1 / 2 workers, 2.18 / 2.05 -> 1.88 / 1.89 CPU s per patient-year
(core steps 188,318 -> 172,177), wall 176 / 121 s -> 125 / 113 s, and once more with 1 worker
1.98 -> 1.84; ``--cohort=examples/cohorts/restarts.toml`` 1.98 / 2.33 -> 2.17 / 2.13 (core
steps 188,529 -> 173,753; the "after" at a load average of 15 to 18). The same per-patient
results with 1 and 2 workers, no hazard. Alternated, ``16 1/4 --workers=1`` three times each
at a load average of 15 to 17: default 1.375, 1.333, 1.338 -> 1.308, 1.274, 1.261 (5 % less);
restarts 1.393, 1.340, 1.351 -> 1.237, 1.264, 1.234 (8 % less). docs/cohort-schema.md
("Speed") projects 1,000 and 10,000 patient-years on 2 idle cores and says where the rest goes
(the core's steps at the hard maximum).

The cap room's search from a guess (3 or 4 exact peaks a cut tick instead of about 40), ``32 1/2
--workers=1`` alternated with the code before, 3 pairs at a load average of 8 to 11: 2.198,
2.120, 2.231 -> 1.630, 1.607, 1.702 CPU s per patient-year (24 % less), the same core steps
(172,196) and per-patient results.

    python benchmarks/cohort_speed.py [PATIENTS] [YEARS]
    python benchmarks/cohort_speed.py 24 1/2 --cohort=examples/cohorts/restarts.toml --workers=1
"""

from __future__ import annotations

import os
import sys
import time
from fractions import Fraction
from pathlib import Path

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_run import run_cohort
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    patients = int(args[0]) if args else 6
    years = Fraction(args[1]) if len(args) > 1 else Fraction(1, 10)
    path = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--cohort=")), None)
    cohort = load_cohort(path or ROOT / "examples" / "cohorts" / "default.toml", load_library())
    counts = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--workers=")), "1,2")
    horizon = int(years * 365 * 86_400)
    runs = {}
    for workers in (int(w) for w in counts.split(",")):
        t0 = time.monotonic()
        results = run_cohort(cohort, patients, horizon, workers, cpu_budget_s=600)
        wall = time.monotonic() - t0
        cpu = sum(r["cpu_s"] for r in results)
        runs[workers] = [{k: v for k, v in r.items() if k != "cpu_s"} for r in results]
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"workers {workers}: load average {load} at the end, wall {wall:.1f} s, "
            f"CPU {cpu:.1f} s, "
            f"{cpu / float(patients * years):.3f} CPU s per patient-year, "
            f"{wall / float(patients * years):.2f} wall s per patient-year, "
            f"{sum(r.get('steps', 0) for r in results)} core steps, "
            f"{sum(1 for r in results if r['error'] or any(r['hazards'].values()))} patients "
            "with a hazard or an error",
            flush=True,
        )
    if len(runs) > 1:
        first = next(iter(runs.values()))
        print("same results whatever the worker count:", all(r == first for r in runs.values()))
    per_py = cpu / float(patients * years)
    for target in (1_000, 10_000):
        print(
            f"{target} patient-years at {per_py:.2f} CPU s per patient-year: "
            f"{target * per_py / 3600:.1f} CPU hours, {target * per_py / 2 / 60:.0f} min on 2 "
            "fully available cores"
        )


if __name__ == "__main__":
    main()
