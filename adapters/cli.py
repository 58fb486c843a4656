"""The ``itdose`` command line: ``verify``, ``diagram``, ``drugs``.

Exit codes: 0 success, 1 a check failed or a limit rejected the input, 2 invalid input or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from itdose.core.errors import DosingError

__all__ = ["main"]


def _cmd_verify(args: argparse.Namespace) -> int:
    from itdose.proofs.runner import print_table, run_verify

    out_dir = Path(args.out)
    ok, results = run_verify(out_dir, args.with_tests, stream=sys.stderr)
    print_table(results)
    passed = sum(r["status"] == "pass" for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    print(f"reports: {out_dir / 'report.md'}, {out_dir / 'report.json'}")
    if args.json:
        Path(args.json).write_text((out_dir / "report.json").read_text(encoding="utf-8"))
    return 0 if ok else 1


def _cmd_diagram(args: argparse.Namespace) -> int:
    from itdose.core.diagram import markdown, mermaid

    text = markdown() if args.markdown else mermaid()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_drugs(args: argparse.Namespace) -> int:
    from itdose.core.library_report import drugs_table
    from itdose.specs import load_library

    sys.stdout.write(drugs_table(load_library()))
    return 0


def _cmd_check_program(args: argparse.Namespace) -> int:
    import time
    from datetime import datetime

    from itdose.adapters.program_file import check_program_file, dumps, report_json, report_text
    from itdose.specs import load_library

    if args.now:
        try:
            now = int(datetime.fromisoformat(args.now).timestamp())
        except ValueError:
            print(f"itdose: --now: not an ISO date/time: {args.now!r}", file=sys.stderr)
            return 2
    else:
        now = int(time.time())
    pf, report = check_program_file(args.file, load_library(), now)
    if args.json:
        sys.stdout.write(dumps(report_json(pf, report)))
    else:
        sys.stdout.write(report_text(pf, report))
    return 0 if report.accepted else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="itdose",
        description="Reference dosing core for implanted intrathecal pumps, with machine-checked "
        "evidence. Not a cleared medical device.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser(
        "verify",
        help="run the structural checks and Z3 proofs over the live code; write the evidence",
    )
    verify.add_argument(
        "--out", metavar="DIR", default="evidence", help="report folder (default: evidence/)"
    )
    verify.add_argument("--json", metavar="PATH", help="also copy report.json to PATH")
    verify.add_argument(
        "--with-tests",
        action="store_true",
        help="also run the test suite (tests/) and fold each test's cited requirements into the "
        "evidence",
    )
    verify.set_defaults(fn=_cmd_verify)
    diagram = sub.add_parser("diagram", help="print the lifecycle as a mermaid diagram")
    diagram.add_argument("--markdown", action="store_true", help="the docs page, not bare mermaid")
    diagram.add_argument("--out", metavar="PATH", help="write to PATH instead of stdout")
    diagram.set_defaults(fn=_cmd_diagram)
    drugs = sub.add_parser("drugs", help="print the drug and pump library with sources")
    drugs.set_defaults(fn=_cmd_drugs)
    check = sub.add_parser(
        "check-program",
        help="validate a program file against the library (exit 0 accepted, 1 rejected by a "
        "limit, 2 invalid input)",
    )
    check.add_argument("file", help="program file (TOML; see the README)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--now",
        metavar="ISO",
        help="the date/time to evaluate at (for wall-clock daylight-saving days); default: now",
    )
    check.set_defaults(fn=_cmd_check_program)
    from itdose.adapters import log_cli, simulate

    log_cli.add_parser(sub)
    simulate.add_parser(sub)
    from itdose.adapters import pump_client, run

    run.add_parser(sub)
    pump_client.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``itdose`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.fn(args)
    except DosingError as exc:
        print(f"itdose: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
