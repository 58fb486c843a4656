"""Proof-only mutants of the core (tools/proof_mutation.py, docs/mutation.md): the mutants are
deterministic, each changes exactly one span of the source and compiles, and a mutant counts as
killed by a claim only when a claim fails with a counterexample, apart from crashes
(REQ-GOV-007)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("z3")

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "itdose_proof_mutation", ROOT / "tools" / "proof_mutation.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _tool()


@pytest.mark.parametrize("module", ["arith", "governor"])
def test_mutants_are_deterministic_single_span_changes_that_compile(module: str) -> None:
    source = (ROOT / "core" / f"{module}.py").read_bytes()
    first, second = tool.mutants(module, source), tool.mutants(module, source)
    assert first == second and len(first) > 20
    assert [m.index for m in first] == list(range(len(first)))
    for m in first:
        changed = m.apply(source)
        assert changed != source, m
        assert changed[: m.start] == source[: m.start]
        assert changed[m.start + len(m.text.encode()) :] == source[m.end :]
        ast.parse(changed)  # every mutant is valid Python
    kinds = {m.description for m in first}
    if module == "arith":
        # the IntOps.sub mutant is among them
        assert any(
            m.description == "- -> +" and b"a - b" in source[m.start - 2 : m.end + 2] for m in first
        )
        assert "ceil_div() -> floor_div()" in kinds


def _hand_mutant(old: bytes, new: str) -> tuple[Any, bytes]:
    source = (ROOT / "core" / "arith.py").read_bytes()
    start = source.index(old)
    return tool.Mutant("arith", 0, 0, start, start + len(old), new, "hand"), source


def test_a_mutant_that_breaks_a_claim_is_killed_by_the_claim() -> None:
    """IntOps.sub computing a + b fails ARITH-Z3's claim, with the claim named."""
    mutant, source = _hand_mutant(b"return a - b", "return a + b")
    outcome = tool.run_mutant(mutant, source, ["ARITH-Z3"], timeout=300)
    assert outcome.verdict == "claim", outcome
    assert outcome.detail.startswith("ARITH-Z3: IntOps.sub")


def test_an_equivalent_mutant_survives_and_an_unreadable_one_is_a_crash() -> None:
    mutant, source = _hand_mutant(b"return a + b", "return b + a")
    assert tool.run_mutant(mutant, source, ["ARITH-Z3"], timeout=300).verdict == "survived"
    # code the symbolic evaluation cannot read (a concrete conversion) is a crash, not a claim
    mutant, source = _hand_mutant(b"return a + b", "return int(a) + b")
    outcome = tool.run_mutant(mutant, source, ["ARITH-Z3"], timeout=300)
    assert outcome.verdict == "crash" and "could not build" in outcome.detail, outcome
    # an exception the runtime would raise on a valid input is a counterexample
    mutant, source = _hand_mutant(b"return a + b", "return a + b.nothing")
    outcome = tool.run_mutant(mutant, source, ["ARITH-Z3"], timeout=300)
    assert outcome.verdict == "claim" and "IntOps.add" in outcome.detail, outcome
