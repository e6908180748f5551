"""``dvclab load …``: Locust load and security tests against the embedded portal or --host.

Light at import time: Locust, gevent and the portal load inside the handler.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dvclab.paths import shipped

EXIT_BAD_INPUT = 2
# Lines of progress when stderr is a log, not a terminal: one every this many seconds.
PROGRESS_EVERY_S = 5.0
# The environment variable through which the Locust master learns where to write its live figures.
LIVE_ENV = "DVCLAB_LIVE"


def read_live(path: Path | None) -> dict[str, Any] | None:
    """The Locust master's latest live figures (``--dvclab-live``), or None before it has written any
    (the portal still starting, say)."""
    import json

    if path is None:
        return None
    try:
        live = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return live if isinstance(live, dict) else None


def live_figures(path: Path | None) -> str:
    """The master's latest figures as the tail of a progress line, or "" before it has written any."""
    live = read_live(path)
    try:
        p95 = live["p95_ms"]  # type: ignore[index]
        return (
            f"offered {live['offered_rps']:.1f} rps, achieved {live['achieved_rps']:.1f} rps, "  # type: ignore[index]
            f"p95 {'-' if p95 is None else f'{p95:.0f}'} ms, failures {live['failures']}, "  # type: ignore[index]
            f"dropped {live['dropped']}/{live['scheduled']}"  # type: ignore[index]
        )
    except (KeyError, TypeError, ValueError):
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
        self.started = time.monotonic()
        # The schedule's clock starts when the master does (after the portal has started), not with this
        # command: the offset is learnt from the master's first live figures.
        self.schedule_offset: float | None = None

    def _clock(self) -> float | None:
        """Seconds into the schedule, or None while the portal and the master are still starting (with
        no live file to learn from, the command's own seconds)."""
        now = time.monotonic()
        if self.live is None:
            return now - self.started
        if self.schedule_offset is None:
            live = read_live(self.live)
            if live and isinstance(live.get("elapsed_s"), int | float):
                self.schedule_offset = now - float(live["elapsed_s"])
        return None if self.schedule_offset is None else now - self.schedule_offset

    def _where(self) -> str:
        """Where the run is: its schedule's seconds against the profile's length, or what it waits for."""
        elapsed = self._clock()
        if elapsed is None:
            return f"starting ({time.monotonic() - self.started:.0f} s): the portal and the load generator"
        if elapsed > self.expected_s:
            return (
                f"the ~{self.expected_s:.0f} s schedule is done ({elapsed:.0f} s); finishing the security "
                "checks and writing the results"
            )
        return f"{elapsed:.0f} s of ~{self.expected_s:.0f} s"

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)

    def _show(self) -> None:
        console = self.console
        if not console.is_terminal:
            while not self.stopped.wait(PROGRESS_EVERY_S):
                figures = live_figures(self.live)
                print(f"dvclab load: {self.label}: {self._where()}" + (f", {figures}" if figures else ""),
                      file=sys.stderr)  # fmt: skip
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
                    completed=min(self._clock() or 0.0, self.expected_s),
                    description=f"{title}: {self._where()}" + (f", {figures}" if figures else ""),
                )


def _subcommands(
    commands: argparse._SubParsersAction, name: str, help_text: str, dest: str
) -> argparse._SubParsersAction:
    """A command whose own subcommands are required (``dvclab load ACTION``, ``dvclab load map VERB``)."""
    parser = commands.add_parser(name, help=help_text)
    sub = parser.add_subparsers(dest=dest, metavar=dest.upper())
    sub.required = True
    return sub


def register(commands: argparse._SubParsersAction) -> None:
    actions = _subcommands(commands, "load", "Locust load and security tests (open workload model)", "action")
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
    run.add_argument(
        "--map",
        metavar="MAP",
        help="portal map: a shipped map's name or a YAML path (default: the profile's)",
    )
    run.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    run.add_argument(
        "--db-url",
        "--db",
        dest="db",
        metavar="URL",
        help="the portal's database (SQLAlchemy URL), opened read-only, as the checks' ground truth; the "
        "embedded portal's own is used without it",
    )
    run.add_argument("--thresholds", type=Path, metavar="FILE", help="abort_on_fail rules to watch live")
    run.add_argument("--results", type=Path, metavar="DIR", help="parent folder (default: results/load)")
    run.set_defaults(handler=run_load)
    register_map(actions)


