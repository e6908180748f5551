"""``dvclab load …``: Locust load and security tests against the embedded portal or --host.

Light at import time: Locust, gevent and the portal load inside the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvclab.paths import shipped

EXIT_BAD_INPUT = 2




def register(commands: argparse._SubParsersAction) -> None:
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
    from dvclab.load import profiles, runner, shapes

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
    thresholds = args.thresholds or shipped("thresholds.yaml")
    if profile.thresholds:
        thresholds = args.thresholds or Path(profile.thresholds)
    from dvclab.gate.rules import ThresholdsError, load_thresholds

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
