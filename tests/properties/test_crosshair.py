"""Symbolic checks with CrossHair: the contracts of the arithmetic, the ledger, the governor and
the fluid path's rounding and conservation.

The contracts are PEP 316 ``pre:`` / ``post:`` lines in the docstrings of
:mod:`itdose.core.arith` (floor and ceiling division), :mod:`itdose.core.units` (format -> parse
round trips, parse bounds), :mod:`itdose.core.ledger` (window total, record, bolus history) and
:mod:`itdose.core.governor` (``grant_amount``, ``grant_all_or_nothing``, ``lockout_elapsed``,
``bolus_permitted``).

The governor functions take an :class:`~itdose.core.arith.Ops` and type-variable operands (so
that the proofs can run them on z3 terms); CrossHair cannot invent an ``Ops`` or pick ``int`` for
a type variable, so this test generates a small module of int-typed wrappers that call the real
functions with :data:`~itdose.core.arith.INT_OPS` and carry the governor's own ``pre:`` / ``post:``
lines, copied from its docstrings (one source of truth). The same module holds a ledger wrapper
that checks the window-total bounds of REQ-GOV-005 on ledgers built from two symbolic reports of
two orders that kept their pace (REQ-TIP-004),
and test-side contracts of :mod:`itdose.core.path`: ``ng_up`` / ``ng_down`` are the least upper
and greatest lower whole nanogram of a femtogram amount (REQ-GOV-003), and a push into a path of
two symbolic segments keeps its volume and conserves the drug exactly (REQ-TIP-001).

``crosshair check`` runs in two subprocesses in parallel, with ``--per_condition_timeout``
(:data:`PER_CONDITION_S`) and a total budget (:data:`BUDGET_S`) that fits CI; the test fails on any
counterexample (an ``error:`` line). "Not confirmed" (a timeout) is reported, not failed: CrossHair
is a bug finder, not a proof (the Z3 proofs in ``tests/proofs`` are).

Three hypothesis properties also run on the ``hypothesis-crosshair`` backend, bounded by
``max_examples``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import site
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itdose.core import governor
from itdose.core.arith import INT_OPS
from itdose.core.governor import Request, grant_all_or_nothing, grant_amount
from itdose.core.ledger import WINDOW_S, Ledger
from itdose.core.units import format_amount_ng, parse_amount_ng

PER_CONDITION_S = float(os.environ.get("ITDOSE_CROSSHAIR_PER_CONDITION_S", "4"))
"""CPU seconds CrossHair may spend on one condition."""
BUDGET_S = float(os.environ.get("ITDOSE_CROSSHAIR_BUDGET_S", "170"))
"""Wall-clock budget of each ``crosshair check`` subprocess (they run in parallel)."""

GOVERNOR_FUNCTIONS = (
    "grant_amount",
    "grant_all_or_nothing",
    "lockout_elapsed",
    "bolus_permitted",
)

_LEDGER_WRAPPER = '''
W = WINDOW_S


def ledger_window_total(
    s1: int, t1: int, a1: int, p1: int, s2: int, t2: int, a2: int, p2: int, t: int
) -> int:
    """Window total (fg) after two reports of two orders that kept their pace (``p`` fg/h from
    their start ``s`` to their report ``t``): never less than the drug of an order that started
    inside the window (all of it lies there), never more than the drug of the orders that ended
    inside it, nor, rounded up, than what each could have moved inside it at its pace
    (REQ-GOV-005, REQ-TIP-004).

    pre: 0 <= s1 <= t1 <= t2 <= t and 0 <= s2 <= t2 and p1 > 0 and p2 > 0
    pre: 0 <= a1 and a1 * 3600 <= p1 * (t1 - s1) and 0 <= a2 and a2 * 3600 <= p2 * (t2 - s2)
    post: __return__ >= sum(a for s, a in ((s1, a1), (s2, a2)) if s >= t - W)
    post: __return__ <= sum(a for e, a in ((t1, a1), (t2, a2)) if e > t - W)
    post: (__return__ - 1) * 3600 < sum(p * max(0, e - t + W) for e, p in ((t1, p1), (t2, p2)))
    """
    ledger = Ledger().record(t1, 1, s1, a1, p1, 3600).record(t2, 2, s2, a2, p2, 3600)
    return ledger.window_total_fg(t)
'''

_PATH_WRAPPERS = '''
def path_ng_up(fg: int) -> int:
    """The least whole ng holding ``fg`` (counted against a limit, REQ-GOV-003).

    pre: fg >= 0
    post: __return__ * 1_000_000 >= fg
    post: (__return__ - 1) * 1_000_000 < fg
    """
    return ng_up(fg)


def path_ng_down(fg: int) -> int:
    """The greatest whole ng within ``fg`` (what may be delivered, REQ-GOV-003).

    pre: fg >= 0
    post: __return__ * 1_000_000 <= fg
    post: (__return__ + 1) * 1_000_000 > fg
    """
    return ng_down(fg)


def path_push_conserves(v1: int, c1: int, v2: int, c2: int, push: int, c: int) -> int:
    """A push keeps the path's volume, sends out exactly the pushed volume and conserves the
    drug: what is left plus what left the tip is what was there plus what came in
    (REQ-TIP-001).

    pre: 0 < v1 <= 10**6 and 0 < v2 <= 10**6 and 0 <= push <= 3 * 10**6
    pre: 0 < c1 <= 10**8 and 0 < c2 <= 10**8 and 0 < c <= 10**8 and c1 != c2
    post: __return__ == v1 * c1 + v2 * c2 + push * c
    """
    path = FluidPath((Segment(v1, "d", c1), Segment(v2, "d", c2)))
    new, out = path.push(push, "d", c)
    if new.volume_nl != v1 + v2 or sum(p.volume_nl for p in out) != push:
        raise AssertionError("volume not conserved")
    return amount_fg(new.segments, "d") + amount_fg(out, "d")
'''


_REQUEST_FIELDS = ("requested_ng", "cap_room_ng", "reservoir_room_ng", "delivering")


def _on_fields(condition: str) -> str:
    """A governor contract on ``request`` restated on the wrapper's field parameters."""
    out = condition.replace("request.limits()", "(cap_room_ng, reservoir_room_ng)")
    return re.sub(r"\brequest\.", "", out)


