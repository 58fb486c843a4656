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

The work is split by stage: :mod:`itdose.adapters.scenario_parse` (the file into a
:class:`Scenario`, with the item parsers in :mod:`itdose.adapters.scenario_fields`),
:mod:`itdose.adapters.scenario_run` (the run) and :mod:`itdose.adapters.scenario_check` (the
verdicts); the data types are in :mod:`itdose.adapters.scenario_model`. This module is the public
entry point.
"""

from __future__ import annotations

from itdose.adapters.scenario_check import check_expectations, expected_text
from itdose.adapters.scenario_fields import parse_time
from itdose.adapters.scenario_model import (
    SCHEMA,
    DayFigures,
    Expectation,
    ExpectResult,
    RunResult,
    Scenario,
    TimelineItem,
)
from itdose.adapters.scenario_parse import load_scenario, parse_scenario
from itdose.adapters.scenario_run import run_scenario

__all__ = [
    "SCHEMA",
    "DayFigures",
    "ExpectResult",
    "Expectation",
    "RunResult",
    "Scenario",
    "TimelineItem",
    "check_expectations",
    "expected_text",
    "load_scenario",
    "parse_scenario",
    "parse_time",
    "run_scenario",
]
