"""Plot a simulation run (matplotlib, the ``plot`` extra; imported lazily).

One figure, three panels sharing the time axis (days):

1. the tracked reservoir volume (mL) with the low-reservoir and empty thresholds;
2. the drug delivered in the rolling 24 h window against the hard daily maximum;
3. patient bolus requests (granted / denied) and alarm bands coloured by priority.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from itdose.adapters.scenario import RunResult
from itdose.core.units import DAY_S

__all__ = ["PlotUnavailable", "plot_run"]

_COLOURS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#bcbd22"}


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed (``pip install 'itdose[plot]'``)."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(
            "plotting needs matplotlib: pip install 'itdose[plot]' (or pip install matplotlib)"
        ) from exc
    return plt


def plot_run(r: RunResult, path: str | Path) -> Path:
    """Draw ``r`` into the PNG file ``path`` and return the path."""
    plt = _pyplot()
    sc = r.scenario
    pump = sc.library.pump(sc.pump)
    fig, (ax_res, ax_dose, ax_ev) = plt.subplots(
        3, 1, figsize=(12, 8), sharex=True, gridspec_kw={"height_ratios": [3, 3, 2]}
    )
    fig.suptitle(f"{sc.title}\n{sc.pump}, {sc.drug} ({sc.indication})", fontsize=11)
    days = [t / DAY_S for t, _, _ in r.samples]
    ax_res.step(days, [v / 1e6 for _, v, _ in r.samples], where="post", color="#1f77b4")
    ax_res.axhline(
        pump.low_reservoir_threshold.value / 1e6, color="#ff7f0e", ls="--", lw=1, label="low"
    )
    ax_res.axhline(pump.empty_threshold.value / 1e6, color="#d62728", ls="--", lw=1, label="empty")
    ax_res.set_ylabel("reservoir (mL)")
    ax_res.set_ylim(bottom=0)
    ax_res.legend(loc="best", fontsize=8)
    ax_res.grid(alpha=0.3)

    unit, scale = ("mg", 1e6) if r.hard_max_ng >= 10**6 else ("mcg", 1e3)
    ax_dose.step(days, [w / scale for _, _, w in r.samples], where="post", color="#2ca02c", lw=1)
    ax_dose.axhline(r.hard_max_ng / scale, color="#d62728", lw=1.5, label="hard daily maximum")
    ax_dose.set_ylabel(f"rolling 24 h ({unit})")
    ax_dose.set_ylim(0, r.hard_max_ng / scale * 1.1)
    ax_dose.legend(loc="upper right", fontsize=8)
    ax_dose.grid(alpha=0.3)

    end_day = max(days[-1] if days else 0, 1)
    rows: dict[str, int] = {}
    for kind, prio, t0, t1 in r.alarm_spans:
        y = rows.setdefault(kind, len(rows) + 2)
        stop = (t1 if t1 is not None else r.samples[-1][0]) / DAY_S
        width = max(stop - t0 / DAY_S, end_day / 500)
        ax_ev.broken_barh([(t0 / DAY_S, width)], (y - 0.4, 0.8), color=_COLOURS[prio])
    granted = [t / DAY_S for t, ok, _ in r.boluses if ok]
    denied = [t / DAY_S for t, ok, _ in r.boluses if not ok]
    ax_ev.plot(granted, [1] * len(granted), "|", color="#2ca02c", ms=10, label="bolus granted")
    ax_ev.plot(denied, [0] * len(denied), "x", color="#d62728", ms=6, label="bolus denied")
    ax_ev.set_yticks([0, 1, *rows.values()], ["denied", "granted", *rows.keys()], fontsize=8)
    ax_ev.set_ylim(-0.8, len(rows) + 2.8)
    ax_ev.set_xlabel("day")
    ax_ev.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
