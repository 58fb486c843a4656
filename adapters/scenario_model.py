"""Scenario data: the parsed file (:class:`Scenario`, its timeline items and expectations) and
what a run produced (:class:`RunResult`, :class:`ExpectResult`, :class:`DayFigures`).

Shared by the parser (:mod:`itdose.adapters.scenario_parse`), the runner
(:mod:`itdose.adapters.scenario_run`) and the checker (:mod:`itdose.adapters.scenario_check`);
:mod:`itdose.adapters.scenario` is the public entry point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.core import commands as c
from itdose.core.dosing import SEGMENT_S
from itdose.core.library import Library
from itdose.core.program import Program
from itdose.core.state import Device

SCHEMA = "itdose-scenario/1"


@dataclass(frozen=True)
class TimelineItem:
    """One action of the timeline at ``at_s``: builds its core commands when it runs."""

    index: int
    at_s: int
    action: str
    role: str
    expect: str
    """``accepted`` (a rejection fails the run) or ``rejected`` (acceptance fails it)."""
    note: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Expectation:
    """One ``[[expect]]`` item (see the schema document)."""

    index: int
    type: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario file."""

    schema: str
    title: str
    description: str
    patient: Mapping[str, Any]
    pump: str
    catheter: str
    trimmed_mm: int
    drug: str
    indication: str
    concentration_ng_per_ml: int
    opioid_status: str | None
    programs: Mapping[str, tuple[Program, tuple[c.Override, ...]]]
    sim_config: sd.SimConfig
    faults: tuple[sd.SimEvent, ...]
    timeline: tuple[TimelineItem, ...]
    expectations: tuple[Expectation, ...]
    end_s: int
    library: Library
    library_overridden: bool
    utc_start_s: int
    max_segment_s: int = SEGMENT_S
    """Longest basal order the controller asks the core for (``[simulation] max_segment``)."""
    poll_s: int = SEGMENT_S
    """The controller's longest wait between drive polls while a command runs (``poll``); the
    drive's watchdog is twice that."""
    drive_wakeups: bool = False
    """The simulated drive wakes the controller when it stops a command on its own."""
    segment_backoff: bool = False
    """The controller asks for hourly orders for a while after the core refused a longer one."""


@dataclass
class DayFigures:
    """Per-day figures (day ``day`` is ``[day * 86400, (day + 1) * 86400)``)."""

    day: int
    delivered_ng: int = 0
    reservoir_nl: int | None = None
    boluses_granted: int = 0
    boluses_denied: int = 0
    max_window_ng: int = 0


@dataclass(frozen=True)
class ExpectResult:
    """The verdict on one expectation (or on one timeline item's ``expect``).

    ``detail`` is what the run showed, ``expected`` what the scenario asked for. An expectation
    judged after the end of a shortened run (``--until``) is not ``reached``: neither held nor
    failed (``ok`` is False, and :attr:`RunResult.ok` ignores it).
    """

    source: str
    type: str
    ok: bool
    detail: str
    expected: str = ""
    reached: bool = True

    @property
    def status(self) -> str:
        """``ok``, ``FAIL`` or ``not reached``."""
        if not self.reached:
            return "not reached"
        return "ok" if self.ok else "FAIL"


@dataclass
class RunResult:
    """Everything a run produced for the timeline, the JSON document and the plot."""

    scenario: Scenario
    device: Device
    events: list[dict[str, Any]] = field(default_factory=list)
    days: dict[int, DayFigures] = field(default_factory=dict)
    samples: list[tuple[int, int, int]] = field(default_factory=list)
    """(t_s, tracked reservoir nL, rolling 24 h delivered ng), thinned."""
    boluses: list[tuple[int, bool, tuple[str, ...]]] = field(default_factory=list)
    alarm_spans: list[tuple[str, str, int, int | None]] = field(default_factory=list)
    """(alarm kind, priority, raised at, cleared at or None)."""
    phases: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    probes: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    """t_s -> (lifetime delivered ng, reservoir nL, phase) at that instant."""
    results: list[ExpectResult] = field(default_factory=list)
    restarts: list[tuple[int, int, int]] = field(default_factory=list)
    """Controller restarts: (stopped at, started again at, the controller's timeline behind the
    drive's clock from then on), in seconds on the drive's clock."""
    hard_max_ng: int = 0
    steps: int = 0
    wakeups: int = 0
    drive_events: int = 0

    @property
    def ok(self) -> bool:
        """No expectation that was reached failed."""
        return all(r.ok or not r.reached for r in self.results)
