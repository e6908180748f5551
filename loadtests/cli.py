"""``dvclab load …``: Locust load and security tests against the embedded portal or --host.

Light at import time: Locust, gevent and the portal load inside the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvclab.paths import shipped

EXIT_BAD_INPUT = 2
# Lines of progress when stderr is a log, not a terminal: one every this many seconds.
PROGRESS_EVERY_S = 5.0
# The environment variable through which the Locust master learns where to write its live figures.
LIVE_ENV = "DVCLAB_LIVE"


def live_figures(path: Path | None) -> str:
    """The Locust master's latest figures (``--dvclab-live``) as the tail of a progress line, or ""
    before it has written any (the portal still starting, say)."""
    import json

    if path is None:
        return ""
    try:
        live = json.loads(path.read_text(encoding="utf-8"))
        p95 = live["p95_ms"]
        return (
            f"offered {live['offered_rps']:.1f} rps, achieved {live['achieved_rps']:.1f} rps, "
            f"p95 {'-' if p95 is None else f'{p95:.0f}'} ms, failures {live['failures']}, "
            f"dropped {live['dropped']}/{live['scheduled']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class Progress:
    """The run's elapsed time against the profile's length and the master's live figures (offered and
    achieved rps, p95, failures, dropped), on stderr, while Locust works in the background (its own
    output goes to locust.log, so the terminal would otherwise stay silent)."""

    def __init__(self, label: str, expected_s: float, live: Path | None = None) -> None:
        import threading

        from rich.console import Console

        self.console = Console(stderr=True)
        self.label, self.expected_s, self.live = label, expected_s, live
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._show, name="dvclab-load-progress", daemon=True)

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)

    def _show(self) -> None:
        import time

        console, started = self.console, time.monotonic()
        if not console.is_terminal:
            while not self.stopped.wait(PROGRESS_EVERY_S):
                elapsed = time.monotonic() - started
                figures = live_figures(self.live)
                print(
                    f"dvclab load: {self.label}: {elapsed:.0f} s of ~{self.expected_s:.0f} s"
                    + (f", {figures}" if figures else ""),
                    file=sys.stderr,
                )
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            title = f"{self.label} (~{self.expected_s:.0f} s)"
            task = bar.add_task(title, total=self.expected_s)
            while not self.stopped.wait(0.5):
                figures = live_figures(self.live)
                bar.update(
                    task,
                    completed=min(time.monotonic() - started, self.expected_s),
                    description=f"{title} {figures}" if figures else title,
                )


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
    import os
    import tempfile

    # the portal's start-up and Locust's drain come on top of the profile's own length
    with tempfile.TemporaryDirectory(prefix="dvclab-live-") as scratch:
        live = Path(scratch) / "live.json"
        previous = os.environ.get(LIVE_ENV)
        os.environ[LIVE_ENV] = str(live)  # inherited by the Locust master the runner starts
        try:
            with Progress(f"load run {profile.name}", profile.duration + profile.drain, live):
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
        finally:
            if previous is None:
                os.environ.pop(LIVE_ENV, None)
            else:
                os.environ[LIVE_ENV] = previous
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
    failed = [c.get("id") for c in checks if c.get("verdict") == "fail"]
    not_run = [c.get("id") for c in checks if c.get("verdict") == "not run"]
    print(
        f"dvclab load: {total.get('requests')} requests, {total.get('failures')} failures, "
        f"p95 {total.get('p95_ms')} ms, p99 {total.get('p99_ms')} ms, "
        f"offered {total.get('offered_rps')} rps, "
        f"achieved {total.get('achieved_rps')} rps, dropped {total.get('dropped')}/{total.get('scheduled')}, "
        f"checks: {sum(c.get('verdict') == 'pass' for c in checks)} passed"
        + (f", failed {', '.join(failed)}" if failed else "")
        + (f", not run {', '.join(not_run)}" if not_run else ""),
        file=sys.stderr,
    )
