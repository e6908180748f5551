"""``dvclab check …``: the threshold gate CI runs on load, simulation and benchmark results.

Light at import time: the gate's modules (pydantic, yaml, rich) load inside the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvclab.files import atomic_write
from dvclab.paths import results_dir, shipped

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_TOLERANCE = 0.10


def register(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="gate load, simulation and benchmark results against thresholds",
        description="Judge results against scenarios/thresholds.yaml: exit 0 when every rule holds, "
        "1 when any fails (or a metric regressed from --baseline), 2 on bad input.",
    )
    check.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS_DIR",
        help="a run folder, or a parent of several (e.g. results/load, results)",
    )
    check.add_argument(
        "--thresholds",
        type=Path,
        metavar="FILE",
        help="rules file (default: scenarios/thresholds.yaml in the repository)",
    )
    check.add_argument("--baseline", type=Path, metavar="FILE", help="compare with a stored baseline JSON")
    check.add_argument(
        "--tolerance",
        default=str(DEFAULT_TOLERANCE),
        metavar="X",
        help="relative tolerance for --baseline, as 0.1 or 10%% (default: 0.1)",
    )
    check.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="store these results' metrics as a baseline for later --baseline runs",
    )
    check.add_argument(
        "--junit", type=Path, metavar="FILE", help="JUnit XML (default: results/check/junit.xml)"
    )
    check.add_argument(
        "--summary", type=Path, metavar="FILE", help="Markdown summary (default: results/check/summary.md)"
    )
    check.add_argument(
        "--require-all",
        action="store_true",
        help="exit 2 if any rule could not be evaluated (no results or no data)",
    )
    check.add_argument(
        "--format",
        dest="form",
        choices=("table", "plain", "json", "csv", "line"),
        default="table",
        help="what to print: a table (default), plain lines, JSON, CSV, or the one-line verdict",
    )
    check.set_defaults(handler=run_check)


def parse_tolerance(text: str) -> float:
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= value < 10:
        raise ValueError
    return value


def _bad_input(message: str) -> int:
    print(f"dvclab check: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_check(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from dvclab.gate import baseline, evaluation, reports, results, rules
    from dvclab.gate.verdict import GateInputError

    try:
        tolerance = parse_tolerance(args.tolerance)
    except ValueError:
        return _bad_input(f"--tolerance: {args.tolerance!r} is not a ratio like 0.1 or 10%")
    try:
        thresholds = rules.load_thresholds(args.thresholds or shipped("thresholds.yaml"))
        found = results.discover(args.results)
        verdict = evaluation.evaluate(thresholds, found)
        if args.baseline:
            stored = baseline.read_baseline(args.baseline)
            regressions, notices = baseline.compare_baseline(found, stored, tolerance)
            verdict.regressions, verdict.baseline_compared = regressions, True
            verdict.notices += notices
        if args.write_baseline:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            baseline.write_baseline(found, args.write_baseline, written_at=stamp)
            verdict.notices.append(f"baseline written to {args.write_baseline}")
    except (rules.ThresholdsError, results.ResultsError, GateInputError) as error:
        return _bad_input(str(error))

    junit = args.junit or results_dir("check", "junit.xml")
    summary = args.summary or results_dir("check", "summary.md")
    try:
        atomic_write(junit, reports.junit_xml(verdict))
        atomic_write(summary, reports.markdown(verdict))
    except OSError as error:
        return _bad_input(f"cannot write reports: {error}")
    reports.print_summary(verdict, sys.stdout, args.form)

    skipped = verdict.count("skipped")
    if args.require_all and skipped:
        return _bad_input(
            f"--require-all: {skipped} rules not evaluated (no results or no data; see {summary})"
        )
    return EXIT_FAILED if verdict.failed else EXIT_OK
