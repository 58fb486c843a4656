"""Where a verification report came from: versions, commit, date, machine, and the SBOM.

A report that cannot be tied to the code and tools that produced it is not evidence. Both
reports of ``itdose verify`` carry :func:`provenance` (the itdose version, the git commit of
the checkout when there is one, the Python, z3 and hypothesis versions or "not installed", the
UTC date and the machine), and :func:`write_sbom` writes beside them a CycloneDX SBOM of the
installed third-party packages: the IEC 62304 SOUP list in machine-readable form, produced with
the CycloneDX library (``cyclonedx-python-lib``, in the ``proofs`` extra). Each component says
which ``itdose`` requirement or extra brings it in (property ``itdose:required-by``), or that
it is only present in the environment (``transitive`` / ``environment``).

Nothing here may fail the run: a missing tool, a folder that is not a git checkout or an
unreadable package record is reported as such.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CYCLONEDX_MISSING",
    "NOT_INSTALLED",
    "SBOM_NAME",
    "git_commit",
    "installed_version",
    "normalize",
    "provenance",
    "third_party_packages",
    "write_sbom",
]

NOT_INSTALLED = "not installed"
SBOM_NAME = "sbom.cdx.json"
CYCLONEDX_MISSING = (
    "SBOM not written: the CycloneDX library (cyclonedx-python-lib) is not installed; install "
    "the 'proofs' extra: .venv/bin/pip install -q '.[proofs]'"
)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def normalize(name: str) -> str:
    """A distribution name in its PEP 503 normal form (``Z3_Solver`` -> ``z3-solver``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``"not installed"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _is_itdose_checkout(root: Path) -> bool:
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r'^name\s*=\s*"itdose"', text, re.MULTILINE) is not None


def git_commit(candidates: Iterable[Path] | None = None) -> str:
    """The commit of the itdose checkout the code or the current folder is in, with
    ``(uncommitted changes)`` when the work tree differs from it; else a sentence saying why
    there is none (never raises)."""
    if candidates is None:
        import itdose.core

        here = Path(itdose.core.__file__).resolve().parent
        candidates = [here, Path.cwd()]
    for folder in candidates:
        root = _git(["rev-parse", "--show-toplevel"], folder)
        if root is None or not _is_itdose_checkout(Path(root)):
            continue
        commit = _git(["rev-parse", "HEAD"], Path(root))
        if commit is None:
            continue
        status = _git(["status", "--porcelain", "--untracked-files=no"], Path(root))
        return commit + (" (uncommitted changes)" if status else "")
    return "not available (not run from a git checkout of itdose, or git is not installed)"


def provenance(now: datetime | None = None) -> dict[str, str]:
    """The provenance block of both reports (all values are text)."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "itdose": installed_version("itdose"),
        "git_commit": git_commit(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "z3": installed_version("z3-solver"),
        "hypothesis": installed_version("hypothesis"),
        "cyclonedx": installed_version("cyclonedx-python-lib"),
        "date_utc": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.platform()} ({platform.machine() or 'unknown'})",
    }


def _requirements(dist: metadata.Distribution) -> list[tuple[str, str | None]]:
    """(normalized name, extra or None) for each requirement of ``dist``."""
    out = []
    for req in dist.requires or []:
        m = _NAME.match(req)
        if m is None:
            continue
        extra = _EXTRA.search(req)
        out.append((normalize(m.group(1)), extra.group(1) if extra else None))
    return out


def third_party_packages() -> dict[str, dict[str, Any]]:
    """Every installed distribution but itdose, by normalized name: ``name``, ``version``,
    ``license``, ``required_by`` (the itdose extras, ``install`` for a plain dependency) and
    ``depends_on`` (installed requirements)."""
    dists: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        dists.setdefault(normalize(name), dist)
    itdose = dists.pop("itdose", None)
    direct: dict[str, set[str]] = {}
    if itdose is not None:
        for name, extra in _requirements(itdose):
            direct.setdefault(name, set()).add(extra or "install")
    packages: dict[str, dict[str, Any]] = {}
    for key, dist in sorted(dists.items()):
        meta = dist.metadata
        found = meta.get_all("License-Expression") or meta.get_all("License") or [""]
        license_text = str(found[0])
        packages[key] = {
            "name": meta["Name"],
            "version": dist.version,
            "license": license_text.strip().splitlines()[0][:200] if license_text.strip() else "",
            "required_by": sorted(direct.get(key, ())),
            "depends_on": sorted(
                {n for n, extra in _requirements(dist) if extra is None and n in dists}
            ),
        }
    return packages


def write_sbom(path: Path, info: dict[str, str]) -> str | None:
    """Write the CycloneDX 1.6 JSON SBOM of :func:`third_party_packages` to ``path``; return
    None, or the reason it could not be written."""
    try:
        from cyclonedx.model import Property
        from cyclonedx.model.bom import Bom
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.output.json import JsonV1Dot6
        from packageurl import PackageURL
    except ImportError:
        return CYCLONEDX_MISSING
    packages = third_party_packages()
    root = Component(
        name="itdose",
        version=info.get("itdose", NOT_INSTALLED),
        type=ComponentType.APPLICATION,
        bom_ref="pkg:pypi/itdose",
        properties=[Property(name="itdose:git-commit", value=info.get("git_commit", ""))],
    )
    bom = Bom()
    bom.metadata.component = root
    components: dict[str, Any] = {}
    for key, pkg in packages.items():
        purl = PackageURL(type="pypi", name=key, version=pkg["version"])
        required_by = ",".join(pkg["required_by"]) or (
            "transitive"
            if any(key in other["depends_on"] for other in packages.values())
            else "environment"
        )
        props = [Property(name="itdose:required-by", value=required_by)]
        if pkg["license"]:
            props.append(Property(name="itdose:license-metadata", value=pkg["license"]))
        comp = Component(
            name=pkg["name"],
            version=pkg["version"],
            type=ComponentType.LIBRARY,
            purl=purl,
            bom_ref=purl.to_string(),
            properties=props,
        )
        components[key] = comp
        bom.components.add(comp)
    bom.register_dependency(root, [components[k] for k, p in packages.items() if p["required_by"]])
    for key, pkg in packages.items():
        bom.register_dependency(components[key], [components[d] for d in pkg["depends_on"]])
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    json.loads(text)  # the outputter's own product; a defect here must not pass silently
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        return f"SBOM not written: {path}: {exc.strerror}"
    return None