def register_map(actions: argparse._SubParsersAction) -> None:
    """``dvclab load map check|from-har|from-openapi``: write and try a portal map."""
    verbs = _subcommands(actions, "map", "portal maps: check one against a portal, or draft one", "verb")
    check = verbs.add_parser(
        "check",
        help="run each step of a map once against a loopback portal, showing what was sent and captured",
        description="Run each step of MAP once, in a journey's order (a citizen files and pays, an officer "
        "takes the dossier through, the citizen rates it, the sync client polls), printing what was sent, "
        "what came back and what was captured. Loopback hosts only. Exit 0 when every step answered as "
        "the map expects, 1 when one did not, 2 on bad input.",
    )
    check.add_argument("map", metavar="MAP", help="a shipped map's name (reference) or a YAML path")
    check.add_argument("--host", required=True, help="the portal's base URL, on loopback")
    check.add_argument("--citizen", type=int, default=1, metavar="N", help="the citizen account number")
    check.set_defaults(handler=map_check)
    drafters = (
        (
            "from-har",
            "draft a map from a browser's HAR recording",
            "Group the recording's requests into steps (static assets dropped), detect values that come "
            "back from the portal (tokens, ids, CSRF fields) and turn them into captures with their "
            "sources. Prints the draft YAML, or writes it with --out. Fix the draft, then `map check` it.",
            ("recording", {"type": Path, "metavar": "RECORDING.har"}),
            map_from_har,
        ),
        (
            "from-openapi",
            "draft a map from an OpenAPI spec (a file or a loopback URL such as …/openapi.json)",
            "Draft a step for each operation whose path or summary names a journey step; the others are "
            "listed as comments. Prints the draft YAML, or writes it with --out.",
            (
                "spec",
                {"metavar": "SPEC", "help": "openapi.json / .yaml, or http://127.0.0.1:PORT/openapi.json"},
            ),
            map_from_openapi,
        ),
    )
    for verb, help_text, description, (source, options), handler in drafters:
        draft = verbs.add_parser(verb, help=help_text, description=description)
        draft.add_argument(source, **options)
        draft.add_argument("--name", default="drafted", help="the map's name")
        draft.add_argument("--out", type=Path, metavar="FILE", help="write the draft here")
        draft.set_defaults(handler=handler)


def map_check(args: argparse.Namespace) -> int:
    from dvclab.load import map_check as checker
    from dvclab.load import portal_map
    from dvclab.load.runner import is_loopback

    try:
        loaded = portal_map.load_map(args.map)
    except portal_map.MapError as error:
        print(f"dvclab load map check: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.host.startswith(("http://", "https://")):
        print(f"dvclab load map check: --host {args.host!r}: expected http://host:port", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not is_loopback(args.host):
        print(
            f"dvclab load map check: --host {args.host} is not a loopback address: map check logs in, files "
            "and pays for real, so it only talks to a portal on this machine (127.0.0.1, ::1, localhost)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    report = checker.check(loaded, args.host.rstrip("/"), citizen=args.citizen)
    return 1 if report.failed else 0


def _write_draft(text: str, out: Path | None) -> int:
    if out is None:
        print(text, end="")
        return 0
    from dvclab.files import atomic_write

    atomic_write(out, text)
    print(f"draft map written to {out}", file=sys.stderr)
    return 0


def _draft(args: argparse.Namespace, verb: str, draft: Callable[[Any, str], str]) -> int:
    from dvclab.load.map_draft import DraftError

    try:
        text = draft(args.recording if verb == "from-har" else args.spec, args.name)
    except DraftError as error:
        print(f"dvclab load map {verb}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _write_draft(text, args.out)


def map_from_har(args: argparse.Namespace) -> int:
    from dvclab.load.map_draft_har import from_har

    return _draft(args, "from-har", from_har)


def map_from_openapi(args: argparse.Namespace) -> int:
    from dvclab.load.map_draft_openapi import from_openapi

    return _draft(args, "from-openapi", from_openapi)


def run_load(args: argparse.Namespace) -> int:
    from dvclab.load import portal_map, profiles, runner, shapes

    def bad(message: str) -> int:
        print(f"dvclab load: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        profile = profiles.load_profile(args.profile)
        shapes.build_segments(profile, args.from_sim)  # a forecast must be replayable before we start
        portal_map.load_map(args.map or profile.map)  # a bad map is bad input, before anything starts
    except (profiles.ProfileError, shapes.ShapeError, portal_map.MapError) as error:
        return bad(str(error))
    if not 1 <= args.processes <= 64:
        return bad("--processes must be within 1..64")
    if args.host and not args.host.startswith(("http://", "https://")):
        return bad(f"--host {args.host!r}: expected http://host:port")
    if args.host and not runner.is_loopback(args.host) and not args.allow_remote:
        return bad(f"--host {args.host} is not a loopback address; pass --allow-remote to load-test it")
    if args.db:
        from dvclab.load.ground_truth import bad_url

        if not args.host:
            return bad("--db-url goes with --host: the embedded portal's own database is read without it")
        problem = bad_url(args.db)
        if problem:
            return bad(f"--db-url: {problem}")
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
                    map_name=str(Path(args.map).resolve())
                    if args.map and Path(args.map).exists()
                    else args.map,
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
        + (f"{n} refused during C06's store faults, " if (n := total.get("during_store_fault")) else "")
        + f"p95 {total.get('p95_ms')} ms, p99 {total.get('p99_ms')} ms, "
        f"offered {total.get('offered_rps')} rps, "
        f"achieved {total.get('achieved_rps')} rps, dropped {total.get('dropped')}/{total.get('scheduled')}, "
        f"checks: {sum(c.get('verdict') == 'pass' for c in checks)} passed"
        + (f", failed {', '.join(failed)}" if failed else "")
        + (f", not run {', '.join(not_run)}" if not_run else ""),
        file=sys.stderr,
    )
