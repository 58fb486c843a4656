"""Packaging: the README example runs, and nothing but ``itdose`` lands in site-packages."""

from __future__ import annotations

import doctest
from importlib import metadata
from pathlib import Path

import itdose.core
import itdose.specs

ROOT = Path(__file__).resolve().parents[2]


def test_readme_embedding_example_runs() -> None:
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False)
    assert result.attempted >= 10
    assert result.failed == 0


def _installed_record() -> list[str]:
    """Paths in the RECORD of the installed distribution (an in-tree egg-info has none)."""
    for dist in metadata.distributions():
        record = dist.read_text("RECORD")
        if dist.metadata["Name"] == "itdose" and record:
            return [line.split(",")[0] for line in record.splitlines() if line]
    raise AssertionError("itdose is not installed from a wheel")


def test_only_the_itdose_namespace_is_installed() -> None:
    paths = [p for p in _installed_record() if p.endswith(".py") and not p.startswith("..")]
    tops = {p.split("/")[0] for p in paths}
    assert tops == {"itdose"}, tops
    assert "itdose/__init__.py" not in paths  # a namespace package
    assert "itdose/core/machine.py" in paths


def test_typed_markers_and_data_ship() -> None:
    for pkg in (itdose.core, itdose.specs):
        assert (Path(pkg.__file__).parent / "py.typed").is_file()
    assert (Path(itdose.specs.__file__).parent / "drugs.toml").is_file()
    assert (Path(itdose.specs.__file__).parent / "pumps.toml").is_file()


def test_console_script_is_declared() -> None:
    eps = metadata.entry_points(group="console_scripts")
    assert any(ep.name == "itdose" and ep.value == "itdose.adapters.cli:main" for ep in eps)
