"""SAFETY.md: the generated hazard table, the required statements and the SOUP list."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from itdose.specs import trace

REPO = Path(__file__).resolve().parents[2]
SAFETY = REPO / "SAFETY.md"
REQ_FILE = REPO / "specs" / "requirements.toml"
HAZ_FILE = REPO / "specs" / "hazards.toml"


def _safety_text() -> str:
    return SAFETY.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_hazard_table_matches_hazards_toml() -> None:
    hazards = trace.load_hazards(HAZ_FILE, requirements_path=REQ_FILE)
    text = _safety_text()
    regenerated = trace.with_hazard_table(text, trace.hazard_table_markdown(hazards))
    assert text == regenerated, (
        "SAFETY.md hazard table drifted from specs/hazards.toml; run "
        "`python -m itdose.specs.trace --write SAFETY.md`"
    )


def test_drift_check_detects_a_changed_hazard() -> None:
    hazards = dict(trace.load_hazards(HAZ_FILE, requirements_path=REQ_FILE))
    original = hazards["HAZ-06"]
    hazards["HAZ-06"] = dataclasses.replace(original, severity="minor")
    text = _safety_text()
    assert trace.with_hazard_table(text, trace.hazard_table_markdown(hazards)) != text


def test_hazard_table_has_one_row_per_hazard_with_its_mitigations() -> None:
    hazards = trace.load_hazards(HAZ_FILE, requirements_path=REQ_FILE)
    block = _safety_text().split(trace.HAZARD_TABLE_START)[1].split(trace.HAZARD_TABLE_END)[0]
    rows = [line for line in block.splitlines() if line.startswith("| HAZ-")]
    assert [row.split(" | ")[0][2:] for row in rows] == sorted(hazards)
    for row, hazard in zip(rows, sorted(hazards.values(), key=lambda h: h.id), strict=True):
        cells = row.split(" | ")
        assert len(cells) == 8, row
        assert cells[4] == hazard.severity
        assert cells[6] == ", ".join(hazard.mitigations)


def test_table_cells_escape_pipes() -> None:
    hazards = dict(trace.load_hazards(HAZ_FILE, requirements_path=REQ_FILE))
    original = hazards["HAZ-01"]
    hazards["HAZ-01"] = dataclasses.replace(original, harm="a | b\nc")
    table = trace.hazard_table_markdown(hazards)
    assert "a \\| b c" in table


def test_with_hazard_table_needs_both_markers() -> None:
    with pytest.raises(ValueError, match="hazard-table"):
        trace.with_hazard_table("# no markers here\n")
    with pytest.raises(ValueError, match="hazard-table"):
        trace.with_hazard_table(f"{trace.HAZARD_TABLE_END}\n{trace.HAZARD_TABLE_START}\n")
    empty = f"a\n{trace.HAZARD_TABLE_START}\nold\n{trace.HAZARD_TABLE_END}\nb\n"
    filled = trace.with_hazard_table(empty, "| new |\n")
    assert filled == f"a\n{trace.HAZARD_TABLE_START}\n| new |\n{trace.HAZARD_TABLE_END}\nb\n"
    assert trace.with_hazard_table(filled, "| new |\n") == filled


def test_main_writes_and_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "SAFETY.md"
    doc.write_text(f"x\n{trace.HAZARD_TABLE_START}\n{trace.HAZARD_TABLE_END}\n", encoding="utf-8")
    assert trace.main(["--write", str(doc)]) == 0
    assert trace.hazard_table_markdown() in doc.read_text(encoding="utf-8")
    assert trace.main([]) == 0
    assert capsys.readouterr().out == trace.hazard_table_markdown()
    assert trace.main(["--bogus"]) == 2


def test_required_statements() -> None:
    text = _safety_text()
    assert "**itdose is not a cleared medical device.**" in text
    assert re.search(r"IEC 62304 software safety class C", text)
    assert "death or serious" in _section(text, "Classification and standards")
    assert "ISO 14708-4" in text
    standards = _section(text, "Classification and standards")
    assert re.search(
        r"IEC 60601-2-24\*\* \(external infusion pumps\) does \*not\* apply", standards
    )
    assumptions = _section(text, "Assumptions")
    phrases = ("Trusted Python runtime", "What the drive is trusted for", "Monotonic clock")
    for phrase in (*phrases, "library data"):
        assert phrase in assumptions, phrase
    assert "tubing volume is 0 mL" in assumptions
    assert "no faster than the order's pace" in assumptions
    evidence = _section(text, "What the evidence covers today")
    assert "Z3 proofs" in evidence and "not yet" in evidence
    rerun = _section(text, "Re-running the evidence")
    assert "itdose verify" in rerun


def test_rerun_section_quotes_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0]
    command = block.strip().strip("`").strip()
    assert command in _section(_safety_text(), "Re-running the evidence")


def _distribution_names() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower() for spec in specs}


def test_soup_table_lists_every_third_party_dependency() -> None:
    soup = _section(_safety_text(), "Software of unknown provenance (SOUP)")
    listed = set(re.findall(r"`([a-z0-9][a-z0-9_.-]*)`", soup))
    missing = sorted(_distribution_names() - listed)
    assert not missing, f"SAFETY.md SOUP table does not list {missing}"


def test_safety_doc_cites_only_defined_ids() -> None:
    specs = trace.load_specs(REQ_FILE, HAZ_FILE)
    text = _safety_text()
    for req_id in set(trace.REQ_ID_PATTERN.findall(text)):
        assert req_id in specs.requirements, req_id
    for haz_id in set(re.findall(r"\bHAZ-[0-9]+\b", text)):
        assert haz_id in specs.hazards, haz_id


def test_rerun_recipe_installs_what_with_tests_needs() -> None:
    """The recipe never asks for ``--with-tests`` in a virtual environment that lacks pytest:
    the ``test`` extra is installed in the same command or an earlier one."""
    rerun = _section(_safety_text(), "Re-running the evidence")
    commands = [
        line
        for block in re.findall(r"```\n(.*?)```", rerun, re.DOTALL)
        for line in block.splitlines()
    ]
    with_tests = [i for i, line in enumerate(commands) if "--with-tests" in line]
    assert with_tests, "the recipe shows how to run itdose verify --with-tests"
    first = with_tests[0]
    installs = [i for i, line in enumerate(commands) if "install -q '.[test]'" in line]
    assert installs and installs[0] <= first
    line = commands[installs[0]]
    if installs[0] == first:
        assert line.index("'.[test]'") < line.index("--with-tests")
