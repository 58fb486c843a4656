"""The committed lifecycle diagram is generated from the live table and must not drift."""

from __future__ import annotations

from pathlib import Path

from itdose.adapters.diagram import markdown, mermaid
from itdose.core.lifecycle import GUARDS, HIGH_ALARM_STOPS, RULES
from itdose.core.state import Phase

DOCS = Path(__file__).resolve().parents[2] / "docs/lifecycle.md"


def test_committed_diagram_matches_the_table() -> None:
    assert DOCS.read_text(encoding="utf-8") == markdown(), (
        "docs/lifecycle.md is stale: run `itdose diagram --markdown --out docs/lifecycle.md`"
    )


def test_diagram_has_every_phase_and_trigger() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for phase in Phase:
        assert phase.value in text
    for rule in RULES:
        assert rule.trigger in text
        if rule.guard is not None:
            assert f"[{rule.guard.name}]" in text
    # rule 5: one edge to alarm from every implanted phase but alarm itself (REQ-ALM-001)
    for phase in HIGH_ALARM_STOPS.sources - {Phase.ALARM}:
        assert f"{phase.value} --> alarm : high_alarm_raised (rule 5)" in text


def test_legend_says_what_each_guard_requires() -> None:
    text = markdown()
    for guard in GUARDS.values():
        assert f"- `{guard.name}`: {guard.text}\n" in text
