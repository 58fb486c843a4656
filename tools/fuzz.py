"""Fuzz every itdose entry point that takes outside data.

Entry points and inputs:

- ``program_toml``: example program files (examples/programs/*.toml) mutated as text (characters,
  lines, values swapped for hostile tokens, truncation), parsed with ``tomllib`` and given to
  :func:`itdose.adapters.program_file.parse_program` and the core's ``check_program``;
- ``program_struct``: generated TOML-like structures (tables, lists, strings, ints, floats,
  booleans, dates) through the same path;
- ``cli_check_program``: mutated program files written to a temporary file and checked with
  ``itdose.adapters.cli.main(["check-program", FILE, ...])``;
- ``cli_argv``: random argument vectors through ``itdose.adapters.cli.main`` (``verify`` is left
  out: it runs the Z3 proofs, seconds per call; ``diagram --out`` writes only in a temp dir);
- ``state_json``: ``to_json`` output of devices in every phase, mutated as JSON values and as text,
  through :func:`itdose.core.from_json`; a decoded state is then stepped with a tick and a drive
  report (a state the decoder accepts must not crash the core);
- ``commands``: commands with random field values (right and wrong types, huge, negative, empty)
  through :func:`itdose.core.step` on devices in every phase.

Every input must end in success, a :class:`~itdose.core.errors.DosingError` subclass, or
argparse's usage exit (``SystemExit(2)``; ``--help`` exits 0); anything else is a crash. A rejected
input must change nothing: the device's ``to_json`` before and after, the program file's bytes and
the parsed data given to the parser. Prints the counts per entry point and outcome and the first
crashes with their inputs; exit status 1 if there was any crash.

    python tools/fuzz.py --count 100000 --seed 1
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import io
import json
import random
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from itdose.adapters import cli
from itdose.adapters.program_file import parse_program
from itdose.core import Device, DosingError, Phase, Role, from_json, step, to_json
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.program import (
    Basal,
    FlexClock,
    FlexStep,
    PatientBolusProgram,
    Program,
    ProgramContext,
    check_program,
)
from itdose.core.state import TrialOutcome
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "programs").glob("*.toml"))
LIB = load_library()
NOW_UTC = 1_735_689_600  # 2025-01-01T00:00:00Z

HOSTILE = [
    '""',
    '" "',
    '"-1 mg"',
    '"1e3 mg"',
    '"NaN mg/day"',
    '"inf mL"',
    '"0.0000001 mg"',
    '"1 mg/mL/day"',
    '"25 mg/ml"',
    '"99999999999999999999 mg/day"',
    '"1 furlong"',
    '"00:00"',
    '"24:00"',
    '"23:59"',
    '"Europe/Berlin"',
    '"Mars/Olympus"',
    '"../../etc/passwd"',
    "0",
    "-1",
    "1.5",
    "nan",
    "inf",
    "true",
    "1979-05-27T07:32:00Z",
    "[]",
    "{}",
    "[1, 2]",
    '{ start = "00:00", dose = "1 mg/day" }',
    "9223372036854775808",
    '"' + "x" * 100 + '"',
    '"\\u0000"',
]


def _example_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in EXAMPLES]


def mutate_text(rng: random.Random, text: str) -> str:
    """A few random text mutations."""
    for _ in range(rng.randint(1, 4)):
        lines = text.split("\n")
        op = rng.randrange(8)
        if op == 0 and text:
            i = rng.randrange(len(text))
            text = text[:i] + chr(rng.choice([0, 9, 10, 34, 39, 61, 91, 93, 123, 0xFEFF, 0xE9]))
            text += text[i + 1 :]
        elif op == 1 and lines:
            del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        elif op == 2 and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[rng.randrange(len(lines))])
            text = "\n".join(lines)
        elif op == 3:
            eq = [i for i, ln in enumerate(lines) if "=" in ln]
            if eq:
                i = rng.choice(eq)
                key = lines[i].split("=", 1)[0]
                lines[i] = f"{key}= {rng.choice(HOSTILE)}"
                text = "\n".join(lines)
        elif op == 4 and text:
            text = text[: rng.randrange(len(text))]
        elif op == 5:
            text += "\n" + rng.choice(
                [
                    "[override]",
                    "[[override]]\nlimit = 'x'\nreason = 'y'",
                    "extra = 1",
                    "[patient_bolus]\ndose = '1 mg'",
                    "[basal]\nmode = 'flex'",
                ]
            )
        elif op == 6:
            text = text.replace('"', "'", rng.randint(1, 3))
        else:
            digits = [i for i, ch in enumerate(text) if ch.isdigit()]
            if digits:
                i = rng.choice(digits)
                text = text[:i] + rng.choice("0123456789.-") + text[i + 1 :]
    return text


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random TOML-like value."""
    kind = rng.randrange(10 if depth < 3 else 7)
    if kind == 0:
        return rng.choice([0, 1, -1, 4, 2**63, -(2**63)])
    if kind == 1:
        return rng.choice([0.5, float("nan"), float("inf"), -0.0])
    if kind == 2:
        return rng.choice([True, False])
    if kind in (3, 4, 5, 6):
        return rng.choice(
            [
                "1 mg/day",
                "10 mg/mL",
                "0.1 mg",
                "10 min",
                "1 h",
                "continuous",
                "flex",
                "wall",
                "elapsed",
                "00:00",
                "12:00",
                "morphine",
                "baclofen",
                "ziconotide",
                "pain",
                "spasticity-spinal",
                "prometra-ii-20",
                "synchromed-ii-40",
                "tolerant",
                "naive",
                "Europe/Berlin",
                "",
                "x" * 70,
                "-5 mg",
                "1,5 mg",
            ]
        )
    if kind in (7, 8):
        return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


