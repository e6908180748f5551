"""``dvclab check …``: the threshold gate CI runs on load, simulation and benchmark results.

Light at import time: the gate's modules (pydantic, yaml, rich) load inside the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_TOLERANCE = 0.10


def _repo_path(*parts: str) -> Path:
    from dvclab.catalog import REPO_ROOT

    return REPO_ROOT.joinpath(*parts)


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
    check.set_defaults(handler=run_check)
    register_load(commands)


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

    from loadtests import gate, reports, results, rules

    try:
        tolerance = parse_tolerance(args.tolerance)
    except ValueError:
        return _bad_input(f"--tolerance: {args.tolerance!r} is not a ratio like 0.1 or 10%")
    try:
        thresholds = rules.load_thresholds(args.thresholds or _repo_path("scenarios", "thresholds.yaml"))
        found = results.discover(args.results)
        verdict = gate.evaluate(thresholds, found)
        if args.baseline:
            regressions, notices = gate.compare_baseline(found, gate.read_baseline(args.baseline), tolerance)
            verdict.regressions, verdict.baseline_compared = regressions, True
            verdict.notices += notices
        if args.write_baseline:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            gate.write_baseline(found, args.write_baseline, written_at=stamp)
            verdict.notices.append(f"baseline written to {args.write_baseline}")
    except (rules.ThresholdsError, results.ResultsError, gate.GateInputError) as error:
        return _bad_input(str(error))

    junit = args.junit or _repo_path("results", "check", "junit.xml")
    summary = args.summary or _repo_path("results", "check", "summary.md")
    try:
        reports.atomic_write(junit, reports.junit_xml(verdict))
        reports.atomic_write(summary, reports.markdown(verdict))
    except OSError as error:
        return _bad_input(f"cannot write reports: {error}")
    reports.print_summary(verdict, sys.stdout)

    skipped = verdict.count("skipped")
    if args.require_all and skipped:
        return _bad_input(
            f"--require-all: {skipped} rules not evaluated (no results or no data; see {summary})"
        )
    return EXIT_FAILED if verdict.failed else EXIT_OK


# --- dvclab load ---------------------------------------------------------------------------------------


def register_load(commands: argparse._SubParsersAction) -> None:
    load = commands.add_parser("load", help="Locust load and security tests (open workload model)")
    actions = load.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    run = actions.add_parser(
        "run",
        help="run a load profile against the embedded portal or --host",
        description="Run scenarios/load/PROFILE.yaml headless. Without --host, start the reference portal "
        "on a free loopback port with a fresh database and stop it afterwards. Exit 0 when the run "
        "completed cleanly, 1 when it failed (portal down, aborted, failures, a failed check), 2 on bad "
        "input. Gate the results with `dvclab check`.",
    )
    run.add_argument("profile", metavar="PROFILE", help="a profile name (smoke, peak-day, …) or a YAML path")
    run.add_argument("--host", help="target base URL (default: start the reference portal)")
    run.add_argument("--processes", type=int, default=1, metavar="N", help="Locust worker processes")
    run.add_argument("--from-sim", metavar="RUN_DIR", help="simulation run: arrivals and channel mix")
    run.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    run.add_argument("--db", metavar="URL", help="the target's database, read-only, as ground truth")
    run.add_argument("--thresholds", type=Path, metavar="FILE", help="abort_on_fail rules to watch live")
    run.add_argument("--results", type=Path, metavar="DIR", help="parent folder (default: results/load)")
    run.set_defaults(handler=run_load)


def run_load(args: argparse.Namespace) -> int:
    from loadtests import profiles, runner, shapes

    def bad(message: str) -> int:
        print(f"dvclab load: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        profile = profiles.load_profile(args.profile)
        shapes.build_segments(profile, args.from_sim)  # a forecast must be replayable before we start
    except (profiles.ProfileError, shapes.ShapeError) as error:
        return bad(str(error))
    if not 1 <= args.processes <= 64:
        return bad("--processes must be within 1..64")
    if args.host and not args.host.startswith(("http://", "https://")):
        return bad(f"--host {args.host!r}: expected http://host:port")
    if args.host and not runner.is_loopback(args.host) and not args.allow_remote:
        return bad(f"--host {args.host} is not a loopback address; pass --allow-remote to load-test it")
    thresholds = args.thresholds or _repo_path("scenarios", "thresholds.yaml")
    if profile.thresholds:
        thresholds = args.thresholds or _repo_path(profile.thresholds)
    from loadtests.rules import ThresholdsError, load_thresholds

    try:
        load_thresholds(Path(thresholds))  # its abort_on_fail rules are watched live: check it first
    except (ThresholdsError, OSError) as error:
        return bad(f"thresholds: {error}")
    code, folder = runner.run(
        profile,
        args.profile,
        host=args.host,
        processes=args.processes,
        from_sim=str(Path(args.from_sim).resolve()) if args.from_sim else None,
        results=args.results,
        db_url=args.db,
        thresholds=str(thresholds),
        command=["dvclab", *sys.argv[1:]],
    )
    _print_outcome(folder)
    print(folder)
    return code


def _print_outcome(folder: Path) -> None:
    """One line on stderr from the results files (the folder's path stays the last line of stdout)."""
    import json

    try:
        total = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["total"]
        checks = json.loads((folder / "security.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return
    failed = [c.get("id") for c in checks if c.get("verdict") != "pass"]
    print(
        f"dvclab load: {total.get('requests')} requests, {total.get('failures')} failures, "
        f"p95 {total.get('p95_ms')} ms, p99 {total.get('p99_ms')} ms, "
        f"offered {total.get('offered_rps')} rps, "
        f"achieved {total.get('achieved_rps')} rps, dropped {total.get('dropped')}/{total.get('scheduled')}, "
        f"checks: {len(checks) - len(failed)} passed" + (f", failed {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
