"""Scenario checking: the verdict on every ``[[expect]]`` item of a run, with what it asked for
in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from itdose.adapters.scenario_model import Expectation, ExpectResult, RunResult


def _count_ok(n: int, p: Mapping[str, Any]) -> bool:
    return n >= p.get("min_count", 1) and ("max_count" not in p or n <= p["max_count"])


def _counts(p: Mapping[str, Any]) -> str:
    if p.get("max_count") == p.get("min_count", 1):
        return f"exactly {p['max_count']}"
    text = f"at least {p.get('min_count', 1)}"
    return text + (f" and at most {p['max_count']}" if "max_count" in p else "")


def _range(p: Mapping[str, Any], unit: str) -> str:
    text = f"at least {p.get('min', 0)} {unit}"
    return text + (f" and at most {p['max']} {unit}" if "max" in p else "")


def expected_text(ex: Expectation, end: int) -> str:
    """What expectation ``ex`` asks for, in words (``end``: the end of the run)."""
    p = ex.params
    if ex.type == "phase":
        if p.get("at_end", False):
            return f"final phase {p['phase'].value}"
        return f"phase {p['phase'].value} entered by t={p.get('by', end)}"
    if ex.type == "alarm":
        window = f"[{p.get('after', 0)}, {p.get('before', end)}]"
        raised = p.get("raised", True)
        return f"alarm {p['alarm'].value} {'raised' if raised else 'not raised'} in {window}"
    if ex.type == "bolus_denied":
        why = f" for {p['reason']}" if "reason" in p else ""
        return f"{_counts(p)} boluses denied{why}"
    if ex.type == "bolus_granted":
        return f"{_counts(p)} boluses granted"
    if ex.type == "delivered":
        return f"{_range(p, 'ng')} delivered in [{p.get('from', 0)}, {p.get('to', end)}]"
    if ex.type == "warning":
        return f"{_counts(p)} x {p['code']}"
    if ex.type == "rejected":
        return f"{_counts(p)} rejected {p['action']}"
    return f"reservoir {_range(p, 'nL')} at t={p.get('at', end)}"


def _horizon(ex: Expectation, scenario_end: int) -> int:
    """The latest time expectation ``ex`` needs to see (its window's end, else the scenario's
    end: a count or a final phase is about the whole run)."""
    p = ex.params
    times: list[int] = [p[k] for k in ("by", "after", "before", "from", "to", "at") if k in p]
    upper = any(k in p for k in ("by", "before", "to", "at")) and not p.get("at_end", False)
    return max(times) if upper and times else max([scenario_end, *times])


def check_expectations(
    r: RunResult, end: int, scenario_end: int | None = None
) -> list[ExpectResult]:
    """Check every ``[[expect]]`` item against a run that ended at ``end``.

    Given ``scenario_end`` (the scenario's own end) after ``end``, an expectation whose window
    reaches past ``end`` (or that concerns the whole run) is reported as not reached.
    """
    out: list[ExpectResult] = []
    for ex in r.scenario.expectations:
        p = ex.params
        src = f"expect[{ex.index}]"
        expected = expected_text(ex, end if scenario_end is None else scenario_end)
        if scenario_end is not None and _horizon(ex, scenario_end) > end:
            out.append(
                ExpectResult(
                    src, ex.type, False, f"the run stopped at t={end}", expected, reached=False
                )
            )
            continue
        if ex.type == "phase":
            target = p["phase"].value
            if p.get("at_end", False):
                ok = r.device.phase.value == target
                detail = f"final phase {r.device.phase.value}"
            else:
                by = p.get("by", end)
                hits = [t for t, ph in r.phases if ph == target and t <= by]
                ok = bool(hits)
                detail = f"entered at t={hits[0]}" if hits else f"never entered by t={by}"
        elif ex.type == "alarm":
            kind = p["alarm"].value
            lo, hi = p.get("after", 0), p.get("before", end)
            spans = [s for s in r.alarm_spans if s[0] == kind and lo <= s[2] <= hi]
            wanted = p.get("raised", True)
            ok = bool(spans) == wanted
            detail = f"raised at t={spans[0][2]}" if spans else f"not raised in [{lo}, {hi}]"
        elif ex.type == "bolus_denied":
            n = sum(
                1
                for _, granted, reasons in r.boluses
                if not granted and ("reason" not in p or p["reason"] in reasons)
            )
            ok, detail = (
                _count_ok(n, p),
                f"{n} denied" + (f" for {p['reason']}" if "reason" in p else ""),
            )
        elif ex.type == "bolus_granted":
            n = sum(1 for _, granted, _ in r.boluses if granted)
            ok, detail = _count_ok(n, p), f"{n} granted"
        elif ex.type == "delivered":
            lo_t, hi_t = p.get("from", 0), p.get("to", end)
            start = r.probes.get(lo_t, (0, 0, ""))[0] if lo_t else 0
            stop = r.probes[hi_t][0] if hi_t in r.probes else r.device.delivered_ng
            amount = stop - start
            ok = amount >= p.get("min", 0) and ("max" not in p or amount <= p["max"])
            detail = f"{amount} ng delivered in [{lo_t}, {hi_t}]"
        elif ex.type == "warning":
            n = sum(1 for _, code in r.warnings if code == p["code"])
            ok, detail = _count_ok(n, p), f"{n} x {p['code']}"
        elif ex.type == "rejected":
            n = sum(1 for _, action, _ in r.rejected if action == p["action"])
            ok, detail = _count_ok(n, p), f"{n} rejected {p['action']}"
        else:  # reservoir
            t = p.get("at", end)
            vol = (
                r.probes[t][1]
                if t in r.probes
                else (r.device.reservoir.volume_nl if r.device.reservoir else 0)
            )
            ok = vol >= p.get("min", 0) and ("max" not in p or vol <= p["max"])
            detail = f"reservoir {vol} nL at t={t}"
        out.append(ExpectResult(src, ex.type, ok, detail, expected))
    return out
