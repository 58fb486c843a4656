"""Requirements, hazards and their links (itdose.specs.trace).

The shipped files must be complete and consistent, every requirement ID cited anywhere must be
defined, and malformed files must be rejected naming the file, the entry and the field.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from itdose.specs import trace
from itdose.specs.trace import SpecError, Specs

REPO = Path(__file__).resolve().parents[2]
REQ_FILE = REPO / "specs" / "requirements.toml"
HAZ_FILE = REPO / "specs" / "hazards.toml"

# IDs the code cited before requirements.toml existed; their numbering is frozen.
FROZEN_IDS = {
    "REQ-CORE-001": "pure function",
    "REQ-CORE-002": "unchanged",
    "REQ-CORE-003": "JSON",
    "REQ-CORE-004": "names the offending field",
    "REQ-CORE-005": "standard library only",
    "REQ-UNIT-001": "integers",
    "REQ-UNIT-002": "never rounded",
    "REQ-UNIT-003": "physical bound",
    "REQ-UNIT-004": "toward safety",
    "REQ-LIFE-001": "trigger and the current phase",
    "REQ-LIFE-002": "role",
    "REQ-LIFE-003": "mutually exclusive",
    "REQ-LIFE-004": "absorbing",
    "REQ-LIFE-005": "delivering phases",
    "REQ-LIFE-006": "one step",
    "REQ-LIFE-007": "fail-closed",
    "REQ-LIFE-008": "diagram",
    "REQ-LIFE-009": "reachable from screening",
    "REQ-LIFE-010": "reach explanted",
    "REQ-ALM-001": "HIGH-priority alarm stops delivery",
    "REQ-ALM-002": "LOW and MEDIUM",
    "REQ-ALM-003": "order of occurrence",
    "REQ-GOV-001": "never exceeds the request",
    "REQ-GOV-002": "hard daily maximum",
    "REQ-GOV-003": "empty threshold",
    "REQ-GOV-004": "every real rolling window",
    "REQ-GOV-005": "less than 1 fg",
    "REQ-GOV-006": "bolus history",
    "REQ-GOV-007": "z3 terms",
    "REQ-GOV-008": "all or nothing",
    "REQ-GOV-009": "lockout",
    "REQ-GOV-010": "reason",
}

# Every docs/dosing-rules.md section becomes requirements in these families.
DECISION_FAMILIES = (
    "TIME",
    "LIB",
    "DOSE",
    "BOL",
    "RES",
    "REF",
    "BRIDGE",
    "PRIME",
    "TITR",
    "BACL",
    "TRIAL",
    "MRI",
    "BATT",
    "ALM",
    "PERS",
)

# Where requirement IDs may be cited.
CITING_PATHS = [REPO / name for name in ("core", "proofs", "adapters", "specs", "tests")]
CITING_DOCS = [REPO / "docs", REPO / "README.md", REPO / "SAFETY.md"]


@pytest.fixture(scope="module")
def specs() -> Specs:
    return trace.load_specs(REQ_FILE, HAZ_FILE)


def _family(req_id: str) -> str:
    return req_id.split("-")[1]


# ------------------------------------------------------------------------------------------------
# The shipped files
# ------------------------------------------------------------------------------------------------


def test_packaged_files_are_the_repository_files() -> None:
    packaged = trace.load_specs()
    assert packaged == trace.load_specs(REQ_FILE, HAZ_FILE), "reinstall the package"


def test_every_hazard_has_a_mitigating_safety_requirement(specs: Specs) -> None:
    for hazard in specs.hazards.values():
        safety = [r for r in hazard.mitigations if specs.requirements[r].safety]
        assert safety, f"{hazard.id} has no safety requirement among its mitigations"


def test_every_link_resolves_and_is_mirrored() -> None:
    # Read the raw TOML, independently of the loader's own checks.
    reqs = tomllib.loads(REQ_FILE.read_text(encoding="utf-8"))
    hazards = tomllib.loads(HAZ_FILE.read_text(encoding="utf-8"))
    forward = {(r, h) for r, v in reqs.items() for h in v["hazards"]}
    backward = {(r, h) for h, v in hazards.items() for r in v["mitigations"]}
    assert forward == backward
    assert {h for _, h in forward} <= set(hazards)
    assert {r for r, _ in backward} <= set(reqs)


def test_every_safety_requirement_is_linked_from_a_hazard(specs: Specs) -> None:
    linked = {r for h in specs.hazards.values() for r in h.mitigations}
    unlinked = [r.id for r in specs.requirements.values() if r.safety and r.id not in linked]
    assert not unlinked


def test_every_requirement_id_cited_in_code_tests_or_docs_is_defined(specs: Specs) -> None:
    cited = trace.requirement_ids_in_code(CITING_PATHS)
    cited_docs = trace.requirement_ids_in_code(CITING_DOCS, suffixes=(".md",))
    undefined = {
        req_id: locations[:3]
        for req_id, locations in {**cited, **cited_docs}.items()
        if req_id not in specs.requirements
    }
    assert not undefined, f"cited but not in requirements.toml: {undefined}"
    # the scan really finds the IDs the code cites
    assert "REQ-GOV-002" in cited
    assert any("governor.py" in loc for loc in cited["REQ-GOV-002"])


def test_frozen_ids_keep_their_meaning(specs: Specs) -> None:
    for req_id, phrase in FROZEN_IDS.items():
        assert req_id in specs.requirements, req_id
        assert phrase.lower() in specs.requirements[req_id].text.lower(), req_id


def test_ids_are_numbered_without_gaps(specs: Specs) -> None:
    by_family: dict[str, list[int]] = {}
    for req_id in specs.requirements:
        by_family.setdefault(_family(req_id), []).append(int(req_id.rsplit("-", 1)[1]))
    for family, numbers in by_family.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), family
    numbers = sorted(int(h.split("-")[1]) for h in specs.hazards)
    assert numbers == list(range(1, len(numbers) + 1))


def test_every_dosing_rule_family_cites_the_dosing_rules(specs: Specs) -> None:
    for family in DECISION_FAMILIES:
        sourced = [
            r
            for r in specs.requirements.values()
            if _family(r.id) == family
            and any(s.startswith("docs/dosing-rules.md#") for s in r.source)
        ]
        assert sourced, f"no REQ-{family} requirement has docs/dosing-rules.md as source"


def test_clinical_hazards_h1_to_h12_are_haz_01_to_12(specs: Specs) -> None:
    for n in range(1, 13):
        assert f"docs/clinical-basis.md#h{n}" in specs.hazards[f"HAZ-{n:02d}"].source


def test_every_derived_requirement_of_the_clinical_basis_is_covered(specs: Specs) -> None:
    cited = {s for r in specs.requirements.values() for s in r.source}
    missing = [n for n in range(1, 13) if f"docs/clinical-basis.md#derived-{n}" not in cited]
    assert not missing


def test_decision_numbers_are_in_the_requirements(specs: Specs) -> None:
    # Spot checks that the exact values of docs/dosing-rules.md made it into the text.
    text = {k: r.text for k, r in specs.requirements.items()}
    assert "14.5 %" in text["REQ-REF-002"]
    assert "600 s" in text["REQ-ALM-008"]
    assert "90 days" in text["REQ-BATT-001"]
    assert "(t - 86400 s, t]" in text["REQ-TIME-002"]
    assert "2.4 mcg/day" in text["REQ-TITR-001"]
    assert "30 %" in text["REQ-TITR-003"] and "15 %" in text["REQ-TITR-003"]
    assert "0.048 mL/day" in text["REQ-DOSE-004"]
    assert "50 %" in text["REQ-TRIAL-002"]


def test_severity_and_verification_vocabularies(specs: Specs) -> None:
    assert {h.severity for h in specs.hazards.values()} <= set(trace.SEVERITIES)
    methods = {m for r in specs.requirements.values() for m in r.verification}
    assert methods <= set(trace.VERIFICATION_METHODS)
    assert "catastrophic" in {h.severity for h in specs.hazards.values()}


# ------------------------------------------------------------------------------------------------
# requirement_ids_in_code
# ------------------------------------------------------------------------------------------------


def test_requirement_ids_in_code_scans_folders_and_files(tmp_path: Path) -> None:
    req_a = "REQ-" + "AAA-001"
    req_b = "REQ-" + "BBB-002"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(f"x = 1\n# {req_a} and {req_b}\n{req_a}\n")
    (tmp_path / "pkg" / "notes.txt").write_text("REQ-" + "CCC-003\n")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "m.py").write_text("REQ-" + "DDD-004\n")
    (tmp_path / "pkg" / ".hidden").mkdir()
    (tmp_path / "pkg" / ".hidden" / "h.py").write_text("REQ-" + "EEE-005\n")
    (tmp_path / "single.txt").write_text("prefixREQ-" + "FFF-006 " + "REQ-" + "GGG-007\n")

    found = trace.requirement_ids_in_code([tmp_path / "pkg"])
    assert set(found) == {req_a, req_b}
    assert found[req_a] == (f"{tmp_path / 'pkg' / 'mod.py'}:2", f"{tmp_path / 'pkg' / 'mod.py'}:3")

    direct = trace.requirement_ids_in_code([tmp_path / "single.txt"])
    assert set(direct) == {"REQ-" + "GGG-007"}


# ------------------------------------------------------------------------------------------------
# Traceability matrix
# ------------------------------------------------------------------------------------------------


def test_traceability_rows_cover_every_link(specs: Specs) -> None:
    matrix = trace.traceability({}, specs)
    links = {(h.id, r) for h in specs.hazards.values() for r in h.mitigations}
    assert {(row.hazard_id, row.requirement_id) for row in matrix.rows} == links
    assert len(matrix.rows) == len(links)
    assert set(matrix.without_evidence) == {r.id for r in specs.requirements.values() if r.safety}
    assert set(matrix.hazards_without_evidence) == set(specs.hazards)


def test_traceability_attaches_evidence(specs: Specs) -> None:
    matrix = trace.traceability(
        {"REQ-LIFE-009": ["LIFE-S1"], "REQ-ALM-001": ["a", "b", "a"]}, specs
    )
    alm = [row for row in matrix.rows if row.requirement_id == "REQ-ALM-001"]
    assert alm and all(row.evidence == ("a", "b") for row in alm)
    assert "REQ-ALM-001" not in matrix.without_evidence
    assert "REQ-ALM-002" in matrix.without_evidence
    # REQ-LIFE-009 mitigates no hazard: listed outside the matrix with its evidence
    assert ("REQ-LIFE-009", ("LIFE-S1",)) in matrix.outside_matrix
    covered = {row.hazard_id for row in alm}
    assert covered.isdisjoint(matrix.hazards_without_evidence)

    text = trace.traceability_markdown(matrix)
    assert "| HAZ-03 | catastrophic | " in text
    assert "| REQ-ALM-001 | " in text and "| a, b |" in text
    assert "**none yet**" in text
    assert "| REQ-LIFE-009 | LIFE-S1 |" in text
    safety_total = sum(r.safety for r in specs.requirements.values())
    assert text.startswith(f"1 of {safety_total} safety requirements have evidence")


def test_traceability_rejects_evidence_for_an_undefined_requirement(specs: Specs) -> None:
    bogus = "REQ-" + "NOPE-001"
    with pytest.raises(SpecError) as info:
        trace.traceability({bogus: ["x"]}, specs)
    assert info.value.entry == bogus and info.value.field == "requirement"


def test_traceability_rejects_a_string_as_evidence_list(specs: Specs) -> None:
    with pytest.raises(SpecError) as info:
        trace.traceability({"REQ-ALM-001": "test_alarm"}, specs)
    assert info.value.field == "evidence"


# ------------------------------------------------------------------------------------------------
# Malformed files are rejected naming file, entry and field
# ------------------------------------------------------------------------------------------------


def _dump(data: dict[str, dict[str, Any]]) -> str:
    """A minimal TOML writer for the two files' shape (tables of strings, bools, string lists)."""
    lines: list[str] = []
    for entry, table in data.items():
        lines.append(f"[{entry}]")
        for key, value in table.items():
            if isinstance(value, bool):
                rendered = "true" if value else "false"
            elif isinstance(value, (str, int)):
                rendered = json.dumps(value)
            else:
                rendered = "[" + ", ".join(json.dumps(v) for v in value) + "]"
            lines.append(
                f"{json.dumps(key) if not re.match(r'^[a-z_]+$', key) else key} = {rendered}"
            )
        lines.append("")
    return "\n".join(lines)