def _conditions(doc: str) -> list[str]:
    return [ln.strip() for ln in doc.splitlines() if re.match(r"\s*(pre|post):", ln)]


def wrapper_source() -> str:
    """A module of int-typed wrappers around the governor's Ops functions (see module doc)."""
    out = [
        "from itdose.core.arith import INT_OPS",
        "from itdose.core.governor import *  # noqa: F403",
        "from itdose.core.ledger import WINDOW_S, Ledger",
        "from itdose.core.path import FluidPath, Segment, amount_fg, ng_down, ng_up",
        "from itdose.core import governor as _g",
        "",
    ]
    for name in GOVERNOR_FUNCTIONS:
        fn = getattr(governor, name)
        names = [p.name for p in list(inspect.signature(fn).parameters.values())[1:]]  # no ops
        conds = _conditions(inspect.getdoc(fn) or "")
        assert conds, f"{name} has no contract"
        call = ", ".join(f"{n}={n}" for n in names)
        if names[0] == "request":
            # a Request's fields as int/bool parameters (both rooms applying), its contract
            # read on them
            names = [*_REQUEST_FIELDS, *names[1:]]
            call = f"_g.Request({', '.join(_REQUEST_FIELDS)})" + "".join(
                f", {n}={n}" for n in names[len(_REQUEST_FIELDS) :]
            )
            conds = [_on_fields(c) for c in conds]
        bools = ("delivering", "lockout_over", "permitted")
        typed = ", ".join(f"{n}: {'bool' if n in bools else 'int'}" for n in names)
        returns = "bool" if name in ("lockout_elapsed", "bolus_permitted") else "int"
        body = "\n".join(f"    {c}" for c in conds)
        out.append(
            f'def int_{name}({typed}) -> {returns}:\n    """\n{body}\n    """\n'
            f"    return _g.{name}(INT_OPS, {call})\n"
        )
    out.append(_LEDGER_WRAPPER)
    out.append(_PATH_WRAPPERS)
    return "\n".join(out)


