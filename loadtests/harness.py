"""The run-wide state of one Locust process, and its wiring into Locust's events.

Every process (local, master or worker) records into its own HDR histograms and counters; workers send
deltas with each stats report (``report_to_master``) and the master adds them up (``worker_report``).
The master (or the local runner) watches ``abort_on_fail`` rules, and at the end writes
``summary.json``, ``security.json`` and the percentiles into ``--dvclab-out``.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import defaultdict
from typing import Any

from dvclab.load import data
from dvclab.load.histograms import PERCENTILES, TOTAL, Recorder
from dvclab.load.open_model import Counters, Scheduler
from dvclab.load.portal_map import PortalMap, load_map
from dvclab.load.profiles import JOURNEYS, Profile, load_profile
from dvclab.load.shapes import Segment, build_segments, duration, expected_starts, without_journeys

log = logging.getLogger("dvclab.load")
SETTLE_S = 1.0  # users of a journey register during this long before its scheduler starts
SECURITY_PREFIX = "["  # security traffic is named "[C02] POST /api/v1/auth/login"


class Run:
    """One process's view of the run."""

    def __init__(
        self,
        profile: Profile,
        segments: list[Segment],
        procedures: data.ProcedureMix,
        portal_map: PortalMap | None = None,
    ) -> None:
        self.profile = profile
        self.portal_map = portal_map or load_map()
        # Journeys the map cannot run (a step they need is missing) are left out and reported.
        self.skipped_journeys = self.portal_map.skipped_journeys()
        segments = without_journeys(segments, set(self.skipped_journeys))
        self.segments = segments
        if self.portal_map.procedures.only_mapped:
            procedures = procedures.only(lambda p: self.portal_map.portal_code(p.code) is not None)
        self.procedures = procedures
        self.duration = duration(segments)
        self.counters = Counters()
        self.scheduler = Scheduler(segments, profile.max_lag, profile.seed, self.counters)
        self.recorder = Recorder()
        self.outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.journey_requests: dict[str, int] = defaultdict(int)
        self.hygiene: dict[str, int] = defaultdict(int)  # C07, seen on every response
        self.hygiene_examples: list[str] = []
        self.receipts: list[tuple[str, int]] = []  # acknowledged receipt codes (code, dossier id)
        self.new_receipts: list[tuple[str, int]] = []  # not yet sent to the master
        self.observations: list[dict[str, Any]] = []  # security checks, before ground truth
        self.attack_started = False  # the attacker is past start_after (on the master: a worker said so)
        self.overrun = profile.security.overrun  # 0 under -t: the user's cap holds
        self.cpu_max_pct = 0.0
        self.local_users: dict[str, int] = defaultdict(int)
        self.fixed_counts: dict[str, int] = {}
        self.citizen_counter = 0
        self.worker_index = 0
        self.worker_count = 1
        # Content (keys, addresses, passwords) must differ between runs and workers: an Idempotency-Key
        # reused against a portal that keeps its data would replay an old dossier. Arrival times stay
        # reproducible (the scheduler's own seed).
        self.rng = random.Random(f"{profile.seed}-{os.getpid()}-{time.time_ns()}")
        self.runner: Any = None
        self.started_at: float | None = None
        self.test_started_at: float | None = None  # the master's (or the local runner's) start
        self.aborted: str | None = None
        self.portal_down: str | None = None

    # --- journeys ------------------------------------------------------------------------------------

    def join(self, journey: str) -> None:
        """A runner of ``journey`` was spawned here; the first one starts that journey's scheduler."""
        import gevent

        self.local_users[journey] += 1
        if self.local_users[journey] == 1:
            gevent.spawn_later(SETTLE_S, self._start, journey)

    def _start(self, journey: str) -> None:
        self._sync_worker()
        self.scheduler.seed = self.profile.seed + 7919 * self.worker_index  # workers: independent streams
        share = self.local_users[journey] / max(1, self.fixed_counts.get(journey, self.local_users[journey]))
        self.started_at = self.started_at or time.time()
        self.scheduler.start_journey(journey, min(1.0, share), t0=self.started_at)

    def _sync_worker(self) -> None:
        """The worker's index and the number of workers are known only once the master has spoken."""
        if self.runner is not None and hasattr(self.runner, "worker_index"):
            self.worker_index = int(getattr(self.runner, "worker_index", 0) or 0)
            self.worker_count = max(1, int(getattr(self.runner, "worker_count", 1) or 1))

    def portal_code(self, proc: data.Proc, values: dict[str, Any] | Any) -> Any:
        """The portal's own code for ``proc``: captured by this journey's catalog search, or the map's."""
        captured = values.get("procedure_code")
        if captured is not None or self.portal_map.procedures.lookup == "search":
            return captured
        return self.portal_map.portal_code(proc.code)

    def next_citizen(self) -> int:
        """Round-robin over citizens 1..N, interleaved across workers (per-citizen quotas stay far)."""
        self._sync_worker()
        self.citizen_counter += 1
        n = self.worker_index + self.worker_count * self.citizen_counter
        return n % self.profile.citizens + 1

    # --- recording -----------------------------------------------------------------------------------

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response: Any = None,
        context: dict | None = None,
        exception: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        context = context or {}
        status = getattr(response, "status_code", 0) or 0
        self._hygiene(status, response)
        outcome = context.get("outcome") or (data.ERROR if exception else data.OK)
        self.outcomes[name][outcome] += 1
        if name.startswith(SECURITY_PREFIX):
            return  # checks judge their own traffic; its latency is not the citizens' latency
        millis = response_time or 0.0
        intended = context.get("intended")
        if intended is not None and start_time is not None:
            # From the intended start: a journey the generator could not begin on time (a stalled
            # portal holding every runner) is charged the wait, which closed-loop pacing would hide.
            millis = max(millis, (start_time - intended) * 1000 + millis)
        self.recorder.record(name, millis)
        journey = context.get("journey")
        if journey:
            self.journey_requests[journey] += 1

    def _hygiene(self, status: int, response: Any) -> None:
        if status in data.SERVER_ERRORS:
            self.hygiene[f"status_{status}"] += 1
            self._example(f"{status}")
        if status in (429, 503) and not data.header(response, "Retry-After"):
            self.hygiene["missing_retry_after"] += 1
            self._example(f"{status} without Retry-After")
        if status >= 400:
            try:
                body = response.content
            except Exception:  # noqa: BLE001 - a broken body is judged elsewhere
                body = b""
            if data.leaks_internals(body):
                self.hygiene["leaky_bodies"] += 1
                self._example(f"{status} body leaks internals")
        if status >= 400 or status == 0:
            self.hygiene[f"seen_{status}"] += 1

    def _example(self, text: str) -> None:
        if len(self.hygiene_examples) < 10:
            self.hygiene_examples.append(text)

    def note_receipt(self, code: str, dossier_id: int) -> None:
        self.receipts.append((code, dossier_id))
        self.new_receipts.append((code, dossier_id))

    def sample_cpu(self) -> None:
        import psutil

        process = psutil.Process()
        process.cpu_percent(None)
        while True:
            import gevent

            gevent.sleep(1.0)
            self.cpu_max_pct = max(self.cpu_max_pct, process.cpu_percent(None))

    # --- worker -> master ----------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """Deltas since the last report (the master adds them up)."""
        payload = {
            "hdr": self.recorder.encode_and_reset(),
            "outcomes": {k: dict(v) for k, v in self.outcomes.items()},
            "journey_requests": dict(self.journey_requests),
            "hygiene": dict(self.hygiene),
            "hygiene_examples": list(self.hygiene_examples),
            "counters": self.counters.as_dict(),
            "receipts": list(self.new_receipts),
            "observations": list(self.observations),
            "attack_started": self.attack_started,
            "cpu_max_pct": self.cpu_max_pct,
        }
        self.outcomes.clear()
        self.journey_requests.clear()
        self.hygiene.clear()
        self.hygiene_examples.clear()
        self.counters.scheduled.clear()
        self.counters.started.clear()
        self.counters.dropped.clear()
        self.counters.unstarted_at_stop = 0
        self.new_receipts.clear()
        self.observations.clear()
        return payload

    def merge(self, payload: dict[str, Any]) -> None:
        self.recorder.merge_encoded(payload.get("hdr", {}))
        for name, counts in payload.get("outcomes", {}).items():
            for outcome, n in counts.items():
                self.outcomes[name][outcome] += n
        for journey, n in payload.get("journey_requests", {}).items():
            self.journey_requests[journey] += n
        for key, n in payload.get("hygiene", {}).items():
            self.hygiene[key] += n
        for text in payload.get("hygiene_examples", []):
            self._example(text)
        self.counters.add(payload.get("counters", {}))
        self.receipts.extend(tuple(r) for r in payload.get("receipts", []))
        self.observations.extend(payload.get("observations", []))
        self.attack_started = self.attack_started or bool(payload.get("attack_started"))
        self.cpu_max_pct = max(self.cpu_max_pct, float(payload.get("cpu_max_pct", 0.0)))

    # --- the run's end ---------------------------------------------------------------------------------

    def attacker_busy(self) -> bool:
        """Whether the attacker has started and a check it probes has not reported yet (on the master:
        its worker's observations arrive with the reports). One that never started is not waited for:
        its checks are "not run", the run ended before it."""
        from dvclab.load import check_registry  # the checks import this module's users

        probed = {check.id for check in check_registry.probed(self.profile.security.checks)}
        return self.attack_started and bool(probed - {o["id"] for o in self.observations})

    def keeps_running(self, elapsed: float) -> bool:
        """The shape's question: the schedule and its drain, then as long as the attacker is still
        probing, at most ``overrun`` more (``security.overrun``; none under -t)."""
        end = SETTLE_S + self.duration + self.profile.drain
        if elapsed < end:
            return True
        return elapsed < end + self.overrun and self.attacker_busy()

    # --- results -------------------------------------------------------------------------------------

    def schedule_elapsed(self, now: float | None = None) -> float | None:
        """Seconds of the schedule that ran when the run stopped before its end (interrupted, aborted,
        the portal down), so that rates are over the time it ran, not the planned length; None when
        the whole schedule ran."""
        if self.test_started_at is None:
            return None
        ran = (time.time() if now is None else now) - self.test_started_at - SETTLE_S
        return max(ran, 1e-3) if ran < self.duration else None

    def summary(self, elapsed: float | None = None, percentiles: bool = True) -> dict[str, Any]:
        """``summary.json`` (layout in loadtests/README.md); ``elapsed`` for a snapshot mid-run.

        Percentiles walk every histogram in pure Python (milliseconds each, blocking the event loop, so
        delaying every response in flight): snapshots skip them unless an abort rule needs them."""
        no_percentiles = dict.fromkeys((*PERCENTILES, "max_ms"))
        span = max(1e-9, elapsed if elapsed is not None else self.duration)
        endpoints: dict[str, Any] = {}
        security_endpoints: dict[str, Any] = {}
        for name in sorted(self.outcomes):
            counts = self.outcomes[name]
            requests = sum(counts.values())
            entry = {
                "requests": requests,
                "failures": counts.get(data.ERROR, 0),
                "expected_refusals": counts.get(data.REFUSED, 0),
                "during_store_fault": counts.get(data.DURING_STORE_FAULT, 0),
                "rps": round(requests / span, 3),
            }
            if name.startswith(SECURITY_PREFIX):
                security_endpoints[name] = entry
            else:
                endpoints[name] = {
                    **entry,
                    **(self.recorder.percentiles(name) if percentiles else no_percentiles),
                }
        requests = sum(e["requests"] for e in endpoints.values())
        failures = sum(e["failures"] for e in endpoints.values())
        faulted = sum(e["during_store_fault"] for e in endpoints.values())
        scheduled = sum(self.counters.scheduled.values())
        dropped = sum(self.counters.dropped.values())
        offered = float(requests)
        for journey in JOURNEYS:  # a dropped journey would have sent what its started ones sent
            started = self.counters.started.get(journey, 0)
            lost = self.counters.dropped.get(journey, 0)
            if lost:
                per = (
                    self.journey_requests.get(journey, 0) / started if started else NOMINAL_REQUESTS[journey]
                )
                offered += lost * per
        total = {
            "requests": requests,
            "failures": failures,
            "expected_refusals": sum(e["expected_refusals"] for e in endpoints.values()),
            "during_store_fault": faulted,
            "rps": round(requests / span, 3),
            **(self.recorder.percentiles(TOTAL) if percentiles else no_percentiles),
            "offered_rps": round(offered / span, 3),
            "achieved_rps": round((requests - failures - faulted) / span, 3),  # answered as the step wanted
            "offered_journeys_per_s": round(expected_starts(self.segments) / max(1e-9, self.duration), 3),
            "scheduled": scheduled,
            "started": sum(self.counters.started.values()),
            "dropped": dropped,
            "dropped_ratio": round(dropped / scheduled, 6) if scheduled else None,
            "duration_s": round(span, 3),
            "generator_cpu_max_pct": round(self.cpu_max_pct, 1),
            "generator_lag_max_ms": round(self.counters.lag_max_s * 1000, 1),
            "start_delay_max_ms": round(self.counters.start_delay_max_s * 1000, 1),
            "dropped_unstarted_at_stop": self.counters.unstarted_at_stop,
        }
        summary: dict[str, Any] = {
            "schema": 1,
            "profile": self.profile.name,
            "endpoints": endpoints,
            "total": total,
            "journeys": {
                "scheduled": dict(self.counters.scheduled),
                "started": dict(self.counters.started),
                "dropped": dict(self.counters.dropped),
                "requests": dict(self.journey_requests),
            },
            "security_requests": security_endpoints,
            "hygiene": dict(self.hygiene),
            "portal_map": self.portal_map.name,
        }
        if self.skipped_journeys:
            summary["skipped_journeys"] = dict(self.skipped_journeys)
        if self.aborted:
            summary["aborted"] = self.aborted
        if self.portal_down:
            summary["portal_down"] = self.portal_down
        return summary


