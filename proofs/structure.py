"""Structural checks of the live lifecycle table (graph facts, no solver needed).

Each check reads :data:`itdose.core.lifecycle.RULES` itself, not a copy, and names the
requirement IDs it discharges. ``rules`` may be passed in so that tests can show each check
fails on a broken table (no vacuous checks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from itdose.core.lifecycle import (
    DELIVERING,
    GUARDS,
    HIGH_ALARM_STOPS,
    RULES,
    TERMINAL,
    Rule,
    StateRule,
)
from itdose.core.state import Phase

__all__ = ["CHECKS", "CheckResult", "StructuralCheck", "run_checks"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``status`` is ``"pass"`` or ``"fail"``."""

    id: str
    status: str
    seconds: float
    requirements: tuple[str, ...]
    title: str
    detail: str = ""


@dataclass(frozen=True)
class StructuralCheck:
    """A named check over a rule table; ``fn`` returns a list of problems (empty = pass)."""

    id: str
    title: str
    requirements: tuple[str, ...]
    fn: Callable[[Sequence[Rule]], list[str]] = field(repr=False)


def _successors(rules: Iterable[Rule]) -> dict[Phase, set[Phase]]:
    """Where each phase can go: a row's destination, or rule 5's from a row's destination."""
    succ: dict[Phase, set[Phase]] = {p: set() for p in Phase}
    for r in rules:
        succ[r.source].add(r.dest)
        if r.dest in HIGH_ALARM_STOPS.sources:
            succ[r.source].add(HIGH_ALARM_STOPS.dest)
    return succ


def _reachable(rules: Sequence[Rule], start: Phase) -> set[Phase]:
    succ = _successors(rules)
    seen = {start}
    todo = [start]
    while todo:
        for nxt in succ[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _all_reachable(rules: Sequence[Rule]) -> list[str]:
    seen = _reachable(rules, Phase.SCREENING)
    return [f"{p.value} is not reachable from screening" for p in Phase if p not in seen]


def _terminal_absorbing(rules: Sequence[Rule]) -> list[str]:
    return [
        f"terminal {r.source.value} has a row: {r.trigger} -> {r.dest.value}"
        for r in rules
        if r.source in TERMINAL
    ]


def _reaches_explanted(rules: Sequence[Rule]) -> list[str]:
    return [
        f"{p.value} cannot reach explanted"
        for p in Phase
        if p not in TERMINAL and Phase.EXPLANTED not in _reachable(rules, p)
    ]


def _delivering_can_stop(rules: Sequence[Rule]) -> list[str]:
    return [
        f"delivering {p.value} has no row to a non-delivering phase"
        for p in sorted(DELIVERING, key=lambda p: p.value)
        if not any(r.source is p and r.dest not in DELIVERING for r in rules)
    ]


def _guards_well_formed(rules: Sequence[Rule]) -> list[str]:
    problems = [
        f"{r.trigger} from {r.source.value}: unknown guard {r.guard!r}"
        for r in rules
        if r.guard is not None and GUARDS.get(r.guard.name) is not r.guard
    ]
    groups: dict[tuple[str, Phase], list[Rule]] = {}
    for r in rules:
        groups.setdefault((r.trigger, r.source), []).append(r)
    for (trigger, source), rows in groups.items():
        if len(rows) < 2:
            continue
        guards = [r.guard.name if r.guard is not None else None for r in rows]
        if None in guards or len(set(guards)) != len(guards):
            problems.append(
                f"{trigger} from {source.value}: {len(rows)} rows need distinct guards, "
                f"have {guards}"
            )
    return problems


def _roles_consistent(rules: Sequence[Rule]) -> list[str]:
    roles: dict[str, frozenset[object]] = {}
    problems = []
    for r in rules:
        if not r.roles:
            problems.append(f"{r.trigger} from {r.source.value}: no role may issue it")
        first = roles.setdefault(r.trigger, r.roles)
        if first != r.roles:
            problems.append(f"{r.trigger}: rows disagree on the roles allowed")
    return problems


def _high_alarm_stops(rules: Sequence[Rule], rule5: StateRule = HIGH_ALARM_STOPS) -> list[str]:
    """Rule 5 takes every raise_alarm, tick and drive_report row to alarm (a HIGH alarm they
    raise stops delivery in the same step); alarm is left only by a clinician's recovery."""
    problems = []
    if rule5.dest is not Phase.ALARM or rule5.dest in DELIVERING:
        problems.append(f"rule 5 ends in {rule5.dest.value}, not in alarm")
    for r in rules:
        raises = r.trigger in ("raise_alarm", "tick", "drive_report")
        if raises and r.dest not in rule5.sources:
            problems.append(
                f"a HIGH alarm raised by {r.trigger} in {r.source.value} does not "
                f"lead to alarm (the row ends in {r.dest.value})"
            )
        if r.source is Phase.ALARM and r.dest in DELIVERING:
            problems.append(f"alarm is left for delivering {r.dest.value} by {r.trigger}")
        recovery = r.trigger in ("clear_alarm", "begin_refill", "explant")
        if r.source is Phase.ALARM and r.dest is not Phase.ALARM and not recovery:
            problems.append(f"alarm is left by {r.trigger}, not by a clinician recovery")
    return problems


CHECKS: tuple[StructuralCheck, ...] = (
    StructuralCheck(
        "LIFE-S1", "every phase is reachable from screening", ("REQ-LIFE-009",), _all_reachable
    ),
    StructuralCheck(
        "LIFE-S2",
        "trial_failed and explanted are absorbing",
        ("REQ-LIFE-004",),
        _terminal_absorbing,
    ),
    StructuralCheck(
        "LIFE-S3",
        "every non-terminal phase can reach explanted",
        ("REQ-LIFE-010",),
        _reaches_explanted,
    ),
    StructuralCheck(
        "LIFE-S4",
        "every delivering phase reaches a non-delivering phase in one step",
        ("REQ-LIFE-006",),
        _delivering_can_stop,
    ),
    StructuralCheck(
        "LIFE-S5",
        "guards are known and distinct where rows share a trigger and source",
        ("REQ-LIFE-003",),
        _guards_well_formed,
    ),
    StructuralCheck(
        "LIFE-S6",
        "each trigger has one consistent, non-empty set of roles",
        ("REQ-LIFE-002",),
        _roles_consistent,
    ),
    StructuralCheck(
        "LIFE-S7",
        "a HIGH alarm leads to alarm, which only a clinician recovery leaves",
        ("REQ-ALM-001", "REQ-LIFE-007"),
        _high_alarm_stops,
    ),
)
"""The structural checks run by ``itdose verify``."""


def run_checks(rules: Sequence[Rule] = RULES) -> list[CheckResult]:
    """Run every structural check over ``rules`` (the live table by default)."""
    results = []
    for check in CHECKS:
        start = time.perf_counter()
        problems = check.fn(rules)
        results.append(
            CheckResult(
                id=check.id,
                status="fail" if problems else "pass",
                seconds=time.perf_counter() - start,
                requirements=check.requirements,
                title=check.title,
                detail="; ".join(problems),
            )
        )
    return results
