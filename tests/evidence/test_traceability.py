"""The traceability is checked, not hand-written: every safety requirement is cited by a test
function or discharged by a proof obligation or structural check, every cited ID exists, and
the runner folds a junit report into evidence (a failing citing test fails the requirement).

Static: no subprocess; the citation rule is the runner's own (:func:`citations_in_test_file`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from itdose.proofs import runner
from itdose.proofs.structure import CHECKS
from itdose.specs.trace import load_specs

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PROOF_FILES = [ROOT / "proofs" / "obligations.py", ROOT / "proofs" / "lifecycle_z3.py"]
# Built so that this file cites no undefined ID itself.
FAKE = "REQ-" + "NOPE-" + "999"

KNOWN_GAPS: dict[str, str] = {}
"""Safety requirements knowingly without a citing test or proof, with the reason. The report
shows them as 'none yet'; closing a gap must remove it from here (the test checks both ways)."""


def _test_citations() -> dict[str, set[str]]:
    """Requirement ID -> test functions citing it, over every test file."""
    cited: dict[str, set[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        for qualname, ids in runner.citations_in_test_file(path).items():
            if not qualname or not qualname.split("::")[-1].startswith("test"):
                continue
            for req in ids:
                cited.setdefault(req, set()).add(f"{path.relative_to(ROOT)}::{qualname}")
    return cited


def _proof_requirements() -> set[str]:
    found = {req for check in CHECKS for req in check.requirements}
    try:
        from itdose.proofs.obligations import all_obligations
    except ImportError:  # no z3: read the IDs the obligation files name
        for path in PROOF_FILES:
            found |= set(re.findall(r"\bREQ-[A-Z]+-[0-9]{3}\b", path.read_text("utf-8")))
    else:
        found |= {req for o in all_obligations() for req in o.requirements}
    return found


def test_every_safety_requirement_has_a_test_or_a_proof() -> None:
    specs = load_specs()
    covered = set(_test_citations()) | _proof_requirements()
    missing = {r.id for r in specs.requirements.values() if r.safety and r.id not in covered}
    assert missing <= set(KNOWN_GAPS), (
        f"safety requirements with no citing test and no proof: {sorted(missing - set(KNOWN_GAPS))}"
    )
    assert set(KNOWN_GAPS) <= missing, f"closed gaps to remove: {set(KNOWN_GAPS) - missing}"


def test_every_cited_id_is_defined() -> None:
    known = set(load_specs().requirements)
    unknown = {req: sorted(where)[:3] for req, where in _test_citations().items()}
    unknown = {req: where for req, where in unknown.items() if req not in known}
    assert not unknown, f"tests cite undefined requirements: {unknown}"
    assert _proof_requirements() <= known


def test_citation_rule(tmp_path: Path) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(
        '"""Module (REQ-GOV-002)."""\n'
        "\n"
        "class TestA:\n"
        '    """Class (REQ-BOL-001..003)."""\n'
        "\n"
        "    def test_m(self):\n"
        "        # comment REQ-LIFE-004\n"
        '        assert "REQ-LIFE-005"\n'
        "\n"
        "@decorator  # REQ-ALM-001\n"
        "def test_f():\n"
        '    """Doc (REQ-TIME-002)."""\n',
        "utf-8",
    )
    cited = runner.citations_in_test_file(path)
    assert cited[""] == {"REQ-GOV-002"}
    assert cited["TestA::test_m"] == {
        "REQ-GOV-002",
        "REQ-BOL-001",
        "REQ-BOL-002",
        "REQ-BOL-003",
        "REQ-LIFE-004",
    }  # the string literal in code is not a citation
    assert cited["test_f"] == {"REQ-GOV-002", "REQ-ALM-001", "REQ-TIME-002"}


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
<testcase classname="test_a" name="test_ok[1]" file="test_a.py" line="3"/>
<testcase classname="test_a" name="test_ok[2]" file="test_a.py" line="3"/>
<testcase classname="test_a" name="test_bad" file="test_a.py" line="7">
  <failure message="assert False">assert False</failure></testcase>
<testcase classname="test_a" name="test_skipped" file="test_a.py" line="11">
  <skipped message="no">no</skipped></testcase>
<testcase classname="test_a.TestK" name="test_method" file="test_a.py" line="16"/>
<testcase classname="test_a.TestMachine" name="runTest" file="../lib/stateful.py" line="1"/>
</testsuite></testsuites>
"""

SOURCE = f'''"""Module cites REQ-CORE-003 and {FAKE}."""

def test_ok(x):
    """(REQ-GOV-002)."""

def test_bad():
    """(REQ-GOV-001, REQ-GOV-002)."""
    assert False

def test_skipped():
    """(REQ-BOL-001)."""

class TestK:
    """(REQ-ALM-003)."""

    def test_method(self):
        pass

TestMachine = object
'''


@pytest.fixture
def folded(tmp_path: Path) -> runner.JunitFold:
    (tmp_path / "test_a.py").write_text(SOURCE, "utf-8")
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT, "utf-8")
    known = set(load_specs().requirements)
    return runner.fold_junit(junit, known, [tmp_path])


def test_junit_fold_maps_cases_to_functions(folded: runner.JunitFold) -> None:
    by_name = {f["test"].rsplit("::", 1)[-1]: f for f in folded.functions}
    assert by_name["test_ok"]["cases"] == 2 and by_name["test_ok"]["status"] == "pass"
    assert by_name["test_bad"]["status"] == "fail"
    assert by_name["test_skipped"]["status"] == "skip"
    assert by_name["test_method"]["requirements"] == ["REQ-ALM-003", "REQ-CORE-003"]
    # a generated TestCase whose method lives elsewhere cites what its module cites
    assert by_name["runTest"]["requirements"] == ["REQ-CORE-003"]
    assert all(f["test"].startswith(runner.TEST_PREFIX) for f in folded.functions)
    assert FAKE not in {r for f in folded.functions for r in f["requirements"]}
    assert folded.counts == {"pass": 4, "fail": 1, "skip": 1}


def test_a_failing_citing_test_fails_the_requirement(folded: runner.JunitFold) -> None:
    assert set(folded.failed) == {"REQ-GOV-001", "REQ-GOV-002", "REQ-CORE-003"}
    assert any(t.endswith("::test_ok") for t in folded.evidence["REQ-GOV-002"])
    assert "REQ-BOL-001" not in folded.evidence  # skipped: no evidence
    result = {
        "id": "TESTS",
        "kind": "tests",
        "status": "fail",
        "requirements": [],
        "evidence": {k: list(v) for k, v in folded.evidence.items()},
        "failed_requirements": {k: list(v) for k, v in folded.failed.items()},
    }
    proof = {"id": "GOV-Z3", "kind": "z3", "status": "pass", "requirements": ["REQ-GOV-002"]}
    evidence = runner._evidence([proof, result], set(load_specs().requirements))
    # the proof still counts; the passing test is replaced by the failing one
    assert evidence["REQ-GOV-002"][0] == "GOV-Z3"
    assert all(n.startswith(runner.FAILED_PREFIX) for n in evidence["REQ-GOV-002"][1:])
    assert evidence["REQ-GOV-001"] == [f"{runner.FAILED_PREFIX}{folded.failed['REQ-GOV-001'][0]}"]
    assert runner._failed_only(evidence) == {"REQ-GOV-001", "REQ-CORE-003"}
    assert evidence["REQ-ALM-003"][0].endswith("::TestK::test_method")
