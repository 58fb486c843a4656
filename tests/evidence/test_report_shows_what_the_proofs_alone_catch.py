"""The evidence report shows what the proofs alone catch: the recorded proof-only runs of
proofs/mutation_record.py; the figures agree with docs/mutation.md, and a module changed since
its run is said to be.

Requirements: REQ-CORE-004."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from itdose.proofs import mutation_record

DOC = Path(__file__).resolve().parents[2] / "docs/mutation.md"


def test_the_recorded_figures_are_those_of_docs_mutation() -> None:
    """Each recorded run has the counts of its row in docs/mutation.md's proof-only table."""
    text = DOC.read_text("utf-8")
    table = text[text.index("### Results (runs of 2026-12-06") :]
    for run in mutation_record.RUNS:
        row = re.search(rf"^\| core/{run.module}\.py \| (.*)$", table, re.MULTILINE)
        assert row is not None, run.module
        cells = [c.strip() for c in row.group(1).split("|")]
        assert [int(c) for c in cells[:6]] == [
            run.mutants,
            run.claim,
            run.crash,
            run.other,
            run.survived,
            run.equivalent,
        ], run.module


def test_each_recorded_run_adds_up() -> None:
    for run in mutation_record.RUNS:
        assert run.claim + run.crash + run.other + run.survived == run.mutants, run.module
        assert run.equivalent <= run.survived, run.module


def test_a_module_changed_since_its_run_is_reported_as_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = mutation_record.RUNS[0]
    stale = dataclasses.replace(first, source_sha256="0" * 64)
    monkeypatch.setattr(mutation_record, "RUNS", (stale, *mutation_record.RUNS[1:]))
    row = mutation_record.summary()[0]
    assert row["source_unchanged"] is False
    section = "\n".join(mutation_record.markdown())
    assert f"| core/{first.module}.py |" in section
    assert f"--modules {first.module}`" in section


def test_an_unchanged_module_is_reported_as_unchanged() -> None:
    """The recorded hash is of the module's source file exactly (path.py has not changed since
    its run; if it does, record a new run)."""
    rows = {r["module"]: r for r in mutation_record.summary()}
    assert rows["core/path.py"]["source_unchanged"] is True


def test_the_share_is_rounded_down() -> None:
    run = mutation_record.MutationRun("x", "c", "d", "", 3, 2, 0, 0, 1, 0)
    assert run.claim_share == "66.6 %"
