"""The ``itdose`` command line: ``verify``, ``diagram``, ``drugs``, ``check-program``, and the
``log`` and ``simulate`` sub-commands registered by their modules.

Exit codes: 0 success, 1 a check failed or a limit rejected the input, 2 invalid input or usage.
Every path is checked (:mod:`itdose.adapters.paths`) before any work starts, so a bad path or a
missing tool costs one line and exit 2 at once. A reader that closes the output early
(``itdose log show DB | head``) ends the command quietly with exit 141, as a process stopped by
SIGPIPE would.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import sys
from collections.abc import Sequence

from itdose.adapters.paths import check_output_dir, check_output_file
from itdose.core.errors import DosingError, InvalidInput

__all__ = ["EXIT_BROKEN_PIPE", "main"]

EXIT_BROKEN_PIPE = 141


def _cmd_verify(args: argparse.Namespace) -> int:
    from itdose.proofs.runner import PYTEST_MISSING, print_reasons, print_table, run_verify

    out_dir = check_output_dir(args.out, "--out")
    try:  # now, so that --json may name a file inside a new --out folder
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(
            "--out", f"cannot create the folder: {exc.strerror}", value=str(out_dir)
        ) from None
    json_copy = check_output_file(args.json, "--json") if args.json else None
    if args.with_tests and importlib.util.find_spec("pytest") is None:
        raise InvalidInput("--with-tests", PYTEST_MISSING)
    cohort_check = None
    sized = args.cohort_patients is not None or args.cohort_years is not None
    if sized and not args.with_cohort:
        flag = "--cohort-patients" if args.cohort_patients is not None else "--cohort-years"
        raise InvalidInput(flag, "only with --with-cohort")
    if args.with_cohort:
        from itdose.adapters.cohort import parse_years, verify_check

        patients = args.cohort_patients
        if patients is not None and not 1 <= patients <= 10**7:
            raise InvalidInput("--cohort-patients", "must be 1 to 10000000", value=patients)
        years = (
            parse_years(args.cohort_years, "--cohort-years")
            if args.cohort_years is not None
            else None
        )
        cohort_check = functools.partial(verify_check, patients=patients, years=years)
    ok, results = run_verify(out_dir, args.with_tests, stream=sys.stderr, cohort=cohort_check)
    print_table(results)
    print_reasons(results)
    passed = sum(r["status"] == "pass" for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    print(f"overall: {report['summary']['overall']}")
    for line in report["summary"]["not_run"]:
        print(f"  {line}")
    if report["sbom_problem"]:
        print(report["sbom_problem"])
    print(f"reports: {out_dir / 'report.md'}, {out_dir / 'report.json'}", end="")
    print(f", {out_dir / report['sbom']}" if report["sbom"] else "")
    if json_copy is not None:
        json_copy.write_text((out_dir / "report.json").read_text(encoding="utf-8"))
    return 0 if ok else 1


def _cmd_diagram(args: argparse.Namespace) -> int:
    from itdose.adapters.diagram import markdown, mermaid

    out = check_output_file(args.out, "--out") if args.out else None
    text = markdown() if args.markdown else mermaid()
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_drugs(args: argparse.Namespace) -> int:
    from itdose.adapters.library_report import drugs_table
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
    verify.add_argument(
        "--with-cohort",
        action="store_true",
        help="also run the default cohort with controller restarts "
        "(examples/cohorts/restarts.toml, 150 patients x 1 year; CI runs 1,000) against the "
        "independent physical reference and fold it into the evidence",
    )
    verify.add_argument(
        "--cohort-patients",
        type=int,
        metavar="N",
        help="with --with-cohort: this many patients (default 150)",
    )
    verify.add_argument(
        "--cohort-years",
        metavar="Y",
        help="with --with-cohort: years per patient (default 1)",
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
    from itdose.adapters import cohort, log_cli, simulate

    log_cli.add_parser(sub)
    simulate.add_parser(sub)
    cohort.add_parser(sub)
    from itdose.adapters import pump_client, run

    run.add_parser(sub)
    pump_client.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``itdose`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.fn(args)
        sys.stdout.flush()
    except DosingError as exc:
        print(f"itdose: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader is gone: point stdout at /dev/null so the interpreter's final flush
        # cannot raise again, and stop without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