def _load_raw() -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        tomllib.loads(REQ_FILE.read_text(encoding="utf-8")),
        tomllib.loads(HAZ_FILE.read_text(encoding="utf-8")),
    )


Mutation = Callable[[dict[str, Any], dict[str, Any]], None]


def _unmirror(reqs: dict[str, Any], hazards: dict[str, Any]) -> None:
    hazards["HAZ-01"]["mitigations"].remove("REQ-REF-004")


MALFORMED: list[tuple[str, Mutation, str, str, str]] = [
    (
        "unknown key",
        lambda r, h: r["REQ-CORE-001"].__setitem__("owner", "x"),
        "req",
        "REQ-CORE-001",
        "owner",
    ),
    (
        "missing field",
        lambda r, h: r["REQ-BOL-001"].pop("rationale"),
        "req",
        "REQ-BOL-001",
        "rationale",
    ),
    (
        "dangling hazard link",
        lambda r, h: r["REQ-BOL-001"]["hazards"].append("HAZ-99"),
        "req",
        "REQ-BOL-001",
        "hazards",
    ),
    (
        "dangling mitigation",
        lambda r, h: h["HAZ-05"]["mitigations"].append("REQ-" + "REF-099"),
        "haz",
        "HAZ-05",
        "mitigations",
    ),
    ("link not mirrored", _unmirror, "req", "REQ-REF-004", "hazards"),
    (
        "unknown verification method",
        lambda r, h: r["REQ-UNIT-002"].__setitem__("verification", ["inspection"]),
        "req",
        "REQ-UNIT-002",
        "verification",
    ),
    (
        "bad source",
        lambda r, h: r["REQ-TIME-001"].__setitem__("source", ["wikipedia"]),
        "req",
        "REQ-TIME-001",
        "source",
    ),
    (
        "source outside the repository",
        lambda r, h: r["REQ-TIME-002"].__setitem__("source", ["DECISIONS" + ".md"]),
        "req",
        "REQ-TIME-002",
        "source",
    ),
    (
        "dosing-rules source without an anchor",
        lambda r, h: r["REQ-TIME-003"].__setitem__("source", ["docs/dosing-rules.md"]),
        "req",
        "REQ-TIME-003",
        "source",
    ),
    (
        "hazard row out of range",
        lambda r, h: h["HAZ-03"].__setitem__("source", ["docs/clinical-basis.md#" + "h13"]),
        "haz",
        "HAZ-03",
        "source",
    ),
    (
        "derived requirement out of range",
        lambda r, h: r["REQ-TIME-004"].__setitem__(
            "source", ["docs/clinical-basis.md#" + "derived-0"]
        ),
        "req",
        "REQ-TIME-004",
        "source",
    ),
    (
        "source number out of range",
        lambda r, h: h["HAZ-02"].__setitem__("source", ["src 71"]),
        "haz",
        "HAZ-02",
        "source",
    ),
    (
        "safety not a bool",
        lambda r, h: r["REQ-LIB-001"].__setitem__("safety", "yes"),
        "req",
        "REQ-LIB-001",
        "safety",
    ),
    (
        "empty text",
        lambda r, h: r["REQ-LIB-002"].__setitem__("text", "  "),
        "req",
        "REQ-LIB-002",
        "text",
    ),
    (
        "bad severity",
        lambda r, h: h["HAZ-07"].__setitem__("severity", "bad"),
        "haz",
        "HAZ-07",
        "severity",
    ),
    (
        "missing hazard field",
        lambda r, h: h["HAZ-08"].pop("harm"),
        "haz",
        "HAZ-08",
        "harm",
    ),
    (
        "empty causes",
        lambda r, h: h["HAZ-09"].__setitem__("causes", []),
        "haz",
        "HAZ-09",
        "causes",
    ),
    (
        "duplicate list item",
        lambda r, h: r["REQ-DOSE-001"]["verification"].append("structural"),
        "req",
        "REQ-DOSE-001",
        "verification",
    ),
    (
        "malformed requirement ID",
        lambda r, h: r.__setitem__("REQ-dose-1", dict(r["REQ-DOSE-001"])),
        "req",
        "REQ-dose-1",
        "<file>",
    ),
    (
        "string instead of list",
        lambda r, h: h["HAZ-10"].__setitem__("causes", "battery"),
        "haz",
        "HAZ-10",
        "causes",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "which", "entry", "field"),
    [pytest.param(m, w, e, f, id=name) for name, m, w, e, f in MALFORMED],
)
def test_malformed_files_are_rejected_naming_file_entry_and_field(
    tmp_path: Path, mutate: Mutation, which: str, entry: str, field: str
) -> None:
    reqs, hazards = _load_raw()
    req_path = tmp_path / "requirements.toml"
    haz_path = tmp_path / "hazards.toml"
    # the unmodified round trip loads: the failure below is the mutation's doing
    req_path.write_text(_dump(reqs), encoding="utf-8")
    haz_path.write_text(_dump(hazards), encoding="utf-8")
    assert trace.load_specs(req_path, haz_path) == trace.load_specs(REQ_FILE, HAZ_FILE)

    mutate(reqs, hazards)
    req_path.write_text(_dump(reqs), encoding="utf-8")
    haz_path.write_text(_dump(hazards), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        trace.load_specs(req_path, haz_path)
    expected_file = str(req_path if which == "req" else haz_path)
    assert (info.value.file, info.value.entry, info.value.field) == (expected_file, entry, field)
    message = str(info.value)
    assert expected_file in message and entry in message and field in message


def test_safety_requirement_without_hazard_is_rejected(tmp_path: Path) -> None:
    reqs, hazards = _load_raw()
    reqs["REQ-BATT-001"]["hazards"] = []
    hazards["HAZ-10"]["mitigations"].remove("REQ-BATT-001")
    req_path, haz_path = tmp_path / "r.toml", tmp_path / "h.toml"
    req_path.write_text(_dump(reqs), encoding="utf-8")
    haz_path.write_text(_dump(hazards), encoding="utf-8")
    with pytest.raises(SpecError, match=r"REQ-BATT-001\] hazards: a safety requirement"):
        trace.load_requirements(req_path, hazards_path=haz_path)
    # the same entry marked non-safety is accepted
    reqs["REQ-BATT-001"]["safety"] = False
    req_path.write_text(_dump(reqs), encoding="utf-8")
    loaded = trace.load_requirements(req_path, hazards_path=haz_path)
    assert loaded["REQ-BATT-001"].safety is False


def test_invalid_toml_and_unreadable_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "hazards.toml"
    bad.write_text("[HAZ-01\nhazard = 1\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        trace.load_hazards(bad, requirements_path=REQ_FILE)
    assert info.value.file == str(bad) and info.value.field == "toml"
    missing = tmp_path / "absent.toml"
    with pytest.raises(SpecError) as info:
        trace.load_requirements(missing, hazards_path=HAZ_FILE)
    assert info.value.file == str(missing) and info.value.field == "file"
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SpecError, match="defines no entries"):
        trace.load_requirements(empty, hazards_path=HAZ_FILE)
