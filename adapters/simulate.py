"""``itdose simulate FILE [--json PATH] [--plot PATH.png] [--until TIME] [--verbose]``.

Runs a scenario (``docs/scenario-schema.md``) on the simulated drive through the controller and
prints a readable timeline; ``--json`` writes the run as a versioned JSON document
(:data:`JSON_SCHEMA`, checked by :func:`validate_json`); ``--plot`` draws it (matplotlib, the
``plot`` extra). Exit codes: 0 every expectation held, 1 one failed, 2 invalid input.

The CLI registers the sub-command with :func:`add_parser`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from typing import Any, TextIO

from itdose.adapters.paths import check_output_file
from itdose.adapters.scenario import RunResult, load_scenario, parse_time, run_scenario
from itdose.core.errors import DosingError, InvalidInput
from itdose.core.units import DAY_S, format_amount_ng, format_volume_nl

__all__ = [
    "JSON_SCHEMA",
    "JSON_SCHEMA_ID",
    "add_parser",
    "main",
    "result_json",
    "timeline_text",
    "validate_json",
]

JSON_SCHEMA_ID = "itdose-simulate/1"
_PROGRESS_MIN_S = 60 * DAY_S
"""Runs longer than this (simulated) show a progress bar on stderr when it is a terminal."""

_INT = {"type": "integer"}
_STR = {"type": "string"}
_OPT_INT = {"type": ["integer", "null"]}
_STR_LIST = {"type": "array", "items": _STR}

JSON_SCHEMA: dict[str, Any] = {
    "$id": JSON_SCHEMA_ID,
    "type": "object",
    "required": [
        "schema",
        "scenario",
        "end_s",
        "ok",
        "final",
        "events",
        "days",
        "alarms",
        "expectations",
        "stats",
    ],
    "properties": {
        "schema": {"const": JSON_SCHEMA_ID},
        "scenario": {
            "type": "object",
            "required": ["schema", "title", "pump", "drug", "indication", "library_overridden"],
            "properties": {
                "schema": _STR,
                "title": _STR,
                "pump": _STR,
                "drug": _STR,
                "indication": _STR,
                "library_overridden": {"type": "boolean"},
            },
        },
        "end_s": _INT,
        "ok": {"type": "boolean"},
        "final": {
            "type": "object",
            "required": ["phase", "alarms", "reservoir_nl", "delivered_ng"],
            "properties": {
                "phase": _STR,
                "alarms": _STR_LIST,
                "reservoir_nl": _OPT_INT,
                "delivered_ng": _INT,
            },
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["t_s", "kind", "text", "phase", "alarms"],
                "properties": {
                    "t_s": _INT,
                    "kind": {"enum": ["command", "rejected", "effect", "drive"]},
                    "text": _STR,
                    "phase": _STR,
                    "alarms": _STR_LIST,
                    "reservoir_nl": _OPT_INT,
                },
            },
        },
        "days": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "day",
                    "delivered_ng",
                    "reservoir_nl",
                    "boluses_granted",
                    "boluses_denied",
                    "max_window_ng",
                ],
                "properties": {
                    "day": _INT,
                    "delivered_ng": _INT,
                    "reservoir_nl": _OPT_INT,
                    "boluses_granted": _INT,
                    "boluses_denied": _INT,
                    "max_window_ng": _INT,
                },
            },
        },
        "alarms": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "priority", "raised_s", "cleared_s"],
                "properties": {
                    "kind": _STR,
                    "priority": {"enum": ["low", "medium", "high"]},
                    "raised_s": _INT,
                    "cleared_s": _OPT_INT,
                },
            },
        },
        "expectations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "type", "status", "ok", "expected", "detail"],
                "properties": {
                    "source": _STR,
                    "type": _STR,
                    "status": {"enum": ["ok", "FAIL", "not reached"]},
                    "ok": {"type": "boolean"},
                    "expected": _STR,
                    "detail": _STR,
                },
            },
        },
        "stats": {
            "type": "object",
            "required": ["steps", "wakeups", "drive_events", "hard_max_ng"],
            "properties": {
                "steps": _INT,
                "wakeups": _INT,
                "drive_events": _INT,
                "hard_max_ng": _INT,
            },
        },
    },
}
"""The JSON document's schema (a JSON Schema subset: type, const, enum, required, properties,
items), checked by :func:`validate_json` without a third-party validator."""

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate_json(doc: object, schema: dict[str, Any] = JSON_SCHEMA, path: str = "$") -> list[str]:
    """Every violation of ``schema`` in ``doc`` (empty when valid)."""
    errors: list[str] = []
    if "const" in schema and doc != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and doc not in schema["enum"]:
        errors.append(f"{path}: {doc!r} not one of {schema['enum']}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(
            isinstance(doc, _TYPES[n]) and not (n == "integer" and isinstance(doc, bool))
            for n in names
        )
        if not ok:
            return [*errors, f"{path}: expected {'/'.join(names)}, got {type(doc).__name__}"]
    if isinstance(doc, dict):
        for key in schema.get("required", []):
            if key not in doc:
                errors.append(f"{path}: missing {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                errors.extend(validate_json(doc[key], sub, f"{path}.{key}"))
    if isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            errors.extend(validate_json(item, schema["items"], f"{path}[{i}]"))
    return errors


def result_json(r: RunResult, end_s: int) -> dict[str, Any]:
    """The JSON document of a run (schema :data:`JSON_SCHEMA`)."""
    sc, d = r.scenario, r.device
    return {
        "schema": JSON_SCHEMA_ID,
        "scenario": {
            "schema": sc.schema,
            "title": sc.title,
            "pump": sc.pump,
            "drug": sc.drug,
            "indication": sc.indication,
            "library_overridden": sc.library_overridden,
        },
        "end_s": end_s,
        "ok": r.ok,
        "final": {
            "phase": d.phase.value,
            "alarms": [a.kind.value for a in d.alarms],
            "reservoir_nl": d.reservoir.volume_nl if d.reservoir is not None else None,
            "delivered_ng": d.delivered_ng,
        },
        "events": r.events,
        "days": [
            {
                "day": f.day,
                "delivered_ng": f.delivered_ng,
                "reservoir_nl": f.reservoir_nl,
                "boluses_granted": f.boluses_granted,
                "boluses_denied": f.boluses_denied,
                "max_window_ng": f.max_window_ng,
            }
            for f in sorted(r.days.values(), key=lambda f: f.day)
        ],
        "alarms": [
            {"kind": k, "priority": p, "raised_s": t0, "cleared_s": t1}
            for k, p, t0, t1 in r.alarm_spans
        ],
        "expectations": [
            {
                "source": x.source,
                "type": x.type,
                "status": x.status,
                "ok": x.ok,
                "expected": x.expected,
                "detail": x.detail,
            }
            for x in r.results
        ],
        "stats": {
            "steps": r.steps,
            "wakeups": r.wakeups,
            "drive_events": r.drive_events,
            "hard_max_ng": r.hard_max_ng,
        },
    }


def _when(t: int) -> str:
    day, rest = divmod(t, DAY_S)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"day {day:>4} {h:02d}:{m:02d}" + (f":{s:02d}" if s else "   ")


def _line(e: dict[str, Any]) -> str | None:
    kind = e["kind"]
    detail = e.get("detail", {})
    if kind == "command":
        who = e.get("role", "")
        text = f"{who:<9} {e['text']}"
        if detail.get("record"):
            text += f" ({detail['record']})"
    elif kind == "rejected":
        text = f"{'REJECTED':<9} {e.get('command', '')}: {e.get('error', '')}"
    elif kind == "drive":
        text = f"{'drive':<9} {e['text']}"
    else:
        eff = e.get("effect", "")
        if eff == "Record":
            text = f"{'record':<9} {detail.get('event')}: {detail.get('detail', '')}"
        elif eff == "Annunciate":
            text = f"{'ALARM':<9} {detail.get('kind')} ({detail.get('priority')})"
        elif eff == "Warn":
            text = f"{'WARNING':<9} {detail.get('code')}: {detail.get('text', '')}"
        elif eff == "BolusDecision":
            if detail.get("granted"):
                text = f"{'bolus':<9} granted {format_amount_ng(detail.get('dose_ng', 0))}"
            else:
                reasons = ", ".join(detail.get("reasons", []))
                left = detail.get("lockout_remaining_s", 0)
                more = f", lockout {left // 60} min left" if left else ""
                text = f"{'bolus':<9} DENIED ({reasons}{more})"
        elif eff == "DeliveryOrder":
            volume = format_volume_nl(detail.get("volume_nl", 0))
            text = f"{'deliver':<9} {detail.get('kind')} {volume} over {detail.get('duration_s')} s"
        elif eff in ("StopDelivery", "CancelOrder"):
            text = f"{'stop':<9} {detail.get('reason', '')}"
        elif eff == "TipChange":
            at = detail.get("arrives_at_s")
            before = format_volume_nl(detail.get("rate_before_nl_per_day", 0))
            after = format_volume_nl(detail.get("rate_after_nl_per_day", 0))
            when = _when(at) if at is not None else "never at this program"
            text = (
                f"{'TIP':<9} new fluid reaches the catheter tip at {when}; "
                f"pump rate {before}/day until then, {after}/day after"
            )
        elif eff == "Projection":
            low = detail.get("low_reservoir_at_s")
            text = f"{'projects':<9} low reservoir at {_when(low) if low is not None else '-'}"
        else:
            text = f"{'effect':<9} {e['text']}"
    return f"{_when(e['t_s'])}  {e['phase']:<14} {text}"


def timeline_text(r: RunResult, out: TextIO) -> None:
    """The readable timeline and the verdicts."""
    sc = r.scenario
    out.write(f"{sc.title}\n")
    out.write(f"pump {sc.pump}, catheter {sc.catheter}, {sc.drug} ({sc.indication})\n")
    if sc.library_overridden:
        out.write("NOTE: the scenario overrides library values with TEST VALUES (not clinical)\n")
    out.write("\n")
    for e in r.events:
        line = _line(e)
        if line is not None:
            out.write(line + "\n")
    d = r.device
    out.write("\n")
    res = format_volume_nl(d.reservoir.volume_nl) if d.reservoir is not None else "-"
    out.write(
        f"final: phase {d.phase.value}, reservoir {res}, delivered "
        f"{format_amount_ng(d.delivered_ng)} in total, alarms "
        f"{', '.join(a.kind.value for a in d.alarms) or 'none'}\n"
    )
    out.write(f"({r.steps} core steps, {r.wakeups} wake-ups, {r.drive_events} drive events)\n\n")
    for x in r.results:
        if x.status == "ok":
            out.write(f"ok   {x.source} {x.type}: {x.detail}\n")
        elif x.status == "FAIL":
            out.write(f"FAIL {x.source} {x.type}: expected {x.expected}; actual: {x.detail}\n")
        else:
            out.write(f"not reached {x.source} {x.type}: {x.expected} ({x.detail})\n")
    n_fail = sum(x.status == "FAIL" for x in r.results)
    n_open = sum(x.status == "not reached" for x in r.results)
    held = len(r.results) - n_fail - n_open
    if not r.results:
        out.write("no expectations\n")
    else:
        tail = f", {n_open} not reached (after --until)" if n_open else ""
        out.write(f"{held} expectations held, {n_fail} failed{tail}\n")


class _Progress:
    def __init__(self, stream: TextIO, end: int) -> None:
        self.stream, self.end, self.last = stream, max(1, end), -1

    def __call__(self, t: int, end: int) -> None:
        pct = min(100, t * 100 // self.end)
        if pct != self.last:
            self.last = pct
            bar = "#" * (pct // 4)
            self.stream.write(f"\rsimulating [{bar:<25}] {pct:3d}% day {t // DAY_S}")
            self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """The ``simulate`` sub-command (``fn`` of its parser)."""
    from itdose.specs import load_library

    try:
        json_out = check_output_file(args.json, "--json") if args.json else None
        plot_out = check_output_file(args.plot, "--plot") if args.plot else None
        if plot_out is not None and importlib.util.find_spec("matplotlib") is None:
            raise InvalidInput(
                "--plot",
                "plotting needs matplotlib: .venv/bin/pip install -q '.[plot]' "
                "(or pip install matplotlib)",
            )
        sc = load_scenario(args.file, load_library())
        until = parse_time(args.until, "--until") if args.until else None
    except InvalidInput as exc:
        print(f"itdose simulate: {exc}", file=sys.stderr)
        return 2
    end = sc.end_s if until is None else until
    progress = None
    show = not args.no_progress and (
        args.progress or (sys.stderr.isatty() and end >= _PROGRESS_MIN_S)
    )
    if show:
        progress = _Progress(sys.stderr, end)
    try:
        result = run_scenario(sc, until_s=until, verbose=args.verbose, progress=progress)
    except DosingError as exc:
        print(f"itdose simulate: {exc}", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            progress.done()
    timeline_text(result, sys.stdout)
    if json_out is not None:
        doc = result_json(result, end)
        json_out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    if plot_out is not None:
        from itdose.adapters.plot import PlotUnavailable, plot_run

        try:
            plot_run(result, str(plot_out))
        except PlotUnavailable as exc:
            print(f"itdose simulate: {exc}", file=sys.stderr)
            return 2
    return 0 if result.ok else 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``simulate`` on the ``itdose`` sub-parsers (``set_defaults(fn=run)``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="run a scenario file on the simulated drive (exit 0 expectations held, 1 one "
        "failed, 2 invalid input)",
    )
    p.add_argument("file", help="scenario file (TOML; see docs/scenario-schema.md)")
    p.add_argument("--json", metavar="PATH", help="write the run as JSON (itdose-simulate/1)")
    p.add_argument("--plot", metavar="PATH.png", help="draw the run (needs the plot extra)")
    p.add_argument("--until", metavar="TIME", help="stop at TIME ('day 30', '90 days', seconds)")
    p.add_argument("--verbose", action="store_true", help="also show routine ticks and reports")
    p.add_argument("--progress", action="store_true", help="always show the progress bar")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(fn=run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m itdose.adapters.simulate``), same as ``itdose simulate``."""
    parser = argparse.ArgumentParser(prog="itdose")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["simulate", *(argv if argv is not None else sys.argv[1:])])
    code: int = args.fn(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
