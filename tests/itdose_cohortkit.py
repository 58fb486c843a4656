"""Shared pieces of the cohort tests: a tiny cohort file and result comparison."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from itdose.adapters.cohort_draw import Cohort, parse_cohort
from itdose.specs import load_library

__all__ = ["DAY_S", "TINY", "make_cohort", "stable"]

DAY_S = 86_400

TINY = """
schema = "itdose-cohort/1"
title = "tiny test cohort"
seed = 7
max_segment = "1 h"

[[therapy]]
drug = "morphine"
indication = "pain"
opioid_status = "tolerant"
concentrations = ["10 mg/mL", "25 mg/mL"]
dose = ["%(lo)s", "100 %%"]
patient_bolus = true

[[pump]]
model = "prometra-ii-20"
catheter = "prometra-catheter"
trim = ["0 cm", "40 cm"]

[bolus]
dose = ["1 %%", "3 %%"]
lockout = ["1 h", "2 h"]
max_per_24h = [2, 4]
requests_per_day = [2, 6]
burst_share = "50 %%"

[refill]
reservoir_use = ["%(use)s", "%(use)s"]
repeat_share = "30 %%"
change_share = "50 %%"
flush_share = "50 %%"

[faults]
comm_loss_mean = "2 days"
partial_delivery_mean = "3 days"
response = ["1 h", "6 h"]
"""


def make_cohort(tmp_path: Path, lo: str = "20 %", use: str = "2 %", extra: str = "") -> Cohort:
    """The tiny cohort (written to ``tmp_path / "tiny.toml"`` too); ``extra`` is appended."""
    text = TINY % {"lo": lo, "use": use} + extra
    (tmp_path / "tiny.toml").write_text(text)
    return parse_cohort(tomllib.loads(text), load_library())


def stable(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "cpu_s"} for r in results]