# What each journey sends when all goes well (used only to price dropped journeys before any ran).
NOMINAL_REQUESTS = {"citizen_online": 10, "assisted": 7, "officer": 5, "tracker": 2, "sync": 2}

RUN: Run | None = None


def setup(profile_name: str, from_sim: str | None = None, map_name: str | None = None) -> Run:
    global RUN
    profile = load_profile(profile_name)
    segments = build_segments(profile, from_sim)
    portal_map = load_map(map_name or profile.map)
    RUN = Run(profile, segments, data.ProcedureMix.from_catalog(), portal_map)
    return RUN


def current() -> Run:
    if RUN is None:
        setup(
            os.environ.get("DVCLAB_PROFILE", "smoke"),
            os.environ.get("DVCLAB_FROM_SIM") or None,
            os.environ.get("DVCLAB_MAP") or None,
        )
    assert RUN is not None
    return RUN


def journey_slots(run: Run) -> dict[str, int]:
    """Journey runners per journey (all workers): the profile's journey slots split by expected starts."""
    total = expected_starts(run.segments)
    sizes = {}
    for journey in JOURNEYS:
        share = expected_starts(run.segments, journey) / total if total else 0.0
        sizes[journey] = max(1, round(run.profile.journey_slots * share)) if share > 0 else 1
    return sizes
