"""Every document the repository cites is in the repository.

The repository carries its own rationale (docs/architecture.md#conventions): the clinical facts
(docs/clinical-basis.md), the dosing rules (docs/dosing-rules.md), the architecture and the drive
protocol (docs/hardware.md). A reviewer must be able to follow every reference from code, specs,
tests and docs without anything outside the repository. These tests scan every tracked text file:

- each reference to a Markdown file (``name.md``, ``dir/name.md``, ``name.md#anchor``) resolves to a
  file of the repository, relative to the citing file or to the repository root, and its anchor,
  if any, is defined in that file (an ``<a id="...">`` or a heading);
- every relative link of a Markdown document (``[text](target)``) resolves;
- no file names a path outside the repository (a sibling folder of the checkout, or a path of the
  machine it was written on).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: A Markdown file named in any text: a path-like token ending in ``.md``, with an optional anchor.
#: Tokens inside URLs never match (a token must not follow ``/``, ``.`` or a word character); an
#: anchor written as a template (``#h<n>``, ``#h{n}``) is not checked, only its file.
MD_REFERENCE = re.compile(
    r"(?<![\w./-])(?P<path>(?:\.\./)*\w[\w./-]*\.md)(?:#(?P<anchor>[\w-]+)(?![\w<{-]))?\b"
)

#: A relative Markdown link target: ``[text](target)`` with no scheme and not a pure anchor.
MD_LINK = re.compile(r"\]\((?P<target>[^)\s#]+)(?:#(?P<anchor>[^)\s]*))?\)")

#: Names of Markdown files that commands and tests write (outputs), not documents they cite.
OUTPUT_NAMES = frozenset({"report.md", "d.md", "out.md"})

#: Paths that point outside the checkout (built so that this file does not contain them).
OUTSIDE = tuple(
    re.compile(re.escape(p))
    for p in ("../" + "shared", "/" + "work/", "/" + "root/", "shared/" + "domain/")
)

#: Folders never scanned when the tree is walked instead of asking git.
SKIP_DIRS = frozenset({"__pycache__", "build", "dist", "typecheck", "mutants"})

#: Output folders at the top of the checkout only (``tests/evidence`` holds tests).
SKIP_TOP_DIRS = frozenset({"evidence"})

_EXPLICIT_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["'](?P<id>[^"']+)["']""")
_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Problem:
    """One unresolved reference: where it is and what is wrong."""

    file: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text!r}: {self.reason}"


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks under ``root``; without git, every file outside hidden and build
    folders."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return [
            p
            for p in sorted(root.rglob("*"))
            if p.is_file()
            and p.relative_to(root).parts[0] not in SKIP_TOP_DIRS
            and not any(
                part.startswith(".") or part in SKIP_DIRS or part.endswith(".egg-info")
                for part in p.relative_to(root).parts[:-1]
            )
        ]
    return [root / name for name in out.decode("utf-8").split("\0") if name]


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def heading_slug(text: str) -> str:
    """The anchor GitHub derives from a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor a Markdown document defines: explicit ``<a id>`` and heading slugs."""
    found = {m.group("id") for m in _EXPLICIT_ANCHOR.finditer(markdown)}
    in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        heading = _HEADING.match(line)
        if heading and not in_fence:
            found.add(heading_slug(heading.group("text")))
    return found


def resolve(root: Path, citing: Path, target: str) -> Path | None:
    """The repository file ``target`` names, relative to the citing file's folder or to the
    root; None if neither exists or the result leaves the repository."""
    for base in (citing.parent, root):
        candidate = (base / target).resolve()
        if candidate.is_relative_to(root.resolve()) and candidate.exists():
            return candidate
    return None