KEYS = [
    "pump",
    "drug",
    "indication",
    "concentration",
    "opioid_status",
    "basal",
    "patient_bolus",
    "override",
    "mode",
    "dose",
    "clock",
    "timezone",
    "steps",
    "start",
    "duration",
    "lockout",
    "max_per_24h",
    "limit",
    "reason",
    "unknown",
]


def random_program_struct(rng: random.Random, texts: list[str]) -> Any:
    if rng.random() < 0.5:
        base: dict[str, Any] = tomllib.loads(rng.choice(texts))
        for _ in range(rng.randint(1, 3)):
            path: list[Any] = []
            node: Any = base
            while isinstance(node, dict | list) and node and rng.random() < 0.6:
                key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
                path.append(key)
                node = node[key]
            target: Any = base
            for key in path[:-1]:
                target = target[key]
            if not path:
                base[rng.choice(KEYS)] = random_value(rng)
            elif rng.random() < 0.3 and isinstance(target, dict):
                del target[path[-1]]
            else:
                target[path[-1]] = random_value(rng)
        return base
    return random_value(rng) if rng.random() < 0.2 else {k: random_value(rng) for k in KEYS[:8]}


# --- devices and commands ---------------------------------------------------------------------


def _devices() -> list[tuple[Device, int]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from itdose_testkit import PATHS

    out = []
    for phase in Phase:
        d = Device()
        for command, at in PATHS[phase]:
            d = step(d, command, at, LIB).device
        out.append((d, d.clock_s or 0))
        # and a little dosing history
        t = d.clock_s or 0
        for _ in range(6):
            t += 1800
            try:
                d = step(d, c.Tick(Role.SERVICE), t, LIB).device
                for o in d.orders:
                    d = step(d, c.DriveReport(Role.SERVICE, o.id, o.volume_nl, True), t, LIB).device
                d = step(d, c.RequestBolus(Role.PATIENT), t, LIB).device
            except DosingError:
                pass
        out.append((d, t))
    return out


def random_field(rng: random.Random, tp: Any) -> Any:
    r = rng.random()
    if r < 0.15:
        return rng.choice([None, 1.5, True, "x", -1, 2**64, (), b"", object()])
    text = str(tp)
    if "Role" in text:
        return rng.choice(list(Role))
    if "AlarmKind" in text:
        return rng.choice(list(AlarmKind))
    if "TrialOutcome" in text:
        return rng.choice([None, *TrialOutcome])
    if "Override" in text:
        return tuple(
            c.Override(rng.choice(["morphine.pain.soft_max_daily", "x", ""]), rng.choice(["", "r"]))
            for _ in range(rng.randint(0, 2))
        )
    if "Program" in text:
        return random_program(rng)
    if "bool" in text:
        return rng.random() < 0.5
    if "int" in text:
        return rng.choice(
            [
                0,
                1,
                -1,
                60,
                600,
                3600,
                86_400,
                100_000,
                234_000,
                10**6,
                10**7,
                20_000_000,
                2**62,
                rng.randint(-(10**9), 10**9),
            ]
        )
    if "str" in text:
        return rng.choice(
            [
                "",
                " ",
                "reason",
                "morphine",
                "pain",
                "prometra-ii-20",
                "prometra-catheter",
                "x" * 2001,
                "\x00",
            ]
        )
    return None


def random_program(rng: random.Random) -> Program:
    steps = (FlexStep(0, rng.choice([0, 1_000_000, 19_000_000, -1])),)
    if rng.random() < 0.3:
        steps = (*steps, FlexStep(rng.choice([0, 3600, 86_400]), rng.choice([500_000, 2**40])))
    return Program(
        drug=rng.choice(["morphine", "baclofen", "nope"]),
        indication=rng.choice(["pain", "spasticity-spinal"]),
        concentration_ng_per_ml=rng.choice([10_000_000, 25_000_000, 0, -1, 1]),
        basal=Basal(
            steps,
            rng.choice(list(FlexClock)),
            rng.choice(["", "Europe/Berlin"]),
        ),
        patient_bolus=rng.choice(
            [None, PatientBolusProgram(100_000, 600, 3600, 4), PatientBolusProgram(0, 0, 0, 0)]
        ),
        opioid_status=rng.choice([None, "opioid-tolerant", "weird"]),
    )


def random_command(rng: random.Random) -> c.Command:
    cls = rng.choice(list(c.COMMANDS.values()))
    import typing

    hints = typing.get_type_hints(cls)
    kwargs = {f.name: random_field(rng, hints[f.name]) for f in dataclasses.fields(cls)}
    return cls(**kwargs)


def mutate_json(rng: random.Random, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path: list[Any] = []
        node = doc
        while isinstance(node, dict | list) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append(key)
            node = node[key]
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = rng.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == 1 and isinstance(parent, dict):
            parent["unknown_" + str(rng.randrange(3))] = 1
        else:
            old = parent[path[-1]]
            if isinstance(old, bool):
                new: Any = rng.choice([not old, 0, None])
            elif isinstance(old, int):
                new = rng.choice([old + 1, old - 1, -old, 0, -1, 2**63, 2**70, str(old), None, 1.5])
            elif isinstance(old, str):
                new = rng.choice(["", old + "x", old.upper(), 0, None, "alarm", "explanted"])
            elif isinstance(old, list):
                new = rng.choice([[], old + old[:1], old[1:], {}, None])
            else:
                new = rng.choice([None, [], 0, "x"])
            parent[path[-1]] = new
    return doc


# --- the fuzzer ------------------------------------------------------------------------------


@dataclasses.dataclass
class Fuzzer:
    rng: random.Random
    tmp: Path
    counts: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    crashes: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.texts = _example_texts()
        self.devices = _devices()
        self.docs = [json.loads(to_json(d)) for d, _ in self.devices]

    def record(self, entry: str, outcome: str, detail: Callable[[], str] | None = None) -> None:
        self.counts[(entry, outcome)] += 1
        if outcome.startswith("CRASH") and detail is not None:
            self.crashes.append((entry, outcome, detail()))

    def guarded(self, entry: str, fn: Callable[[], str], show: Callable[[], str]) -> None:
        try:
            outcome = fn()
        except DosingError as exc:
            outcome = type(exc).__name__
        except SystemExit as exc:
            outcome = f"exit_{exc.code}" if exc.code in (0, 2) else f"CRASH exit {exc.code!r}"
        except Exception as exc:  # the point: anything else is a crash
            outcome = f"CRASH {type(exc).__name__}: {str(exc)[:120]}"
        self.record(entry, outcome if not outcome.startswith("CRASH") else "CRASH", show)
        if outcome.startswith("CRASH"):
            self.crashes[-1] = (entry, outcome, self.crashes[-1][2])

    # each returns the outcome name of a success
    def program_toml(self) -> None:
        text = mutate_text(self.rng, self.rng.choice(self.texts))

        def run() -> str:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                return "toml_invalid"
            return self._program(data)

        self.guarded("program_toml", run, lambda: repr(text))

    def program_struct(self) -> None:
        data = random_program_struct(self.rng, self.texts)

        self.guarded("program_struct", lambda: self._program(data), lambda: repr(data)[:2000])

    def _program(self, data: Any) -> str:
        before = copy.deepcopy(data)
        try:
            pf = parse_program(data, NOW_UTC)
        finally:
            assert _same(data, before), "parse_program changed its input"
        ctx = ProgramContext(overrides=pf.overrides, initial=True, utc_now_s=NOW_UTC)
        report = check_program(pf.program, LIB, pf.pump, ctx)
        return "accepted" if report.accepted else "rejected_by_limit"

    def cli_check_program(self) -> None:
        text = mutate_text(self.rng, self.rng.choice(self.texts))
        path = self.tmp / "program.toml"
        raw = text.encode("utf-8", "surrogatepass")
        path.write_bytes(raw)
        argv = ["check-program", str(path)]
        if self.rng.random() < 0.5:
            argv.append("--json")
        if self.rng.random() < 0.5:
            argv += ["--now", self.rng.choice(["2025-03-30T00:30:00+00:00", "never", "2025-13-01"])]

        def run() -> str:
            code = _quiet(lambda: cli.main(argv))
            assert path.read_bytes() == raw, "check-program changed the file"
            return f"exit_{code}"

        self.guarded("cli_check_program", run, lambda: repr((argv, text)))

    def cli_argv(self) -> None:
        tokens = [
            "diagram",
            "drugs",
            "check-program",
            "--markdown",
            "--out",
            str(self.tmp / "out.md"),
            "--json",
            "--now",
            "2025-01-01",
            "--help",
            "-h",
            str(EXAMPLES[0]),
            str(self.tmp / "missing.toml"),
            str(self.tmp),
            "/dev/null",
            "",
            "-",
            "--",
            "x" * 300,
            "\udcff",
            "--unknown",
        ]
        argv = [self.rng.choice(tokens) for _ in range(self.rng.randint(0, 5))]
        if "verify" in argv:  # pragma: no cover - not in the tokens
            return

        def run() -> str:
            return f"exit_{_quiet(lambda: cli.main(argv))}"

        self.guarded("cli_argv", run, lambda: repr(argv))

    def state_json(self) -> None:
        doc = self.rng.choice(self.docs)
        if self.rng.random() < 0.8:
            text = json.dumps(mutate_json(self.rng, doc))
        else:
            text = mutate_text(self.rng, json.dumps(doc))

        def run() -> str:
            d = from_json(text)
            assert from_json(to_json(d)) == d, "round trip"
            t = d.clock_s or 0
            for command in (
                c.Tick(Role.SERVICE),
                c.DriveReport(Role.SERVICE, self.rng.randrange(4), 1000, True),
                c.RequestBolus(Role.PATIENT),
            ):
                before = to_json(d)
                try:
                    d = step(d, command, t + 60, LIB).device
                except DosingError:
                    assert to_json(d) == before
            return "decoded"

        self.guarded("state_json", run, lambda: text)

    def commands(self) -> None:
        device, t = self.rng.choice(self.devices)
        command = random_command(self.rng)
        now = t + self.rng.choice([0, 1, 600, 86_400, -1])
        if self.rng.random() < 0.05:
            now = self.rng.choice([-5, 2**41, 1.5, "0", None])  # type: ignore[assignment]
        before = to_json(device)

        def run() -> str:
            try:
                step(device, command, now, LIB)
            finally:
                assert to_json(device) == before, "step changed the device passed in"
            return "accepted"

        self.guarded("commands", run, lambda: f"{command!r} at {now!r} in {device.phase.value}")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or repr(a) == repr(b)  # nan != nan
    except Exception:
        return repr(a) == repr(b)


def _quiet(fn: Callable[[], int]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn()


ENTRIES = (
    "program_toml",
    "program_struct",
    "cli_check_program",
    "cli_argv",
    "state_json",
    "commands",
)


def run(count: int, seed: int) -> Fuzzer:
    """Fuzz ``count`` inputs from ``seed``; the fuzzer holds the counts and the crashes."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="itdose-fuzz-") as tmp:
        fuzzer = Fuzzer(rng, Path(tmp))
        weights = (3, 2, 1, 1, 2, 6)
        for _ in range(count):
            getattr(fuzzer, rng.choices(ENTRIES, weights)[0])()
    return fuzzer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="number of inputs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=10, help="crashes to print")
    args = parser.parse_args(argv)
    start = time.monotonic()
    fuzzer = run(args.count, args.seed)
    seconds = time.monotonic() - start
    print(f"{args.count} inputs, seed {args.seed}, {seconds:.0f} s")
    for entry in ENTRIES:
        row = {o: n for (e, o), n in sorted(fuzzer.counts.items()) if e == entry}
        print(
            f"  {entry:<18} {sum(row.values()):>7}  "
            + ", ".join(f"{o}={n}" for o, n in row.items())
        )
    crashes = fuzzer.crashes
    kinds = Counter((e, o) for e, o, _ in crashes)
    print(f"crashes: {len(crashes)}")
    for (entry, outcome), n in kinds.most_common():
        print(f"  {n:>6} {entry}: {outcome}")
    shown = set()
    for entry, outcome, detail in crashes:
        if (entry, outcome) in shown or len(shown) >= args.show:
            continue
        shown.add((entry, outcome))
        print(f"--- {entry}: {outcome}\n{detail[:3000]}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
