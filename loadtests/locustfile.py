"""dvclab load tests: citizens, counter staff, officers, trackers and the national portal, on an open
workload model, with security checks beside them.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000                 # web UI
    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --headless \\
        --dvclab-profile smoke --dvclab-out /tmp/run                                  # results files

Options (also as environment variables): ``--dvclab-profile`` (``DVCLAB_PROFILE``, default ``smoke``),
``--dvclab-from-sim RUN_DIR`` (``DVCLAB_FROM_SIM``), ``--dvclab-map MAP`` (``DVCLAB_MAP``: the portal map
the journeys run from, default the profile's ``map``), ``--dvclab-out DIR`` (write summary.json,
security.json, percentiles), ``--dvclab-db URL`` (ground truth for the checks), ``--dvclab-thresholds``.
The shape below starts one runner per journey in flight and stops after the schedule and its drain;
the journeys' start times come from the profile's shape (see ``open_model.py``).

Locust's common options: ``-t/--run-time`` caps the profile's schedule (journeys are scheduled for at
most that long, then the drain lets those in flight finish; on one process only). ``-u/--users`` and
``-r/--spawn-rate`` are refused (exit 2, one line): in an open model the profile's shape decides when
journeys start and ``journey_slots`` how many may be in flight, so a user count would mean nothing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import gevent
from locust import LoadTestShape, events, task
from locust.runners import MasterRunner, WorkerRunner

from dvclab.files import atomic_write_json
from dvclab.load import check_registry, harness
from dvclab.load.check_client import ProbeClient
from dvclab.load.histograms import TOTAL
from dvclab.load.locust_options import EXIT_BAD_INPUT, cap_schedule, refused_options
from dvclab.load.security_checks import NOT_RUN_KEY
from dvclab.load.users import AssistedFiling, CitizenOnline, NationalSync, Officer, PortalUser, PublicTracker
from dvclab.load.verdicts import UNMET, finalise, unbound

__all__ = ["AssistedFiling", "Attacker", "CitizenOnline", "NationalSync", "Officer", "PublicTracker"]
CLASSES = {
    "citizen_online": CitizenOnline,
    "assisted": AssistedFiling,
    "officer": Officer,
    "tracker": PublicTracker,
    "sync": NationalSync,
}


class Attacker(PortalUser):
    """Runs the profile's security checks' probes once, ``start_after`` into the run, in the registry's
    order, beside the load; then idles. The checks themselves live in ``*_checks.py``."""

    journey = "security"
    fixed_count = 1
    concurrency = 64

    def on_start(self) -> None:  # no PortalUser.on_start: the attacker takes no journey's runner slot
        self.run = harness.current()
        self.probes = ProbeClient(self.client, self.run)
        self.done = False

    @task
    def attack(self) -> None:
        if self.done or not self.run.profile.security.checks:
            gevent.sleep(1.0)
            return
        self.done = True
        gevent.sleep(self.run.profile.security.start_after)
        self.run.attack_started = True  # from now on the run waits for the last probe (security.overrun)
        for check in check_registry.probed(self.run.profile.security.checks):
            # A check whose step, limit or precondition the map lacks sends nothing: "not run", saying why.
            reason = check_registry.cannot_run(check, self.run.portal_map, self.run.profile)
            observed = {NOT_RUN_KEY: reason, UNMET: True} if reason else check.attack(self.probes)
            self.run.observations.append({"id": check.id, "observed": observed})


@events.init_command_line_parser.add_listener
def _options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--dvclab-profile", default=os.environ.get("DVCLAB_PROFILE", "smoke"))
    parser.add_argument("--dvclab-from-sim", default=os.environ.get("DVCLAB_FROM_SIM", ""))
    # the portal map the journeys run from (default: the profile's `map`, else the reference portal's)
    parser.add_argument("--dvclab-map", default=os.environ.get("DVCLAB_MAP", ""))
    parser.add_argument("--dvclab-out", default=os.environ.get("DVCLAB_OUT", ""))
    parser.add_argument("--dvclab-db", default=os.environ.get("DVCLAB_DB", ""))
    parser.add_argument("--dvclab-thresholds", default=os.environ.get("DVCLAB_THRESHOLDS", ""))
    # A JSON file rewritten every few seconds with the live figures (`dvclab load run` shows them).
    parser.add_argument("--dvclab-live", default=os.environ.get("DVCLAB_LIVE", ""))


@events.init.add_listener
def _init(environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    options = environment.parsed_options
    run = harness.setup(
        getattr(options, "dvclab_profile", None) or "smoke",
        getattr(options, "dvclab_from_sim", None) or None,
        getattr(options, "dvclab_map", None) or None,
    )
    if not isinstance(environment.runner, WorkerRunner):
        for journey, reason in run.skipped_journeys.items():
            print(f"dvclab: journey {journey} skipped: {reason}", file=sys.stderr)
    if not isinstance(environment.runner, WorkerRunner):
        reason = refused_options(options, run)
        if reason:
            print(f"dvclab: {reason}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)  # before anything starts: no results, nothing to judge
    sizes = harness.journey_slots(run)
    run.fixed_counts = sizes
    for journey, cls in CLASSES.items():
        cls.fixed_count = sizes[journey]
    Attacker.fixed_count = 1
    runner = run.runner = environment.runner
    if isinstance(runner, WorkerRunner):

        @events.report_to_master.add_listener
        def _report(client_id, data) -> None:  # type: ignore[no-untyped-def]
            data["dvclab"] = run.report()

    elif isinstance(runner, MasterRunner):

        @events.worker_report.add_listener
        def _merge(client_id, data) -> None:  # type: ignore[no-untyped-def]
            if "dvclab" in data:
                run.merge(data["dvclab"])

    events.request.add_listener(run.on_request)
    gevent.spawn(run.sample_cpu)


@events.test_start.add_listener
def _watch(environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    if isinstance(environment.runner, WorkerRunner):
        return
    run = harness.current()
    # -t (or the web UI's run time, set only when the test starts) caps the schedule before it starts.
    run_time = getattr(environment.parsed_options, "run_time", None)
    planned = run.duration
    if run_time:
        run.overrun = 0.0  # a run time the user gives is a cap: no waiting for a probe past it
    if run_time and cap_schedule(run, float(run_time)):
        print(
            f"dvclab: -t {run_time}s: the {run.profile.name} schedule runs {run.duration:g} s of its "
            f"{planned:g} s, then its {run.profile.drain:g} s drain",
            file=sys.stderr,
        )
    run.test_started_at = time.time()
    gevent.spawn(_abort_watch, environment)


LIVE_EVERY_S = 2  # seconds between two writes of the live figures


def _write_live(path: Path, run: harness.Run, elapsed: float) -> None:
    """The figures of the progress line: rates over the schedule's seconds so far, the p95 of all
    journey requests (one histogram walk: cheap every few seconds)."""
    span = max(1e-3, elapsed - harness.SETTLE_S)
    total = run.summary(elapsed=span, percentiles=False)["total"]
    figures = {key: total[key] for key in ("requests", "failures", "offered_rps", "achieved_rps")}
    figures |= {"dropped": total["dropped"], "scheduled": total["scheduled"]}
    figures |= {"elapsed_s": round(elapsed, 1), "p95_ms": run.recorder.percentiles(TOTAL)["p95_ms"]}
    try:
        atomic_write_json(path, figures)
    except OSError as error:  # the progress line is a convenience: never stop the run over it
        print(f"dvclab: cannot write the live figures to {path}: {error}", file=sys.stderr)


def _abort_watch(environment) -> None:  # type: ignore[no-untyped-def]
    """Stop early on a failing ``abort_on_fail`` rule, or when the portal stops answering its health
    path (the map's ``health``, /healthz on the reference portal)."""
    import requests

    from dvclab.gate.abort import AbortWatch
    from dvclab.gate.rules import load_thresholds

    run = harness.current()
    path = getattr(environment.parsed_options, "dvclab_thresholds", "") or run.profile.thresholds
    try:
        watch = AbortWatch(load_thresholds(Path(path))) if path else None
    except Exception as error:  # noqa: BLE001 - say so, and still watch the portal's health
        print(f"dvclab: no abort rules watched: {error}", file=sys.stderr)
        watch = None
    exact = bool(watch) and any(rule.metric.endswith("_ms") for _, rule in watch.rules)  # type: ignore[union-attr]
    live = getattr(environment.parsed_options, "dvclab_live", "")
    started, down_since, written = time.time(), None, 0.0
    health = run.portal_map.health
    while environment.runner.state not in ("stopped", "stopping", "quitting"):
        gevent.sleep(1.0)
        elapsed = time.time() - started
        if live and elapsed - written >= LIVE_EVERY_S:
            _write_live(Path(live), run, elapsed)
            written = elapsed
        try:
            ok = requests.get(f"{environment.host}{health}", timeout=2).status_code == 200
        except requests.RequestException:
            ok = False
        down_since = None if ok else (down_since or time.time())
        if down_since and time.time() - down_since >= 3:
            run.portal_down = (
                f"the portal at {environment.host} stopped answering {health} at t={elapsed:.0f}s"
            )
            print(f"dvclab: {run.portal_down}; stopping the run", file=sys.stderr)
            environment.runner.quit()
            return
        if watch:
            decision = watch.observe(elapsed, run.summary(elapsed=elapsed, percentiles=exact))
            if decision:
                run.aborted = decision.message
                print(f"dvclab: {decision.message}", file=sys.stderr)
                environment.runner.quit()
                return


@events.test_stop.add_listener
def _stopped(environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    # Journeys still queued when the run stops were never started: dropped (workers report them too).
    harness.current().scheduler.drop_leftovers()


@events.quitting.add_listener
def _finish(environment, **_kw) -> None:  # type: ignore[no-untyped-def]
    if isinstance(environment.runner, WorkerRunner):
        return
    run = harness.current()
    run.scheduler.drop_leftovers()
    out = getattr(environment.parsed_options, "dvclab_out", "")
    security = finalise(run, environment.host, getattr(environment.parsed_options, "dvclab_db", "") or None)
    summary = run.summary(elapsed=run.schedule_elapsed())
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "summary.json", summary)
        atomic_write_json(folder / "security.json", security)
        atomic_write_json(folder / "receipts.json", [code for code, _ in run.receipts])
    failed = [c["id"] for c in security if c["verdict"] == "fail"]
    not_run = [c["id"] for c in security if c["verdict"] == "not run" and not unbound(c)]
    unsupported = [c["id"] for c in security if unbound(c)]
    total = summary["total"]
    print(
        f"dvclab: {total['requests']} requests, {total['failures']} failures, "
        f"{total['expected_refusals']} expected refusals, "
        + (f"{n} refused during C06's store faults, " if (n := total["during_store_fault"]) else "")
        + f"p95 {total['p95_ms']} ms, "
        f"offered {total['offered_rps']} rps, achieved {total['achieved_rps']} rps, "
        f"dropped {total['dropped']}/{total['scheduled']}, checks failed: {failed or 'none'}"
        + (f", not run: {not_run}" if not_run else "")
        + (f", not run on this portal as mapped: {unsupported}" if unsupported else ""),
        file=sys.stderr,
    )
    if total["generator_cpu_max_pct"] >= 90 or total["generator_lag_max_ms"] > run.profile.max_lag * 1000:
        # A saturated generator sends late and measures late: its figures understate the portal's latency.
        print(
            f"dvclab: the load generator fell behind (peak CPU {total['generator_cpu_max_pct']} %, "
            f"scheduler {total['generator_lag_max_ms']} ms late): add --processes or lower the rate",
            file=sys.stderr,
        )
    if run.portal_down or run.aborted or failed or not_run or total["failures"]:
        environment.process_exit_code = 1


class OpenModelShape(LoadTestShape):
    """All journey runners at once, for the schedule's length plus a drain; the runners' own scheduler
    decides when journeys start (an open model), not this user count."""

    # We read -u/-r/-t ourselves (refused, refused, a cap): Locust then does not warn they are ignored.
    use_common_options = True

    def tick(self):  # type: ignore[no-untyped-def]
        run = harness.current()
        users = sum(run.fixed_counts.values()) + 1
        return (users, users) if run.keeps_running(self.get_run_time()) else None