def _check_target(
    root: Path, file: Path, number: int, text: str, target: str, anchor: str | None
) -> Iterator[Problem]:
    rel = str(file.relative_to(root))
    found = resolve(root, file, target)
    if found is None:
        yield Problem(rel, number, text, "no such file in the repository")
        return
    if anchor and found.is_file() and found.suffix == ".md":
        defined = anchors(found.read_text(encoding="utf-8"))
        if anchor not in defined:
            yield Problem(rel, number, text, f"{found.relative_to(root.resolve())} has no anchor")


def reference_problems(root: Path, files: Iterable[Path]) -> list[Problem]:
    """Every Markdown reference or relative link in ``files`` that does not resolve."""
    problems: list[Problem] = []
    for file in files:
        text = read_text(file)
        if text is None:
            continue
        is_markdown = file.suffix == ".md"
        for number, line in enumerate(text.splitlines(), start=1):
            for m in MD_REFERENCE.finditer(line):
                if Path(m.group("path")).name in OUTPUT_NAMES:
                    continue
                path, anchor = m.group("path"), m.group("anchor")
                problems.extend(_check_target(root, file, number, m.group(0), path, anchor))
            if not is_markdown:
                continue
            for m in MD_LINK.finditer(line):
                target = m.group("target")
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.endswith(".md"):
                    continue  # a URL, or a Markdown file already checked above
                problems.extend(_check_target(root, file, number, m.group(0), target, None))
        if is_markdown:
            defined = anchors(text)
            for number, line in enumerate(text.splitlines(), start=1):
                for m in re.finditer(r"\]\(#(?P<anchor>[\w-]+)\)", line):
                    if m.group("anchor") not in defined:
                        problems.append(
                            Problem(str(file.relative_to(root)), number, m.group(0), "no anchor")
                        )
    return problems


def outside_path_problems(root: Path, files: Iterable[Path]) -> list[Problem]:
    """Every mention of a path outside the repository."""
    problems: list[Problem] = []
    for file in files:
        text = read_text(file)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for pattern in OUTSIDE:
                for m in pattern.finditer(line):
                    problems.append(
                        Problem(str(file.relative_to(root)), number, m.group(0), "outside path")
                    )
    return problems


def _report(problems: list[Problem]) -> str:
    files = sorted({p.file for p in problems})
    return (
        f"{len(problems)} unresolved reference(s) in {len(files)} file(s): {', '.join(files)}\n"
        + "\n".join(str(p) for p in problems)
    )


# ------------------------------------------------------------------------------------------------
# The repository
# ------------------------------------------------------------------------------------------------


def test_every_cited_markdown_file_and_anchor_is_in_the_repository() -> None:
    # This file is left out: its scanner tests name files that deliberately do not exist.
    files = [f for f in tracked_files(REPO) if f.resolve() != Path(__file__).resolve()]
    problems = reference_problems(REPO, files)
    assert not problems, _report(problems)


def test_no_file_names_a_path_outside_the_repository() -> None:
    problems = outside_path_problems(REPO, tracked_files(REPO))
    assert not problems, _report(problems)


def test_the_rationale_documents_exist_and_define_the_anchors_code_cites() -> None:
    docs = REPO / "docs"
    clinical = anchors((docs / "clinical-basis.md").read_text(encoding="utf-8"))
    assert {f"h{n}" for n in range(1, 13)} <= clinical
    assert {f"derived-{n}" for n in range(1, 13)} <= clinical
    assert {f"src-{n}" for n in range(1, 71)} <= clinical
    assert {"ziconotide", "morphine", "baclofen", "synchromed-ii", "prometra", "pacc"} <= clinical
    rules = anchors((docs / "dosing-rules.md").read_text(encoding="utf-8"))
    assert {
        "time",
        "limits",
        "restart-is-not-titration",
        "patient-activated-bolus",
        "reservoir-refill-and-alarms",
        "silencing",
        "what-reaches-the-patient",
        "clock-and-history",
        "baclofen",
        "trial",
        "mri",
        "worked-examples",
    } <= rules
    architecture = anchors((docs / "architecture.md").read_text(encoding="utf-8"))
    assert {
        "functional-core",
        "units-and-arithmetic",
        "lifecycle",
        "dosing",
        "fluid-path",
        "evidence",
        "adapters",
        "conventions",
        "operator-api",
    } <= architecture


