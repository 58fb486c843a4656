"""Record, filter, sample and replay the decision corpus (docs/architecture.md#decision-replay).

Usage (from the repository root, with the test extra installed)::

    python tools/replay_corpus.py record CORPUS.jsonl.gz [pytest arguments ...]
    python tools/replay_corpus.py filter CORPUS.jsonl.gz
    python tools/replay_corpus.py sample CORPUS.jsonl.gz tests/data/replay_sample.jsonl.gz
    python tools/replay_corpus.py replay CORPUS.jsonl.gz
    python tools/replay_corpus.py merge OUT.jsonl.gz CORPUS.jsonl.gz ...
    python tools/replay_corpus.py rebaseline CORPUS.jsonl.gz REASON COMMAND_CLASS ...

``record`` runs pytest in this process with :func:`itdose.core.step` wrapped, so every step a
test, an example scenario, a stateful machine, the crash test or a simulation takes is written
down as (state, command, time, library) -> outcome. A long test contributes its first
``FULL_PER_TEST`` steps and then every ``THIN``-th (environment variables
``REPLAY_FULL_PER_TEST`` and ``REPLAY_THIN``). ``filter`` replays every step in a fresh
process and drops the steps whose outcome the recorded data does not determine (steps taken while
a test had planted a broken function into the core); it prints how many. ``sample`` keeps a
stratified sample (every command class and outcome kind) for the committed replay test.
``replay`` replays a corpus through today's core and lists every step that differs.
``rebaseline`` records a deliberate decision change: the steps that now differ are re-recorded
only if each is one of the named command classes (otherwise nothing is written), and the reason
with the step indices is kept in the corpus's history.
"""

from __future__ import annotations

import collections
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import replay_kit

FULL_PER_TEST = int(os.environ.get("REPLAY_FULL_PER_TEST", "1500"))
THIN = int(os.environ.get("REPLAY_THIN", "20"))
MAX_STEPS = 400_000


class _Recorder:
    def __init__(self) -> None:
        from itdose.core import machine

        self.original = machine.step
        self.libraries: dict[str, Any] = {}
        self._lib_ids: dict[int, str] = {}
        self.steps: list[dict[str, Any]] = []
        self.test = ""
        self.count = 0

    def _library(self, library: Any) -> str:
        key = self._lib_ids.get(id(library))
        if key is None:
            key, data = replay_kit.library_key(library)
            self.libraries.setdefault(key, data)
            self._lib_ids[id(library)] = key
        return key

    def step(self, device: Any, command: Any, now_s: Any, library: Any) -> Any:
        from itdose.core import Device, Library, to_json
        from itdose.core.codec import encode
        from itdose.core.commands import Command

        self.count += 1
        keep = (
            len(self.steps) < MAX_STEPS
            and (self.count <= FULL_PER_TEST or self.count % THIN == 0)
            and isinstance(device, Device)
            and isinstance(command, Command)
            and isinstance(library, Library)
            and type(now_s) is int
        )
        entry: dict[str, Any] | None = None
        if keep:
            try:
                entry = {
                    "state": json.loads(to_json(device)),
                    "command": [type(command).__name__, encode(command)],
                    "now_s": now_s,
                    "library": self._library(library),
                    "test": self.test,
                }
            except Exception:  # an input the codec cannot write is not a recordable step
                entry = None
        box: dict[str, Any] = {}

        def run() -> Any:
            box["out"] = self.original(device, command, now_s, library)
            return box["out"]

        outcome = replay_kit.outcome_of(run)
        if entry is not None:
            entry["outcome"] = outcome
            self.steps.append(entry)
        if "out" in box:
            return box["out"]
        # re-raise the very error the core raised
        return self.original(device, command, now_s, library)

    def install(self) -> int:
        patched = 0
        for module in list(sys.modules.values()):
            if module is None:
                continue
            try:
                if getattr(module, "step", None) is self.original:
                    module.step = self.step  # type: ignore[attr-defined]
                    patched += 1
            except Exception:
                continue
        return patched


class _Plugin:
    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder

    def pytest_collection_finish(self, session: Any) -> None:
        n = self.recorder.install()
        print(f"replay corpus: step wrapped in {n} modules", file=sys.stderr)

    def pytest_runtest_setup(self, item: Any) -> None:
        self.recorder.test = item.nodeid
        self.recorder.count = 0
        self.recorder.install()


def record(out: Path, pytest_args: list[str]) -> int:
    import pytest

    recorder = _Recorder()
    pytest.main(["-q", "-p", "no:cacheprovider", *pytest_args], plugins=[_Plugin(recorder)])
    replay_kit.write_corpus(out, replay_kit.Corpus(recorder.libraries, recorder.steps))
    print(f"recorded {len(recorder.steps)} steps, {len(recorder.libraries)} libraries -> {out}")
    return 0