def _interpreter(work: Path) -> tuple[list[str], dict[str, str] | None]:
    """The interpreter flags and environment CrossHair runs with.

    An editable install serves the namespace package ``itdose`` through a path-hook entry that is
    not a directory, which ``importlib.resources`` (read by CrossHair for package directives)
    refuses with ``NotADirectoryError``; a regular install works as is. For an editable install
    the subprocess sees the same sources through a tree of links instead, with the site packages
    on ``PYTHONPATH`` and ``-S`` so that the editable finder's ``.pth`` is not run."""
    spec = importlib.util.find_spec("itdose")
    assert spec is not None and spec.submodule_search_locations is not None
    if all(os.path.isdir(p) for p in spec.submodule_search_locations):
        return [], None
    tree = work / "tree" / "itdose"
    tree.mkdir(parents=True)
    for sub in ("core", "specs", "proofs", "adapters"):
        found = importlib.util.find_spec(f"itdose.{sub}")
        assert found is not None and found.submodule_search_locations is not None
        (tree / sub).symlink_to(Path(next(iter(found.submodule_search_locations))))
    paths = [str(tree.parent), *site.getsitepackages(), os.environ.get("PYTHONPATH", "")]
    return ["-S"], {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _run_crosshair(
    targets: list[str], cwd: Path, flags: list[str], env: dict[str, str] | None
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        *flags,
        "-m",
        "crosshair",
        "check",
        "--analysis_kind=PEP316",
        f"--per_condition_timeout={PER_CONDITION_S}",
        "--report_all",
        *targets,
    ]
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def summarize(output: str) -> dict[str, list[str]]:
    """CrossHair's report lines by outcome: confirmed, not confirmed, precondition, error."""
    kinds: dict[str, list[str]] = {"confirmed": [], "not_confirmed": [], "pre": [], "error": []}
    for line in output.splitlines():
        if ": error:" in line:
            kinds["error"].append(line)
        elif "Confirmed over all paths" in line:
            kinds["confirmed"].append(line)
        elif "Not confirmed" in line:
            kinds["not_confirmed"].append(line)
        elif "Unable to meet precondition" in line:
            kinds["pre"].append(line)
    return kinds


KNOWN_LEDGER_GAPS = re.compile(
    r"ledger\.py:\d+: error: InvalidInput: .* when calling (record|window_total_fg)\("
)
"""The counterexamples CrossHair reported in :mod:`itdose.core.ledger`'s own contracts while
``Ledger.record`` and ``Ledger.window_total_fg`` rejected bad input (a start after the end, a
negative time) with an :class:`InvalidInput` their docstrings did not declare. They now declare
it (``raises: InvalidInput``), and the test below checks that none is reported."""


@pytest.fixture(scope="module")
def crosshair_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One CrossHair run over the core modules' contracts and the generated wrappers."""
    if os.environ.get("ITDOSE_SKIP_CROSSHAIR") == "1":
        pytest.skip("ITDOSE_SKIP_CROSSHAIR=1")
    pytest.importorskip("crosshair")
    work = tmp_path_factory.mktemp("crosshair")
    (work / "governor_int_contracts.py").write_text(wrapper_source(), encoding="utf-8")
    flags, env = _interpreter(work)
    start = time.monotonic()
    core = ["itdose.core.arith", "itdose.core.ledger", "itdose.core.units"]
    jobs = [
        _run_crosshair(core, work, flags, env),
        _run_crosshair(["governor_int_contracts.py"], work, flags, env),
    ]
    outputs = []
    for job in jobs:
        try:
            out, _ = job.communicate(timeout=max(1.0, BUDGET_S - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            job.kill()
            out, _ = job.communicate()
            out += "\n(crosshair stopped at the time budget)"
        outputs.append(out)
    text = "\n".join(outputs)
    kinds = summarize(text)
    kinds["text"] = [text]
    print(f"crosshair: {time.monotonic() - start:.0f} s")
    for kind, lines in kinds.items():
        if kind == "text":
            continue
        print(f"{kind}: {len(lines)}")
        for line in lines:
            print("   ", line.replace(str(work), "<generated>"))
    return kinds


def test_crosshair_finds_no_counterexample(crosshair_report: dict[str, list[str]]) -> None:
    """REQ-GOV-002, REQ-GOV-003, REQ-GOV-005, REQ-TIP-001: no counterexample to any contract"""
    errors = crosshair_report["error"]
    text = crosshair_report["text"][0]
    assert not errors, "CrossHair found a counterexample:\n" + text
    assert crosshair_report["confirmed"] or crosshair_report["not_confirmed"], (
        "CrossHair checked nothing:\n" + text
    )
    confirmed = "\n".join(crosshair_report["confirmed"])
    assert "governor_int_contracts.py" in confirmed  # the generated wrappers were checked


def test_ledger_contracts_declare_what_they_reject(
    crosshair_report: dict[str, list[str]],
) -> None:
    """REQ-GOV-011: ``Ledger.record`` and ``Ledger.window_total_fg`` declare (``raises:``) the
    :class:`InvalidInput` they raise for a bad time or amount, so CrossHair reports no
    counterexample for it (before the declaration it did, when it reached one in its budget)."""
    gaps = [e for e in crosshair_report["error"] if KNOWN_LEDGER_GAPS.search(e)]
    assert not gaps, "\n".join(gaps)


def test_wrapper_module_compiles_and_carries_the_contracts() -> None:
    source = wrapper_source()
    compile(source, "governor_int_contracts.py", "exec")
    for name in GOVERNOR_FUNCTIONS:
        assert f"def int_{name}(" in source
    for name in ("path_ng_up", "path_ng_down", "path_push_conserves"):
        assert f"def {name}(" in source
    assert source.count("post:") >= 16


# --- hypothesis on the crosshair backend -------------------------------------------------------

_SYMBOLIC = settings(
    backend="crosshair",
    max_examples=int(os.environ.get("ITDOSE_CROSSHAIR_EXAMPLES", "25")),
    deadline=None,
    derandomize=False,
    database=None,
    suppress_health_check=list(HealthCheck),
)
nonneg = st.integers(min_value=0, max_value=10**12)


@pytest.mark.skipif(
    os.environ.get("ITDOSE_SKIP_CROSSHAIR") == "1", reason="ITDOSE_SKIP_CROSSHAIR=1"
)
@_SYMBOLIC
@given(
    requested=nonneg,
    cap=nonneg,
    reservoir=nonneg,
    flight_nl=nonneg,
    empty=nonneg,
    conc=st.integers(min_value=1, max_value=10**9),
    delivering=st.booleans(),
)
def test_symbolic_grant_never_exceeds_the_cap_or_the_reservoir(
    requested: int,
    cap: int,
    reservoir: int,
    flight_nl: int,
    empty: int,
    conc: int,
    delivering: bool,
) -> None:
    """REQ-GOV-002, REQ-GOV-003: nothing beyond the cap room (the ledger's peak keeps every 24 h
    window within the hard maximum); with the path holding the reservoir's fluid, the reservoir
    room is what the usable volume pushes out of the tip, rounded down; the least volume holding
    a grant then fits in the usable volume."""
    room = max(0, reservoir - flight_nl - empty) * conc // 1_000_000
    request = Request(requested, cap, room, delivering)
    g = grant_amount(INT_OPS, request)
    b = grant_all_or_nothing(INT_OPS, request)
    for granted in (g, b):
        assert 0 <= granted <= requested
        if granted:
            assert delivering
            assert granted <= cap
            assert flight_nl + empty + -(-granted * 1_000_000 // conc) <= reservoir
    assert b in (0, requested)
    assert b <= g


@pytest.mark.skipif(
    os.environ.get("ITDOSE_SKIP_CROSSHAIR") == "1", reason="ITDOSE_SKIP_CROSSHAIR=1"
)
@_SYMBOLIC
@given(
    s1=st.integers(0, 10**7),
    d1=st.integers(0, WINDOW_S),
    r1=st.integers(0, 10**6),
    r2=st.integers(0, 10**6),
    s2=st.integers(0, 10**7),
    d2=st.integers(0, 3 * WINDOW_S),
    d=st.integers(0, 3 * WINDOW_S),
    p1=st.integers(1, 10**9),
    p2=st.integers(1, 10**9),
)
def test_symbolic_window_total_bounds(
    s1: int, d1: int, r1: int, r2: int, s2: int, d2: int, d: int, p1: int, p2: int
) -> None:
    """REQ-GOV-005, REQ-TIP-004: two orders reported at their pace (or slower): the window total
    holds all of an order that started in the window, nothing of one that ended before it, and
    no more than each could have moved in it at its pace."""
    t1 = s1 + d1
    t2 = t1 + d2
    s2 = min(s2, t2)
    t = t2 + d
    a1 = p1 * (t1 - s1) // 3600 * r1 // 10**6  # a fraction of what the pace allows
    a2 = p2 * (t2 - s2) // 3600 * r2 // 10**6
    ledger = Ledger().record(t1, 1, s1, a1, p1, 3600).record(t2, 2, s2, a2, p2, 3600)
    total = ledger.window_total_fg(t)
    t0 = t - WINDOW_S
    assert total >= sum(a for s, a in ((s1, a1), (s2, a2)) if s >= t0)
    assert total <= sum(a for e, a in ((t1, a1), (t2, a2)) if e > t0)
    assert (total - 1) * 3600 < sum(p * max(0, e - t0) for e, p in ((t1, p1), (t2, p2)))


@pytest.mark.skipif(
    os.environ.get("ITDOSE_SKIP_CROSSHAIR") == "1", reason="ITDOSE_SKIP_CROSSHAIR=1"
)
@_SYMBOLIC
@given(value=st.integers(min_value=0, max_value=10 * 10**9))
def test_symbolic_amount_format_parse_round_trip(value: int) -> None:
    assert parse_amount_ng(format_amount_ng(value), "value") == value


def test_docstring_of_this_module_names_the_knobs() -> None:
    doc = textwrap.dedent(__doc__ or "")
    assert "PER_CONDITION_S" in doc and "BUDGET_S" in doc
