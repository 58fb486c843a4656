"""A small run of tools/fuzz.py in CI, and regression tests for the bugs the fuzzer found.

``python tools/fuzz.py --count 100000 --seed 1`` is the long run; here 2000 inputs
(``ITDOSE_FUZZ_COUNT``) from a fixed seed must end in success, a ``DosingError`` or argparse's usage
exit, and change nothing when rejected. A newly found crash whose fix is pending may be listed in
:data:`KNOWN` with its own ``xfail(strict=True)`` test; none is open now.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from itdose.adapters import cli
from itdose.adapters.program_file import parse_program
from itdose.core import DosingError, Phase, Role, from_json, step, to_json
from itdose.core.commands import Tick

ROOT = Path(__file__).resolve().parents[2]

KNOWN: tuple[str, ...] = ()
"""Crash signatures of open bugs (none: the two the fuzzer found, a non-string
``opioid_status`` and an inconsistent decoded state, are fixed and kept below as regressions)."""


def _fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("itdose_fuzz", ROOT / "tools" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["itdose_fuzz"] = module
    spec.loader.exec_module(module)
    return module


def test_fuzz_smoke() -> None:
    fuzz = _fuzz()
    fuzzer = fuzz.run(int(os.environ.get("ITDOSE_FUZZ_COUNT", "2000")), seed=1)
    entries = {entry for entry, _ in fuzzer.counts}
    assert entries == set(fuzz.ENTRIES)
    unknown = [x for x in fuzzer.crashes if not any(k in f"{x[0]} {x[1]}" for k in KNOWN)]
    assert not unknown, unknown[:5]


_PROGRAM = {
    "pump": "prometra-ii-20",
    "drug": "morphine",
    "indication": "pain",
    "concentration": "10 mg/mL",
    "basal": {"mode": "continuous", "dose": "1 mg/day"},
}


@pytest.mark.parametrize("status", [["tolerant"], {"a": 1}])
def test_opioid_status_of_wrong_type_is_invalid_input(status: object) -> None:
    with pytest.raises(DosingError):
        parse_program({**_PROGRAM, "opioid_status": status}, 0)


def test_cli_exits_2_on_opioid_status_array(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'pump = "prometra-ii-20"\ndrug = "morphine"\nindication = "pain"\n'
        'concentration = "10 mg/mL"\nopioid_status = ["tolerant"]\n'
        '[basal]\nmode = "continuous"\ndose = "1 mg/day"\n',
        encoding="utf-8",
    )
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["check-program", str(path)])
    assert code == 2 and "opioid_status" in err.getvalue()


def test_inconsistent_state_document_is_rejected(library: object) -> None:
    from itdose_testkit import reach

    device = reach(Phase.ACTIVE, library)  # type: ignore[arg-type]
    doc = json.loads(to_json(device))
    doc["device"]["implant"] = None
    with pytest.raises(DosingError):
        decoded = from_json(json.dumps(doc))
        step(decoded, Tick(Role.SERVICE), (device.clock_s or 0) + 60, library)  # type: ignore[arg-type]
