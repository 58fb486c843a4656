"""Requirements, hazards and the traceability matrix (outside the pure core: reads files).

``specs/requirements.toml`` and ``specs/hazards.toml`` are the single source of every requirement
ID and hazard ID. This module loads and validates them, finds the requirement IDs that code and
tests cite, and builds the hazard -> requirement -> evidence matrix that ``itdose verify`` reports
(docs/architecture.md#evidence). It also renders the hazard table that SAFETY.md embeds between
:data:`HAZARD_TABLE_START` and :data:`HAZARD_TABLE_END`; a test keeps the two identical.

Validation is strict, because reviewers rely on the links: an unknown key, a missing or mistyped
field, a malformed ID or source, a link to an undefined entry, or a link present in one file but
not mirrored in the other raises :class:`SpecError` naming the file, the entry and the field.

Run ``python -m itdose.specs.trace`` to print the hazard table, or
``python -m itdose.specs.trace --write SAFETY.md`` to refresh the table in SAFETY.md.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

__all__ = [
    "HAZARDS_FILE",
    "HAZARD_TABLE_END",
    "HAZARD_TABLE_START",
    "REQUIREMENTS_FILE",
    "REQ_ID_PATTERN",
    "SEVERITIES",
    "VERIFICATION_METHODS",
    "Hazard",
    "Requirement",
    "SpecError",
    "Specs",
    "TraceRow",
    "Traceability",
    "hazard_table_markdown",
    "load_hazards",
    "load_requirements",
    "load_specs",
    "main",
    "parse_hazards",
    "parse_requirements",
    "requirement_ids_in_code",
    "traceability",
    "traceability_markdown",
    "with_hazard_table",
]

REQUIREMENTS_FILE: Final = "requirements.toml"
HAZARDS_FILE: Final = "hazards.toml"
HAZARD_TABLE_START: Final = "<!-- hazard-table -->"
HAZARD_TABLE_END: Final = "<!-- /hazard-table -->"

VERIFICATION_METHODS: Final = ("proof", "property", "unit", "symbolic", "structural")
SEVERITIES: Final = ("catastrophic", "critical", "serious", "minor")

#: A requirement ID anywhere in text (used to scan code, tests and docs).
REQ_ID_PATTERN: Final = re.compile(r"\bREQ-[A-Z]+-[0-9]+\b")
_REQ_ID: Final = re.compile(r"^REQ-[A-Z]+-[0-9]{3}$")
_HAZ_ID: Final = re.compile(r"^HAZ-[0-9]{2}$")

# Sources: a binding dosing rule or section (docs/dosing-rules.md#...), a section of the
# architecture (docs/architecture.md#...), a hazard row H1..H12 or a derived requirement 1..12 of
# docs/clinical-basis.md, or one of its numbered sources. That each anchor exists in its document
# is checked by tests/evidence/test_doc_references.py.
_SOURCE: Final = re.compile(
    r"^(?:docs/dosing-rules\.md#[a-z0-9-]+|docs/architecture\.md#[a-z0-9-]+"
    r"|docs/clinical-basis\.md#h(?P<h>[0-9]+)|docs/clinical-basis\.md#derived-(?P<d>[0-9]+)"
    r"|src (?P<s>[0-9]+))$"
)
_CLINICAL_HAZARD_ROWS: Final = 12
_DERIVED_REQUIREMENTS: Final = 12
_NUMBERED_SOURCES: Final = 70

_WHOLE_FILE: Final = "<file>"
_EVIDENCE: Final = "<evidence>"

_REQUIREMENT_FIELDS: Final = ("text", "rationale", "source", "hazards", "verification", "safety")
_HAZARD_FIELDS: Final = (
    "hazard",
    "situation",
    "harm",
    "severity",
    "causes",
    "mitigations",
    "source",
)


class SpecError(ValueError):
    """A requirements or hazards file (or an evidence mapping) that does not validate.

    ``file``, ``entry`` and ``field`` say where; the message repeats them.
    """

    def __init__(self, file: str, entry: str, field: str, message: str) -> None:
        self.file = file
        self.entry = entry
        self.field = field
        super().__init__(f"{file}: [{entry}] {field}: {message}")


@dataclass(frozen=True)
class Requirement:
    """One requirement of ``requirements.toml``."""

    id: str
    text: str
    rationale: str
    source: tuple[str, ...]
    hazards: tuple[str, ...]
    verification: tuple[str, ...]
    safety: bool


@dataclass(frozen=True)
class Hazard:
    """One hazard of ``hazards.toml`` (ISO 14971: hazard, hazardous situation, harm)."""

    id: str
    hazard: str
    situation: str
    harm: str
    severity: str
    causes: tuple[str, ...]
    mitigations: tuple[str, ...]
    source: tuple[str, ...]


@dataclass(frozen=True)
class Specs:
    """Both files, validated together (every link resolves and is mirrored)."""

    requirements: Mapping[str, Requirement]
    hazards: Mapping[str, Hazard]


# ------------------------------------------------------------------------------------------------
# Parsing and validation
# ------------------------------------------------------------------------------------------------


def _toml(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(file, _WHOLE_FILE, "toml", f"is not valid TOML: {exc}") from None


def _read(path: str | os.PathLike[str]) -> str:
    file = os.fspath(path)
    try:
        with open(file, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SpecError(file, _WHOLE_FILE, "file", f"cannot be read: {exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(file, _WHOLE_FILE, "encoding", f"is not UTF-8: {exc}") from None


def _packaged(name: str) -> str:
    return resources.files("itdose.specs").joinpath(name).read_text(encoding="utf-8")


def _table(file: str, entry: str, value: object, fields: Sequence[str]) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise SpecError(file, entry, _WHOLE_FILE, f"must be a table, got {type(value).__name__}")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise SpecError(
            file, entry, unknown[0], f"unknown key; allowed keys are {', '.join(fields)}"
        )
    for field in fields:
        if field not in value:
            raise SpecError(file, entry, field, "is missing")
    return value


def _text(file: str, entry: str, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise SpecError(file, entry, field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise SpecError(file, entry, field, "must not be empty")
    return value


def _strings(
    file: str, entry: str, field: str, value: object, *, allow_empty: bool = False
) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SpecError(file, entry, field, f"must be a list, got {type(value).__name__}")
    if not value and not allow_empty:
        raise SpecError(file, entry, field, "must not be empty")
    items: list[str] = []
    for item in value:
        text = _text(file, entry, field, item)
        if text in items:
            raise SpecError(file, entry, field, f"lists {text!r} twice")
        items.append(text)
    return tuple(items)


def _sources(file: str, entry: str, value: object) -> tuple[str, ...]:
    sources = _strings(file, entry, "source", value)
    for source in sources:
        match = _SOURCE.match(source)
        if match is None:
            raise SpecError(
                file,
                entry,
                "source",
                f"{source!r} is not 'docs/dosing-rules.md#<anchor>', "
                "'docs/architecture.md#<anchor>', 'docs/clinical-basis.md#h<n>', "
                "'docs/clinical-basis.md#derived-<n>' or 'src <n>'",
            )
        for group, limit in (
            ("h", _CLINICAL_HAZARD_ROWS),
            ("d", _DERIVED_REQUIREMENTS),
            ("s", _NUMBERED_SOURCES),
        ):
            number = match.group(group)
            if number is not None and not 1 <= int(number) <= limit:
                raise SpecError(
                    file,
                    entry,
                    "source",
                    f"{source!r}: docs/clinical-basis.md has no such item (1..{limit})",
                )
    return sources


def _ids(
    file: str, entry: str, field: str, value: object, pattern: re.Pattern[str], *, allow_empty: bool
) -> tuple[str, ...]:
    ids = _strings(file, entry, field, value, allow_empty=allow_empty)
    for item in ids:
        if not pattern.match(item):
            raise SpecError(file, entry, field, f"{item!r} is not an ID like {pattern.pattern}")
    return ids


def _entries(
    data: Mapping[str, object], file: str, pattern: re.Pattern[str]
) -> list[tuple[str, object]]:
    if not data:
        raise SpecError(file, _WHOLE_FILE, _WHOLE_FILE, "defines no entries")
    for entry in data:
        if not pattern.match(entry):
            raise SpecError(file, entry, _WHOLE_FILE, f"ID does not match {pattern.pattern}")
    return list(data.items())


def parse_requirements(text: str, file: str = REQUIREMENTS_FILE) -> dict[str, Requirement]:
    """Requirements from TOML text, each entry validated on its own (links not checked)."""
    result: dict[str, Requirement] = {}
    for entry, raw in _entries(_toml(text, file), file, _REQ_ID):
        table = _table(file, entry, raw, _REQUIREMENT_FIELDS)
        hazards = _ids(file, entry, "hazards", table["hazards"], _HAZ_ID, allow_empty=True)
        verification = _strings(file, entry, "verification", table["verification"])
        for method in verification:
            if method not in VERIFICATION_METHODS:
                raise SpecError(
                    file,
                    entry,
                    "verification",
                    f"{method!r} is not one of {', '.join(VERIFICATION_METHODS)}",
                )
        safety = table["safety"]
        if not isinstance(safety, bool):
            raise SpecError(file, entry, "safety", f"must be true or false, got {safety!r}")
        if safety and not hazards:
            raise SpecError(file, entry, "hazards", "a safety requirement must mitigate a hazard")
        result[entry] = Requirement(
            id=entry,
            text=_text(file, entry, "text", table["text"]),
            rationale=_text(file, entry, "rationale", table["rationale"]),
            source=_sources(file, entry, table["source"]),
            hazards=hazards,
            verification=verification,
            safety=safety,
        )
    return result


def parse_hazards(text: str, file: str = HAZARDS_FILE) -> dict[str, Hazard]:
    """Hazards from TOML text, each entry validated on its own (links not checked)."""
    result: dict[str, Hazard] = {}
    for entry, raw in _entries(_toml(text, file), file, _HAZ_ID):
        table = _table(file, entry, raw, _HAZARD_FIELDS)
        severity = _text(file, entry, "severity", table["severity"])
        if severity not in SEVERITIES:
            raise SpecError(
                file, entry, "severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        result[entry] = Hazard(
            id=entry,
            hazard=_text(file, entry, "hazard", table["hazard"]),
            situation=_text(file, entry, "situation", table["situation"]),
            harm=_text(file, entry, "harm", table["harm"]),
            severity=severity,
            causes=_strings(file, entry, "causes", table["causes"]),
            mitigations=_ids(
                file, entry, "mitigations", table["mitigations"], _REQ_ID, allow_empty=False
            ),
            source=_sources(file, entry, table["source"]),
        )
    return result


def _check_links(
    requirements: Mapping[str, Requirement],
    hazards: Mapping[str, Hazard],
    requirements_file: str,
    hazards_file: str,
) -> None:
    for req in requirements.values():
        for hazard_id in req.hazards:
            hazard = hazards.get(hazard_id)
            if hazard is None:
                raise SpecError(
                    requirements_file,
                    req.id,
                    "hazards",
                    f"{hazard_id} is not defined in {hazards_file}",
                )
            if req.id not in hazard.mitigations:
                raise SpecError(
                    requirements_file,
                    req.id,
                    "hazards",
                    f"{hazard_id} does not list {req.id} in its mitigations ({hazards_file})",
                )
    for hazard in hazards.values():
        for req_id in hazard.mitigations:
            target = requirements.get(req_id)
            if target is None:
                raise SpecError(
                    hazards_file,
                    hazard.id,
                    "mitigations",
                    f"{req_id} is not defined in {requirements_file}",
                )
            if hazard.id not in target.hazards:
                raise SpecError(
                    hazards_file,
                    hazard.id,
                    "mitigations",
                    f"{req_id} does not list {hazard.id} in its hazards ({requirements_file})",
                )


def load_specs(
    requirements_path: str | os.PathLike[str] | None = None,
    hazards_path: str | os.PathLike[str] | None = None,
) -> Specs:
    """Both files, validated and cross-checked; ``None`` means the packaged file."""
    if requirements_path is None:
        req_file, req_text = REQUIREMENTS_FILE, _packaged(REQUIREMENTS_FILE)
    else:
        req_file, req_text = os.fspath(requirements_path), _read(requirements_path)
    if hazards_path is None:
        haz_file, haz_text = HAZARDS_FILE, _packaged(HAZARDS_FILE)
    else:
        haz_file, haz_text = os.fspath(hazards_path), _read(hazards_path)
    requirements = parse_requirements(req_text, req_file)
    hazards = parse_hazards(haz_text, haz_file)
    _check_links(requirements, hazards, req_file, haz_file)
    return Specs(requirements=requirements, hazards=hazards)


def load_requirements(
    path: str | os.PathLike[str] | None = None,
    *,
    hazards_path: str | os.PathLike[str] | None = None,
) -> Mapping[str, Requirement]:
    """Every requirement, by ID, validated against the hazards file (see :func:`load_specs`)."""
    return load_specs(path, hazards_path).requirements


def load_hazards(
    path: str | os.PathLike[str] | None = None,
    *,
    requirements_path: str | os.PathLike[str] | None = None,
) -> Mapping[str, Hazard]:
    """Every hazard, by ID, validated against the requirements file (see :func:`load_specs`)."""
    return load_specs(requirements_path, path).hazards


# ------------------------------------------------------------------------------------------------
# Requirement IDs cited in code
# ------------------------------------------------------------------------------------------------


def _files(path: Path, suffixes: tuple[str, ...]) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        parts = child.relative_to(path).parts
        if any(part.startswith(".") or part == "__pycache__" for part in parts):
            continue
        if child.is_file() and child.suffix in suffixes:
            yield child


def requirement_ids_in_code(
    paths: Iterable[str | os.PathLike[str]], suffixes: Sequence[str] = (".py",)
) -> dict[str, tuple[str, ...]]:
    """Every requirement ID cited in the given files or folders, with ``path:line`` locations.

    Folders are searched recursively for files ending in one of ``suffixes`` (hidden folders and
    ``__pycache__`` skipped); a file named directly is scanned whatever its suffix.
    """
    found: dict[str, list[str]] = {}
    for root in paths:
        for file in _files(Path(root), tuple(suffixes)):
            text = file.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                for match in REQ_ID_PATTERN.finditer(line):
                    found.setdefault(match.group(), []).append(f"{file}:{number}")
    return {key: tuple(found[key]) for key in sorted(found)}


# ------------------------------------------------------------------------------------------------
# Traceability matrix
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceRow:
    """One hazard -> requirement link with the evidence for that requirement."""

    hazard_id: str
    severity: str
    requirement_id: str
    verification: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Traceability:
    """The hazard -> requirement -> evidence matrix and its gaps.

    ``rows``: one per hazard/requirement link, hazards in ID order, mitigations in file order.
    ``without_evidence``: safety requirements that no evidence names yet.
    ``outside_matrix``: requirements linked to no hazard (not safety-related), with evidence.
    """

    rows: tuple[TraceRow, ...]
    without_evidence: tuple[str, ...]
    outside_matrix: tuple[tuple[str, tuple[str, ...]], ...]
    hazards: Mapping[str, Hazard]
    requirements: Mapping[str, Requirement]

    @property
    def hazards_without_evidence(self) -> tuple[str, ...]:
        """Hazards none of whose mitigating requirements has any evidence yet."""
        covered = {row.hazard_id for row in self.rows if row.evidence}
        return tuple(h for h in self.hazards if h not in covered)


def traceability(evidence: Mapping[str, Sequence[str]], specs: Specs | None = None) -> Traceability:
    """Build the matrix from ``evidence`` (requirement ID -> names of the checks that passed
    for it, e.g. structural check or test IDs). An evidence key that is not a defined
    requirement raises :class:`SpecError`: evidence for an unknown claim is a defect."""
    loaded = load_specs() if specs is None else specs
    for req_id, names in evidence.items():
        if req_id not in loaded.requirements:
            raise SpecError(_EVIDENCE, req_id, "requirement", "is not defined in requirements")
        if isinstance(names, str):
            raise SpecError(_EVIDENCE, req_id, "evidence", "must be a list of names, not a string")
    ordered = {
        req_id: tuple(dict.fromkeys(evidence.get(req_id, ()))) for req_id in loaded.requirements
    }
    rows = tuple(
        TraceRow(
            hazard_id=hazard.id,
            severity=hazard.severity,
            requirement_id=req_id,
            verification=loaded.requirements[req_id].verification,
            evidence=ordered[req_id],
        )
        for hazard in sorted(loaded.hazards.values(), key=lambda h: h.id)
        for req_id in hazard.mitigations
    )
    without = tuple(r.id for r in loaded.requirements.values() if r.safety and not ordered[r.id])
    outside = tuple((r.id, ordered[r.id]) for r in loaded.requirements.values() if not r.hazards)
    return Traceability(
        rows=rows,
        without_evidence=without,
        outside_matrix=outside,
        hazards=loaded.hazards,
        requirements=loaded.requirements,
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def traceability_markdown(trace: Traceability) -> str:
    """The matrix as Markdown: one table row per hazard/requirement link, then the gaps."""
    safety = [r for r in trace.requirements.values() if r.safety]
    with_evidence = len(safety) - len(trace.without_evidence)
    lines = [
        f"{with_evidence} of {len(safety)} safety requirements have evidence; "
        f"{len(trace.hazards) - len(trace.hazards_without_evidence)} of {len(trace.hazards)} "
        "hazards have evidence for at least one mitigation.",
        "",
        "| Hazard | Severity | Requirement | Planned verification | Evidence |",
        "|---|---|---|---|---|",
    ]
    previous = ""
    for row in trace.rows:
        hazard = "" if row.hazard_id == previous else row.hazard_id
        severity = "" if row.hazard_id == previous else row.severity
        previous = row.hazard_id
        evidence = ", ".join(row.evidence) if row.evidence else "**none yet**"
        lines.append(
            f"| {hazard} | {severity} | {row.requirement_id} | {', '.join(row.verification)} "
            f"| {_cell(evidence)} |"
        )
    lines += ["", "Safety requirements without evidence yet: "]
    lines[-1] += ", ".join(trace.without_evidence) if trace.without_evidence else "none."
    lines += ["", "Requirements outside the hazard matrix (not safety-related):", ""]
    lines += ["| Requirement | Evidence |", "|---|---|"]
    for req_id, names in trace.outside_matrix:
        lines.append(f"| {req_id} | {_cell(', '.join(names)) if names else 'none yet'} |")
    return "\n".join(lines) + "\n"


def hazard_table_markdown(hazards: Mapping[str, Hazard] | None = None) -> str:
    """The hazard table (as embedded in SAFETY.md), generated from ``hazards.toml``."""
    table = load_hazards() if hazards is None else hazards
    lines = [
        "| ID | Hazard | Hazardous situation | Harm | Severity | Causes | Mitigated by | Source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for hazard in sorted(table.values(), key=lambda h: h.id):
        cells = (
            hazard.id,
            hazard.hazard,
            hazard.situation,
            hazard.harm,
            hazard.severity,
            "; ".join(hazard.causes),
            ", ".join(hazard.mitigations),
            "; ".join(hazard.source),
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def with_hazard_table(document: str, table: str | None = None) -> str:
    """``document`` with the text between the hazard-table markers replaced by ``table``
    (default: the generated table). Raises ``ValueError`` if the markers are missing."""
    start = document.find(HAZARD_TABLE_START)
    end = document.find(HAZARD_TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"document lacks {HAZARD_TABLE_START} ... {HAZARD_TABLE_END}")
    body = hazard_table_markdown() if table is None else table
    head = document[: start + len(HAZARD_TABLE_START)]
    return f"{head}\n{body}{document[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the hazard table, or with ``--write FILE`` refresh the table inside FILE."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stdout.write(hazard_table_markdown())
        return 0
    if len(args) == 2 and args[0] == "--write":
        path = Path(args[1])
        path.write_text(with_hazard_table(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    sys.stderr.write("usage: python -m itdose.specs.trace [--write SAFETY.md]\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
