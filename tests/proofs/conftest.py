"""Shared fixtures of the proof and report tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def verified(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[bool, list[dict[str, Any]], Path]:
    """One ``run_verify`` without the tests, shared by every test that reads its reports."""
    pytest.importorskip("z3")
    from itdose.proofs import runner

    out = tmp_path_factory.mktemp("verify")
    stream = io.StringIO()
    ok, results = runner.run_verify(out, with_tests=False, stream=stream)
    assert "GOV-Z3" in stream.getvalue()
    return ok, results, out
