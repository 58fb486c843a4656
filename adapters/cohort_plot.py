"""PNG plots of a cohort run (matplotlib, the ``plot`` extra; imported lazily): the largest
rolling 24 h tip amount of each patient as a share of the hard maximum, the lowest delivered /
programmed ratio over quiet 24 h windows (under-delivery), and the alarm latency of the drawn
drive faults (docs/cohort-schema.md, "Plots")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from itdose.adapters.plot import PlotUnavailable

__all__ = ["PLOTS", "PlotUnavailable", "write_plots"]

PLOTS = ("max-window.png", "under-delivery.png", "alarm-latency.png")
"""The files :func:`write_plots` writes."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(
            "plots need matplotlib: pip install 'itdose[plot]' (or pip install matplotlib)"
        ) from exc
    return plt


def write_plots(report: dict[str, Any], results: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write :data:`PLOTS` into ``folder`` from the report and the per-patient results (failed
    patients have no values and are left out, as the report says)."""
    plt = _pyplot()
    ok = [r for r in results if r["error"] is None]
    title = f"{report['cohort']['title']} ({report['patients']} patients x "
    title += f"{report['years_per_patient']} y)"
    out = []

    fig, ax = plt.subplots(figsize=(8, 4.5))
    values = [100 * r["max_window_fraction"] for r in ok]
    ax.hist(values, bins=[5 * i for i in range(23)], color="#1f77b4", edgecolor="white")
    ax.axvline(100, color="#d62728", linestyle="--", label="hard daily maximum")
    ax.set_xlabel("largest rolling 24 h amount at the catheter tip, % of the hard maximum")
    ax.set_ylabel("patients")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left")
    out.append(_save(fig, folder / PLOTS[0]))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ratios = [100 * r["min_delivered_ratio"] for r in ok]
    floor = 100 * (1 - report["under_delivery"]["allowance"])
    lo = min([*ratios, floor]) - 0.5
    ax.hist(ratios, bins=40, range=(lo, max([100.5, *ratios])), color="#2ca02c", edgecolor="white")
    ax.axvline(floor, color="#d62728", linestyle="--", label="under-delivery limit")
    ax.set_xlabel("lowest tip amount / accepted program over a quiet 24 h window, %")
    ax.set_ylabel("patients")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left")
    out.append(_save(fig, folder / PLOTS[1]))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    lat = report["alarm_latency"]
    keys = sorted(lat["faults_by_steps"], key=int)
    labels = [*keys, "never"]
    counts = [lat["faults_by_steps"][k] for k in keys] + [lat["never_raised"]]
    colours = [
        "#1f77b4" if k != "never" and int(k) <= lat["limit_steps"] else "#d62728" for k in labels
    ]
    ax.bar(labels, counts, color=colours)
    ax.set_xlabel(
        f"controller steps from a drive fault to its HIGH alarm (limit {lat['limit_steps']}; "
        "0: already in a HIGH alarm)"
    )
    ax.set_ylabel("drive faults")
    ax.set_title(title, fontsize=10)
    out.append(_save(fig, folder / PLOTS[2]))
    return out


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    _pyplot().close(fig)
    return path
