"""Symbolic checks with CrossHair: the contracts of the arithmetic, the ledger, the governor and
the fluid path's rounding and conservation.

The contracts are PEP 316 ``pre:`` / ``post:`` lines in the docstrings of
:mod:`itdose.core.arith` (floor and ceiling division), :mod:`itdose.core.units` (format -> parse
round trips, parse bounds), :mod:`itdose.core.ledger` (first bucket of a window, window total
bounds, record, bolus history) and :mod:`itdose.core.governor` (``cap_room_ng``,
``grant_amount``, ``grant_all_or_nothing``, ``lockout_elapsed``, ``bolus_permitted``).

The governor functions take an :class:`~itdose.core.arith.Ops` and type-variable operands (so
that the proofs can run them on z3 terms); CrossHair cannot invent an ``Ops`` or pick ``int`` for
a type variable, so this test generates a small module of int-typed wrappers that call the real
functions with :data:`~itdose.core.arith.INT_OPS` and carry the governor's own ``pre:`` / ``post:``
lines, copied from its docstrings (one source of truth). The same module holds a ledger wrapper
that checks the window-total bounds of REQ-GOV-005 on ledgers built from two symbolic records,
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

import inspect
import os
import re
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
from itdose.core.governor import grant_all_or_nothing, grant_amount
from itdose.core.ledger import WINDOW_S, Ledger
from itdose.core.units import format_amount_ng, parse_amount_ng

PER_CONDITION_S = float(os.environ.get("ITDOSE_CROSSHAIR_PER_CONDITION_S", "4"))
"""CPU seconds CrossHair may spend on one condition."""
BUDGET_S = float(os.environ.get("ITDOSE_CROSSHAIR_BUDGET_S", "170"))
"""Wall-clock budget of each ``crosshair check`` subprocess (they run in parallel)."""

GOVERNOR_FUNCTIONS = (
    "cap_room_ng",
    "grant_amount",
    "grant_all_or_nothing",
    "lockout_elapsed",
    "bolus_permitted",
)

_LEDGER_WRAPPER = '''
def ledger_window_total(t1: int, a1: int, t2: int, a2: int, t: int) -> int:
    """Window total after two records: never less than the real window, never more than the real
    window plus what lies in the one oldest bucket (REQ-GOV-005).

    pre: 0 <= t1 <= t2 <= t and a1 >= 0 and a2 >= 0
    post: __return__ >= sum(a for s, a in ((t1, a1), (t2, a2)) if t - WINDOW_S < s <= t)
    post: __return__ <= sum(a for s, a in ((t1, a1), (t2, a2)) if t - WINDOW_S - 300 < s <= t)
    """
    return Ledger().record(t1, a1).record(t2, a2).window_total_ng(t)
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
        params = list(inspect.signature(fn).parameters.values())[1:]  # drop ops
        conds = _conditions(inspect.getdoc(fn) or "")
        assert conds, f"{name} has no contract"
        typed = ", ".join(
            f"{p.name}: {'bool' if p.name in ('delivering', 'lockout_over') else 'int'}"
            for p in params
        )
        returns = "bool" if name in ("lockout_elapsed", "bolus_permitted") else "int"
        call = ", ".join(f"{p.name}={p.name}" for p in params)
        body = "\n".join(f"    {c}" for c in conds)
        out.append(
            f'def int_{name}({typed}) -> {returns}:\n    """\n{body}\n    """\n'
            f"    return _g.{name}(INT_OPS, {call})\n"
        )
    out.append(_LEDGER_WRAPPER)
    out.append(_PATH_WRAPPERS)
    return "\n".join(out)


def _run_crosshair(targets: list[str], cwd: Path) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "crosshair",
        "check",
        "--analysis_kind=PEP316",
        f"--per_condition_timeout={PER_CONDITION_S}",
        "--report_all",
        *targets,
    ]
    return subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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


@pytest.mark.skipif(
    os.environ.get("ITDOSE_SKIP_CROSSHAIR") == "1", reason="ITDOSE_SKIP_CROSSHAIR=1"
)
def test_crosshair_finds_no_counterexample(tmp_path: Path) -> None:
    pytest.importorskip("crosshair")
    (tmp_path / "governor_int_contracts.py").write_text(wrapper_source(), encoding="utf-8")
    start = time.monotonic()
    jobs = [
        _run_crosshair(["itdose.core.arith", "itdose.core.ledger", "itdose.core.units"], tmp_path),
        _run_crosshair(["governor_int_contracts.py"], tmp_path),
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
    print(f"crosshair: {time.monotonic() - start:.0f} s")
    for kind, lines in kinds.items():
        print(f"{kind}: {len(lines)}")
        for line in lines:
            print("   ", line.replace(str(tmp_path), "<generated>"))
    assert not kinds["error"], "CrossHair found a counterexample:\n" + text
    assert kinds["confirmed"] or kinds["not_confirmed"], "CrossHair checked nothing:\n" + text


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
    window=nonneg,
    flight=nonneg,
    cap=nonneg,
    reservoir=nonneg,
    flight_nl=nonneg,
    empty=nonneg,
    conc=st.integers(min_value=1, max_value=10**9),
    delivering=st.booleans(),
)
def test_symbolic_grant_never_exceeds_the_cap_or_the_reservoir(
    requested: int,
    window: int,
    flight: int,
    cap: int,
    reservoir: int,
    flight_nl: int,
    empty: int,
    conc: int,
    delivering: bool,
) -> None:
    """REQ-GOV-002, REQ-GOV-003: with the path holding the reservoir's fluid, the room is what
    the usable volume pushes out of the tip, rounded down; the least volume holding a grant then
    fits in the usable volume."""
    room = max(0, reservoir - flight_nl - empty) * conc // 1_000_000
    kw = {
        "requested_ng": requested,
        "window_total_ng": window,
        "in_flight_ng": flight,
        "hard_max_ng": cap,
        "reservoir_room_ng": room,
        "delivering": delivering,
    }
    g = grant_amount(INT_OPS, **kw)
    b = grant_all_or_nothing(INT_OPS, reserve_ng=0, **kw)
    for granted in (g, b):
        assert 0 <= granted <= requested
        if granted:
            assert delivering
            assert window + flight + granted <= cap
            assert flight_nl + empty + -(-granted * 1_000_000 // conc) <= reservoir
    assert b in (0, requested)
    assert b <= g


@pytest.mark.skipif(
    os.environ.get("ITDOSE_SKIP_CROSSHAIR") == "1", reason="ITDOSE_SKIP_CROSSHAIR=1"
)
@_SYMBOLIC
@given(
    t1=st.integers(0, 10**7),
    d2=st.integers(0, 3 * WINDOW_S),
    d=st.integers(0, 3 * WINDOW_S),
    a1=st.integers(0, 10**9),
    a2=st.integers(0, 10**9),
)
def test_symbolic_window_total_bounds(t1: int, d2: int, d: int, a1: int, a2: int) -> None:
    t2, t = t1 + d2, t1 + d2 + d
    total = Ledger().record(t1, a1).record(t2, a2).window_total_ng(t)
    real = sum(a for s, a in ((t1, a1), (t2, a2)) if t - WINDOW_S < s <= t)
    loose = sum(a for s, a in ((t1, a1), (t2, a2)) if t - WINDOW_S - 300 < s <= t)
    assert real <= total <= loose


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
