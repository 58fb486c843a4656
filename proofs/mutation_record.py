"""The recorded proof-only mutation runs, as the evidence report shows them (issue 15; how the
runs are made and every survivor classified: docs/mutation.md).

A proof-only run (``tools/mutation.sh --proofs-only``) takes tens of minutes, so ``itdose
verify`` does not repeat it: it reports the recorded figures below, each with the commit it ran
at and the SHA-256 of the module's source then, and says for each module whether its source is
still the one measured. A module changed since its run is reported as such (the figure is of
older code), never silently as current.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MutationRun:
    """One module's proof-only run: counts of mutants by verdict, and the equivalent survivors
    (classified one by one in docs/mutation.md)."""

    module: str
    commit: str
    date: str
    source_sha256: str
    mutants: int
    claim: int
    crash: int
    other: int
    survived: int
    equivalent: int

    @property
    def non_equivalent(self) -> int:
        return self.mutants - self.equivalent

    @property
    def claim_share(self) -> str:
        """Claim kills of the non-equivalent mutants, as a percentage with one decimal (floor)."""
        tenths = self.claim * 1000 // self.non_equivalent
        return f"{tenths // 10}.{tenths % 10} %"


RUNS: tuple[MutationRun, ...] = (
    MutationRun(
        "arith",
        "83a2242",
        "2026-12-06",
        "a41096a553fa28a9147b5043f8ded0dbe7fd6a55be73a6b6aafb882759e827bc",
        52,
        48,
        0,
        0,
        4,
        0,
    ),
    MutationRun(
        "governor",
        "ef599fa",
        "2026-12-06",
        "dabcb2b4345e96009785a9af505bf82419526ac861f544f0b13360fda58baefe",
        118,
        107,
        0,
        0,
        11,
        4,
    ),
    MutationRun(
        "ledger",
        "0de2434",
        "2026-12-06",
        "dcaa89e8d4704f70241a6e03e56efd428680782c7bb985dc1a75d3656770322e",
        364,
        344,
        0,
        0,
        20,
        19,
    ),
    MutationRun(
        "path",
        "7d83a21",
        "2026-12-06",
        "f4ad5765efacef2fcb6667acba6a452b8e00a5700a96d55ff9ffce9cc7a2b84f",
        133,
        121,
        0,
        0,
        12,
        12,
    ),
)
"""The latest run per module (the figures of docs/mutation.md's proof-only table)."""


def _source_sha256(module: str) -> str | None:
    spec = importlib.util.find_spec(f"itdose.core.{module}")
    if spec is None or spec.origin is None:
        return None
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()


def summary() -> list[dict[str, Any]]:
    """Each recorded run with whether the module's source today is the one it measured."""
    rows = []
    for run in RUNS:
        now = _source_sha256(run.module)
        rows.append(
            {
                "module": f"core/{run.module}.py",
                "commit": run.commit,
                "date": run.date,
                "mutants": run.mutants,
                "claim": run.claim,
                "crash": run.crash,
                "other": run.other,
                "survived": run.survived,
                "equivalent": run.equivalent,
                "claim_share_of_non_equivalent": run.claim_share,
                "source_unchanged": now == run.source_sha256,
            }
        )
    return rows


def markdown() -> list[str]:
    """The report.md section."""
    lines = [
        "## Proof-only mutation (recorded runs, not repeated by this report)",
        "",
        "Each mutant changes one place of a core module; the Z3 obligations are the only tests. "
        "A kill by a failing claim means the proofs noticed the defect; a kill by a crash means "
        "only that a proof could not be built (docs/mutation.md classifies every survivor).",
        "",
        "| module | run at | mutants | killed by a failing claim | by a crash | other | "
        "survived | equivalent | claim kills of the non-equivalent | source since the run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary():
        since = (
            "unchanged"
            if r["source_unchanged"]
            else "CHANGED: the figure is of older code; re-run "
            f"`tools/mutation.sh --proofs-only --modules {r['module'][5:-3]}`"
        )
        lines.append(
            f"| {r['module']} | {r['commit']} ({r['date']}) | {r['mutants']} | {r['claim']} | "
            f"{r['crash']} | {r['other']} | {r['survived']} | {r['equivalent']} | "
            f"**{r['claim_share_of_non_equivalent']}** | {since} |"
        )
    return [*lines, ""]
