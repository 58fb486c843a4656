"""The structural checks pass on the live table and each fails on a seeded broken table."""

from __future__ import annotations

import dataclasses

import pytest

from itdose.core.lifecycle import HIGH_ALARM_STOPS, RULES, Rule
from itdose.core.state import Phase, Role
from itdose.proofs.structure import CHECKS, _high_alarm_stops, run_checks


def test_all_checks_pass_on_the_live_table() -> None:
    results = run_checks()
    assert [r.id for r in results] == [c.id for c in CHECKS]
    assert all(r.status == "pass" for r in results), [r.detail for r in results]
    assert all(r.requirements for r in results)


def _without(pred: object) -> tuple[Rule, ...]:
    assert callable(pred)
    kept = tuple(r for r in RULES if not pred(r))
    assert len(kept) < len(RULES)
    return kept


C = frozenset({Role.CLINICIAN})

BROKEN: dict[str, tuple[Rule, ...]] = {
    # an unreachable phase: nothing leads to refill
    "LIFE-S1": _without(lambda r: r.dest is Phase.REFILL),
    # a terminal state with an exit
    "LIFE-S2": (*RULES, Rule("resume", Phase.EXPLANTED, Phase.ACTIVE, C)),
    # a phase that can no longer reach explanted: alarm has no exit but itself
    "LIFE-S3": _without(lambda r: r.source is Phase.ALARM and r.dest is not Phase.ALARM),
    # active cannot be stopped in one step
    "LIFE-S4": _without(lambda r: r.source is Phase.ACTIVE and r.dest is not Phase.ACTIVE),
    # two unguarded rows for one trigger and source
    "LIFE-S5": (*RULES, Rule("suspend", Phase.ACTIVE, Phase.ALARM, C)),
    # a trigger whose rows disagree on roles
    "LIFE-S6": (*RULES, Rule("suspend", Phase.PRIMING, Phase.SUSPENDED, frozenset({Role.PATIENT}))),
    # a HIGH alarm that does not stop delivery: raise_alarm from active ends outside the phases
    # rule 5 applies to
    "LIFE-S7": tuple(
        dataclasses.replace(r, dest=Phase.IMPLANT_READY)
        if (r.trigger, r.source) == ("raise_alarm", Phase.ACTIVE)
        else r
        for r in RULES
    ),
}


@pytest.mark.parametrize("check_id", [c.id for c in CHECKS])
def test_each_check_catches_its_seeded_defect(check_id: str) -> None:
    results = {r.id: r for r in run_checks(BROKEN[check_id])}
    assert results[check_id].status == "fail"
    assert results[check_id].detail


def test_every_check_has_a_seeded_defect() -> None:
    assert set(BROKEN) == {c.id for c in CHECKS}


def test_high_alarm_check_reads_rule_5() -> None:
    """LIFE-S7 fails when rule 5 ends anywhere but alarm (REQ-ALM-001)."""
    rule5 = dataclasses.replace(HIGH_ALARM_STOPS, dest=Phase.SUSPENDED)
    assert _high_alarm_stops(RULES, rule5) == ["rule 5 ends in suspended, not in alarm"]
    assert _high_alarm_stops(RULES) == []


def test_reachability_follows_rule_5() -> None:
    """Without the rows that lead to alarm, alarm is still reached through rule 5 (LIFE-S1)."""
    rows = _without(lambda r: r.dest is Phase.ALARM)
    assert {r.id: r.status for r in run_checks(rows)}["LIFE-S1"] == "pass"