def test_every_dosing_rule_has_the_anchor_of_its_id() -> None:
    text = (REPO / "docs" / "dosing-rules.md").read_text(encoding="utf-8")
    ids = re.findall(r"\*\*(R-[A-Z]+-[0-9]+) ", text)
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    missing = [i for i in ids if i.lower() not in anchors(text)]
    assert not missing


# ------------------------------------------------------------------------------------------------
# The scanner itself, on a small tree
# ------------------------------------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [tmp_path / name for name in files]


def test_scanner_accepts_references_relative_to_the_file_or_the_root(tmp_path: Path) -> None:
    files = _tree(
        tmp_path,
        {
            "docs/rules.md": (
                '# Rules\n<a id="r-1"></a>\n## Time and clocks\nSee [facts](facts.md).\n'
            ),
            "docs/facts.md": "# Facts\n[back](rules.md#r-1) [top](#facts)\n",
            "core/x.py": '"""Cites docs/rules.md#r-1, docs/rules.md#time-and-clocks, '
            'docs/rules.md#r-<n>."""\n',
            "README.md": "[doc](docs/rules.md) and a URL https://example.org/OTHER.md\n",
        },
    )
    assert reference_problems(tmp_path, files) == []


def test_scanner_reports_missing_files_anchors_and_links(tmp_path: Path) -> None:
    files = _tree(
        tmp_path,
        {
            "docs/rules.md": "# Rules\n[gone](gone.png) [nowhere](#nowhere)\n",
            "core/x.py": '"""Cites NOTES.md and docs/rules.md#r-9."""\n',
        },
    )
    problems = reference_problems(tmp_path, files)
    assert sorted((p.file, p.text) for p in problems) == [
        ("core/x.py", "NOTES.md"),
        ("core/x.py", "docs/rules.md#r-9"),
        ("docs/rules.md", "](#nowhere)"),
        ("docs/rules.md", "](gone.png)"),
    ]
    assert "core/x.py" in _report(problems) and "docs/rules.md" in _report(problems)


def test_scanner_rejects_a_reference_that_leaves_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (tmp_path / "NOTES.md").write_text("# outside\n", encoding="utf-8")
    files = _tree(repo, {"a.md": "[up](../NOTES.md)\n"})
    assert [p.reason for p in reference_problems(repo, files)] == ["no such file in the repository"]


def test_scanner_finds_outside_paths(tmp_path: Path) -> None:
    files = _tree(
        tmp_path,
        {"a.py": "# see " + "../" + "shared/x and /" + "work/y\n", "b.md": "clean\n"},
    )
    problems = outside_path_problems(tmp_path, files)
    assert [(p.file, p.line) for p in problems] == [("a.py", 1), ("a.py", 1)]


def test_heading_slugs_follow_the_github_rule() -> None:
    assert heading_slug("5. Dosing") == "5-dosing"
    assert heading_slug("Reservoir, refill and alarms") == "reservoir-refill-and-alarms"
    assert anchors("```\n# not a heading\n```\n# Real one\n") == {"real-one"}


def test_without_git_the_walk_skips_outputs_but_keeps_the_evidence_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a git checkout every file is scanned except build outputs: the top-level
    ``evidence/`` report folder is skipped, ``tests/evidence`` (tests) is not."""
    _tree(
        tmp_path,
        {
            "README.md": "x\n",
            "evidence/report.md": "x\n",
            "build/lib/a.md": "x\n",
            "tests/evidence/test_a.py": "x\n",
        },
    )
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # not a git checkout
    names = {p.relative_to(tmp_path).as_posix() for p in tracked_files(tmp_path)}
    assert names == {"README.md", "tests/evidence/test_a.py"}
