"""The committed lifecycle diagram is generated from the live table and must not drift."""

from __future__ import annotations

from pathlib import Path

from itdose.core.diagram import markdown, mermaid
from itdose.core.lifecycle import RULES
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
        if rule.guard:
            assert f"[{rule.guard}]" in text
