"""The CycloneDX SBOM beside the reports: the installed third-party packages, with versions,
matching SAFETY.md's SOUP table (the IEC 62304 SOUP list in machine-readable form)
(REQ-EVID-002)."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cyclonedx")

from itdose.proofs.provenance import CYCLONEDX_MISSING, normalize, provenance, write_sbom

REPO = Path(__file__).resolve().parents[2]


def _soup_table() -> set[str]:
    text = (REPO / "SAFETY.md").read_text(encoding="utf-8")
    section = text.split("## Software of unknown provenance (SOUP)", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names |= {normalize(n) for n in re.findall(r"`([A-Za-z0-9][A-Za-z0-9_.-]*)`", first)}
    return names


@pytest.fixture(scope="module")
def sbom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("sbom") / "sbom.cdx.json"
    assert write_sbom(path, provenance()) is None
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _components(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {normalize(c["name"]): c for c in doc["components"]}


def _prop(component: dict[str, Any], name: str) -> str | None:
    for p in component.get("properties", []):
        if p["name"] == name:
            return str(p["value"])
    return None


def test_sbom_is_cyclonedx_json_describing_itdose(sbom: dict[str, Any]) -> None:
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    root = sbom["metadata"]["component"]
    assert root["name"] == "itdose" and root["version"] == metadata.version("itdose")
    assert "itdose" not in _components(sbom)  # the SBOM lists the third-party packages


def test_every_soup_in_safety_md_is_in_the_sbom_with_its_installed_version(
    sbom: dict[str, Any],
) -> None:
    soup = _soup_table()
    assert {"z3-solver", "transitions", "cyclonedx-python-lib"} <= soup  # the table was parsed
    components = _components(sbom)
    missing = sorted(soup - set(components))
    # The test environment installs every extra, so each SOUP package must be present.
    assert not missing, f"SAFETY.md lists SOUP that the SBOM does not: {missing}"
    for name in soup:
        c = components[name]
        assert c["version"] == metadata.version(name), name
        assert c["purl"] == f"pkg:pypi/{name}@{c['version']}"


def test_every_declared_dependency_in_the_sbom_is_in_safety_md(sbom: dict[str, Any]) -> None:
    """The reverse direction: a package an itdose extra brings in is SOUP the table explains."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared: dict[str, set[str]] = {}
    for spec in project["dependencies"]:
        declared.setdefault(normalize(re.split(r"[<>=!~\[ ;]", spec)[0]), set()).add("install")
    for extra, specs in project["optional-dependencies"].items():
        for spec in specs:
            declared.setdefault(normalize(re.split(r"[<>=!~\[ ;]", spec)[0]), set()).add(extra)
    components = _components(sbom)
    soup = _soup_table()
    for name, c in components.items():
        required_by = _prop(c, "itdose:required-by")
        assert required_by is not None, name
        if required_by in ("transitive", "environment"):
            assert name not in declared, name
            continue
        assert set(required_by.split(",")) == declared[name], name
        assert name in soup, f"{name} is declared by itdose but not in SAFETY.md's SOUP table"


def test_sbom_dependency_graph_roots_at_itdose(sbom: dict[str, Any]) -> None:
    root_ref = sbom["metadata"]["component"]["bom-ref"]
    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    refs = {normalize(c["name"]): c["bom-ref"] for c in sbom["components"]}
    assert refs["z3-solver"] in deps[root_ref]
    assert refs["cyclonedx-python-lib"] in deps[root_ref]
    assert refs["packageurl-python"] in deps[refs["cyclonedx-python-lib"]]
    assert refs["packageurl-python"] not in deps[root_ref]


def test_without_the_cyclonedx_library_the_reason_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real = builtins.__import__

    def fake(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("cyclonedx"):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake)
    path = tmp_path / "sbom.cdx.json"
    assert write_sbom(path, provenance()) == CYCLONEDX_MISSING
    assert not path.exists()
    assert "pip install -q '.[proofs]'" in CYCLONEDX_MISSING