def _differs(corpus: replay_kit.Corpus) -> list[int]:
    from itdose.core import step

    libraries = corpus.decoded_libraries()
    bad = []
    for i, entry in enumerate(corpus.steps):
        if replay_kit.replay_step(entry, libraries, step) != entry["outcome"]:
            bad.append(i)
    return bad


def filter_corpus(path: Path) -> int:
    corpus = replay_kit.read_corpus(path)
    bad = set(_differs(corpus))
    by_test = collections.Counter(corpus.steps[i]["test"] for i in bad)
    corpus.steps = [s for i, s in enumerate(corpus.steps) if i not in bad]
    replay_kit.write_corpus(path, corpus)
    print(f"dropped {len(bad)} steps not determined by their data; kept {len(corpus.steps)}")
    for test, n in by_test.most_common(15):
        print(f"  {n:6d}  {test}")
    return 0


def sample(path: Path, out: Path, per_stratum: int = 60, total: int = 2500) -> int:
    corpus = replay_kit.read_corpus(path)
    strata: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for i, s in enumerate(corpus.steps):
        kind = "ok" if "ok" in s["outcome"] else s["outcome"]["error"][0]
        strata[(s["command"][0], kind)].append(i)
    chosen: set[int] = set()
    for indices in strata.values():  # evenly spread within each stratum
        k = min(per_stratum, len(indices))
        chosen.update(indices[(j * len(indices)) // k] for j in range(k))
    rest = [i for i in range(len(corpus.steps)) if i not in chosen]
    room = max(0, total - len(chosen))
    if rest and room:
        k = min(room, len(rest))
        chosen.update(rest[(j * len(rest)) // k] for j in range(k))
    steps = [corpus.steps[i] for i in sorted(chosen)]
    used = {s["library"] for s in steps}
    libraries = {k: v for k, v in corpus.libraries.items() if k in used}
    out.parent.mkdir(parents=True, exist_ok=True)
    replay_kit.write_corpus(out, replay_kit.Corpus(libraries, steps))
    print(f"sampled {len(steps)} of {len(corpus.steps)} steps from {len(strata)} strata -> {out}")
    return 0


def replay(path: Path) -> int:
    corpus = replay_kit.read_corpus(path)
    bad = _differs(corpus)
    for i in bad[:20]:
        s = corpus.steps[i]
        print(f"step {i} ({s['command'][0]} at {s['now_s']} s, from {s['test']}) differs")
    print(f"{len(corpus.steps) - len(bad)} of {len(corpus.steps)} steps replay identically")
    return 1 if bad else 0


def merge(out: Path, parts: list[Path]) -> int:
    libraries: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    for part in parts:
        corpus = replay_kit.read_corpus(part)
        libraries.update(corpus.libraries)
        steps.extend(corpus.steps)
    replay_kit.write_corpus(out, replay_kit.Corpus(libraries, steps))
    print(f"merged {len(steps)} steps from {len(parts)} corpora -> {out}")
    return 0


def rebaseline(path: Path, reason: str, allowed: set[str]) -> int:
    from itdose.core import step

    corpus = replay_kit.read_corpus(path)
    libraries = corpus.decoded_libraries()
    changed: list[tuple[int, dict[str, Any]]] = []
    for i, entry in enumerate(corpus.steps):
        now = replay_kit.replay_step(entry, libraries, step)
        if now != entry["outcome"]:
            changed.append((i, now))
    others = [i for i, _ in changed if corpus.steps[i]["command"][0] not in allowed]
    if others:
        for i in others[:20]:
            s = corpus.steps[i]
            print(f"step {i} ({s['command'][0]}, from {s['test']}) differs and is not allowed")
        print(f"{len(others)} steps of other commands differ: nothing written")
        return 1
    for i, outcome in changed:
        corpus.steps[i]["outcome"] = outcome
    counts = collections.Counter(corpus.steps[i]["command"][0] for i, _ in changed)
    corpus.history.append(
        {"reason": reason, "steps": [i for i, _ in changed], "commands": dict(counts)}
    )
    replay_kit.write_corpus(path, corpus)
    print(f"re-recorded {len(changed)} steps ({dict(counts)}): {reason}")
    return 0


def main(argv: list[str]) -> int:
    commands = {"record", "filter", "sample", "replay", "merge", "rebaseline"}
    if len(argv) < 2 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path = argv[0], Path(argv[1])
    if cmd == "record":
        return record(path, argv[2:])
    if cmd == "filter":
        return filter_corpus(path)
    if cmd == "sample":
        if len(argv) != 3:
            print("sample needs CORPUS and OUT", file=sys.stderr)
            return 2
        return sample(path, Path(argv[2]))
    if cmd == "merge":
        return merge(path, [Path(p) for p in argv[2:]])
    if cmd == "rebaseline":
        if len(argv) < 4:
            print("rebaseline needs CORPUS, REASON and at least one command class", file=sys.stderr)
            return 2
        return rebaseline(path, argv[2], set(argv[3:]))
    return replay(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
