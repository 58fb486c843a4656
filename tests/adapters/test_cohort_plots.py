"""``itdose cohort --report DIR`` writes PNG plots: the largest 24 h tip amount as a share of the
hard maximum, under-delivery, alarm latency (docs/cohort-schema.md, "Plots").

Requirements: REQ-GOV-004, REQ-TIP-004, REQ-ALM-001 (the distributions the plots show)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
from itdose_cohortkit import make_cohort

from itdose.adapters.cli import main
from itdose.adapters.cohort_plot import PLOTS


def test_report_folder_holds_valid_plots_with_content(tmp_path: Path) -> None:
    make_cohort(tmp_path)
    rep = tmp_path / "rep"
    code = main(
        [
            "cohort",
            str(tmp_path / "tiny.toml"),
            "--patients",
            "2",
            "--years",
            "0.004",
            "--workers",
            "1",
            "--report",
            str(rep),
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads((rep / "report.json").read_text())
    assert report["plots"] == list(PLOTS)
    md = (rep / "report.md").read_text()
    for name in PLOTS:
        data = (rep / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"![{name}]({name})" in md
        img = matplotlib.image.imread(rep / name)
        assert img.shape[0] > 200 and img.shape[1] > 400, (name, img.shape)
        # more than a blank canvas: many distinct colours, and dark pixels (axes, text, bars)
        flat = img[..., :3].reshape(-1, 3)
        assert len(np.unique(np.round(flat * 255), axis=0)) > 20, name
        assert (flat.sum(axis=1) < 1.0).mean() > 0.005, name
