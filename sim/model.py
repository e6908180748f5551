"""The province: counters, officer pools and the dossier process that runs through them.

A dossier's journey (a SimPy process): reception (a counter visit, a postal transit, or an online
submission), then for each step of its procedure (more than one for an inter-linked group) an officer
of the step's pool examines it, possibly requests a supplement and waits for the citizen, and the
decision goes through approval; the result is issued. Payment, result return and digitisation do not
queue, so they are settled per dossier after the run (``sim.kpis``).

Over ~400 lines because it is one concept: the ``ProvinceModel`` whose SimPy processes share the same
counters, pools, calendar and per-dossier arrays; splitting them would scatter that state.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from dvclab.catalog import LEVELS
from dvclab.sim.back_office import OfficerPool
from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.channels import ASSISTED, AT_COUNTER, COUNTER, ONLINE_WITH_VISIT, POSTAL
from dvclab.sim.counters import Counter
from dvclab.sim.demand import Dossiers, generate_dossiers
from dvclab.sim.procedures import ProcedureTable
from dvclab.sim.scenario import Scenario, ScenarioError, opening_minutes
from dvclab.sim.stability import offered_loads, warn_unstable
from dvclab.sim.streams import RandomStreams
from dvclab.sim.units import load_units

LEVEL_CODE = {"province": 0, "district": 1, "commune": 2}
UNIT_KEY = 100_000  # a unit's officer pool is pools[pool_index * UNIT_KEY + unit]
DRAIN_DAYS = 400  # calendar kept beyond the horizon so that every counted dossier can finish


class OverloadError(RuntimeError):
    """The pipeline did not drain inside the calendar: some pool cannot keep up with its demand."""


def lognormal_factor(z: np.ndarray, cv: float) -> np.ndarray:
    """Multipliers with mean 1 and coefficient of variation ``cv`` from standard normal draws."""
    if cv == 0:
        return np.ones_like(z)
    sigma = math.sqrt(math.log1p(cv * cv))
    return np.exp(sigma * z - sigma * sigma / 2)


class Province:
    """What a run's province is before any citizen arrives: its calendar, its units and their sizes, and
    its officer pools' staffing (``sim.stability`` reads it without generating dossiers)."""

    def __init__(self, scenario: Scenario, table: ProcedureTable) -> None:
        self.scenario = scenario
        self.table = table
        run = scenario.run
        self.warmup_days = scenario.startup.warmup_days if scenario.startup.mode == "warmup" else 0
        self.horizon_days = run.horizon_days
        epoch = run.start_date - dt.timedelta(days=self.warmup_days)
        self.calendar = WorkingCalendar(
            epoch,
            self.warmup_days + self.horizon_days + DRAIN_DAYS,
            opening_minutes(scenario.counters.opening_hours),
            saturday_morning=scenario.counters.saturday_morning,
            extra_closures=scenario.counters.closures,
            same_day_cutoff=opening_minutes([(scenario.counters.same_day_cutoff, "24:00")])[0][0],
        )
        self.window = (
            self.warmup_days * MINUTES_PER_DAY,
            (self.warmup_days + self.horizon_days) * MINUTES_PER_DAY,
        )
        # The province is data, not a draw: every seed and replication has the same units and sizes.
        self.province = load_units(scenario.units_path())
        self.communes = self.province.commune_share
        self.district_of = self.province.district_of
        self.pool_names = sorted(set(table.pools))
        self._pool_index = {name: k for k, name in enumerate(self.pool_names)}
        self._check_staffing()

    def units(self, level: str) -> int:
        geography = self.scenario.geography
        return {"province": 1, "district": geography.districts, "commune": geography.communes}[level]

    def officers_of(self, pool: str, unit: int | None = None) -> int:
        """Officers of a pool (``district.land``) in each unit of its level, or in ``unit`` when the units
        file gives that unit its own staffing."""
        level, _, agency = pool.partition(".")
        if unit is not None:
            own = self.province.officers(level, unit, agency)
            if own is not None:
                return own
        staffing = self.scenario.back_office.staffing.get(level, {})
        return staffing.get(agency, self.scenario.back_office.default_officers)

    def _check_staffing(self) -> None:
        for pool in self.pool_names:
            volume = self.table.annual_volume[[k for k, p in enumerate(self.table.pools) if p == pool]].sum()
            if volume > 0 and self.officers_of(pool) == 0:
                raise ScenarioError(
                    f"back_office.staffing.{pool}: 0 officers, but the pool receives about {volume:,.0f} "
                    "dossiers a year; give it at least 1"
                )


class ProvinceModel(Province):
    def __init__(
        self,
        scenario: Scenario,
        table: ProcedureTable,
        replication: int = 0,
        monitored: bool = False,
        hot_path: bool = True,
    ) -> None:
        super().__init__(scenario, table)
        self.monitored = monitored  # integrate queue lengths (validation runs only: it costs time)
        self.hot_path = hot_path  # False: every dossier runs as a process (to test that both agree)
        self.replication = replication
        self.observer: Any = None  # sim.event_log.EventRecorder while a run writes its event log
        self.streams = RandomStreams(scenario.run.seed, replication)
        self.dossiers: Dossiers = generate_dossiers(
            scenario, table, self.calendar, self.streams, self.warmup_days, self.horizon_days, self.communes
        )
        self.env = simpy.Environment()
        self._build_counters()
        self.pools: dict[int, OfficerPool] = {}
        self._prepare()
        if replication == 0:  # once per run, as it starts: a unit that cannot keep up is named
            warn_unstable(offered_loads(self), scenario.name)

    # -- resources ---------------------------------------------------------------------------------
    def _build_counters(self) -> None:
        settings = self.scenario.counters
        self.counters: list[Counter] = []
        self._counter_offset = {}
        for level in LEVELS:
            self._counter_offset[level] = len(self.counters)
            officers = settings.officers[level]
            if settings.mode == "pooled":
                officers *= self.units(level)
                units = 1
            else:
                units = self.units(level)
            for unit in range(units):
                counter = Counter(
                    self.env, f"counter.{level}.{unit}", officers, self.calendar, self.monitored
                )
                counter.window = self.window
                self.counters.append(counter)

    def _pool(self, pool_index: int, unit: int) -> OfficerPool:
        key = pool_index * UNIT_KEY + unit
        pool = self.pools.get(key)
        if pool is None:
            name = self.pool_names[pool_index]
            pool = OfficerPool(
                self.env,
                f"{name}.{unit}",
                self.officers_of(name, unit),
                self.calendar,
                self.scenario.back_office.discipline,
                self.monitored,
            )
            pool.window = self.window
            self.pools[key] = pool
        return pool

    def _unit(self, level: str, commune: int) -> int:
        if level == "commune":
            return commune
        if level == "district":
            return int(self.district_of[commune])
        return 0

    # -- per-dossier draws, vectorised -------------------------------------------------------------
    def _prepare(self) -> None:
        d, t, s = self.dossiers, self.table, self.scenario
        p = d.procedure
        n = len(d)
        level_code = np.array([LEVEL_CODE[level] for level in t.levels])[p]
        district = self.district_of[d.commune]
        unit = np.where(level_code == 2, d.commune, np.where(level_code == 1, district, 0))
        if s.counters.mode == "pooled":
            unit = np.zeros_like(unit)
        offsets = np.array([self._counter_offset[level] for level in LEVELS])
        self.counter_id = (offsets[level_code] + unit).tolist()
        self.counter_level_commune = (level_code == 2).tolist()

        channel = d.channel
        self.visits = np.isin(channel, AT_COUNTER).tolist()
        self.postal_in = (channel == POSTAL).tolist()
        scanned_paper = (channel == ASSISTED) | ((channel == COUNTER) & (d.u_scan < s.counters.scan_share))
        reception = t.reception_min[p] * lognormal_factor(d.z_reception, s.counters.reception_cv)
        reception += np.where(channel == ASSISTED, s.channels.assisted_extra_min, 0.0)
        reception += np.where(scanned_paper, s.counters.scan_min, 0.0)
        self.reception = reception.tolist()
        self.scanned_paper = scanned_paper
        self.post_in_min = (d.post_days * self.calendar.minutes_per_working_day).tolist()

        # inter-linked groups: a share of first-step dossiers carries the group's later steps
        self.chain: dict[int, list[int]] = {}
        deadline = t.deadline_days[p].copy()
        for group, settings in s.interlinked.items():
            steps = sorted(
                (int(t.interlinked_step[k]), k) for k in range(len(t)) if t.interlinked_group[k] == group
            )
            if len(steps) < 2:
                continue
            first = steps[0][1]
            chained = np.flatnonzero((p == first) & (d.u_interlinked < settings.share))
            later = [k for _, k in steps[1:]]
            for i in chained.tolist():
                self.chain[i] = later
            deadline[chained] = settings.deadline_days
        self.deadline = deadline.tolist()
        self.interlinked = np.zeros(n, dtype=bool)
        self.interlinked[list(self.chain)] = True

        bo = s.back_office
        effort = t.effort_min[p] * lognormal_factor(d.z_effort[:, 0], bo.effort_cv)
        self.effort = effort.tolist()
        per_day = self.calendar.minutes_per_working_day
        self.approval = (
            t.approval_days[p] * lognormal_factor(d.z_approval[:, 0], bo.approval_cv) * per_day
        ).tolist()
        self.supplement = (d.u_supplement[:, 0] < t.supplement_prob[p]).tolist()
        self.supplement_days = d.supplement_days[:, 0].tolist()
        pool_of_procedure = np.array([self._pool_index[name] for name in t.pools])
        self.pool_id = pool_of_procedure[p].tolist()
        # pools are always per unit; only counters may be pooled
        self.pool_unit = np.where(level_code == 2, d.commune, np.where(level_code == 1, district, 0)).tolist()
        self._pool_of_procedure = pool_of_procedure
        self._level_of_procedure = t.levels

        # dossiers that can take the callback-driven hot path (see ``file``)
        self.direct = (
            ~np.asarray(self.postal_in) & ~np.asarray(self.supplement) & ~self.interlinked & self.hot_path
        ).tolist()

        # outcomes, filled in by the dossier processes
        self.received = [math.nan] * n
        self.due = [math.nan] * n
        self.issued = [math.nan] * n
        self.counter_wait = [math.nan] * n
        self.came_back = [False] * n
        self.supplement_trips = [0] * n
        self.supplemented = [False] * n

    # -- processes ---------------------------------------------------------------------------------
    def citizens(self) -> Generator[simpy.Event, None, None]:
        """Releases each dossier at its arrival time."""
        env = self.env
        dossier = self.dossier
        direct = self.direct
        visits = self.visits
        reception = self.reception
        at_counter = self._received_at_counter
        file = self.file
        for i, t in enumerate(self.dossiers.arrival.tolist()):
            if t > env.now:
                yield env.timeout(t - env.now)
            if not direct[i]:
                env.process(dossier(i))
            elif visits[i]:
                self._choose_counter(i).receive(reception[i], at_counter, i)
            else:
                file(i)

    # The commonest journeys need no process: a counter visit (or an online submission), then one
    # officer, with no supplement and no inter-linked step. Driven by callbacks, they give what
    # ``dossier`` gives for them while saving each process's start and end events on the hot path.
    def _received_at_counter(self, i: int, wait: float, came_back: bool) -> None:
        self.counter_wait[i] = wait
        self.came_back[i] = came_back
        self.file(i)

    def file(self, i: int) -> None:
        """The dossier is received: its deadline starts, and it goes to its officer pool."""
        received = self.env.now
        due = self.calendar.due_time(received, self.deadline[i])
        self.received[i] = received
        self.due[i] = due
        effort = self.effort[i]
        if effort > 0:
            self._pool(self.pool_id[i], self.pool_unit[i]).handle(effort, due, self._decided, i)
        else:
            self._decided(i, received)

    def _decided(self, i: int, end: float) -> None:
        if self.observer is not None and self.effort[i] > 0:
            self.observer.step(i, self._pool(self.pool_id[i], self.pool_unit[i]).name, self.effort[i], end)
        approval = self.approval[i]
        self.issued[i] = self.calendar.add_working(end, approval) if approval > 0 else end

    def _choose_counter(self, i: int) -> Counter:
        counter = self.counters[self.counter_id[i]]
        if self.scenario.counters.any_centre and self.counter_level_commune[i]:
            # 2025 reform: a citizen may file at any centre; they pick the least busy nearby one
            base = self._counter_offset["commune"]
            home = self.counter_id[i] - base
            n = self.scenario.geography.communes
            nearby = [self.counters[base + (home + k) % n] for k in (-1, 0, 1)]
            counter = min(nearby, key=lambda c: c.load)
        return counter

    def dossier(self, i: int) -> Generator[simpy.Event, object, None]:
        env = self.env
        calendar = self.calendar
        if self.visits[i]:
            wait, came_back = yield from self._choose_counter(i).visit(self.reception[i])
            self.counter_wait[i] = wait
            self.came_back[i] = came_back
        elif self.postal_in[i]:
            delivered = calendar.add_working(env.now, self.post_in_min[i])
            yield env.timeout(delivered - env.now)
        received = env.now
        self.received[i] = received
        due_day = calendar.due_day(received, self.deadline[i])
        due = calendar.close_of(due_day)
        self.due[i] = due

        effort = self.effort[i]
        if effort > 0:
            pool = self._pool(self.pool_id[i], self.pool_unit[i])
            yield from pool.work(effort, due)
            if self.observer is not None:
                self.observer.step(i, pool.name, effort, env.now)
            if self.supplement[i]:
                due_day, due = yield from self._supplement(i, pool, effort, due_day, self.supplement_days[i])
        approval = self.approval[i]
        chain = self.chain.get(i)
        if chain is not None:
            if approval > 0:
                yield env.timeout(calendar.add_working(env.now, approval) - env.now)
            for step, procedure in enumerate(chain, start=1):
                due_day, due = yield from self._linked_step(i, step, procedure, due_day, due)
            self.issued[i] = env.now
        else:
            self.issued[i] = calendar.add_working(env.now, approval) if approval > 0 else env.now
        self.due[i] = due

    def _supplement(
        self, i: int, pool: OfficerPool, effort: float, due_day: int, days: float
    ) -> Generator[simpy.Event, object, tuple[int, float]]:
        """The dossier goes back to the citizen (form 02), who answers after ``days`` working days."""
        env = self.env
        calendar = self.calendar
        self.supplemented[i] = True
        answered = calendar.add_working(env.now, days * calendar.minutes_per_working_day)
        if self.observer is not None:
            self.observer.supplement(i, env.now, answered)
        yield env.timeout(answered - env.now)
        if not self.dossier_online(i):
            self.supplement_trips[i] += 1
        if self.scenario.supplements.clock == "pauses":
            due_day += math.ceil(days)
        due = calendar.close_of(due_day)
        rework = effort * self.scenario.supplements.rework_share
        yield from pool.work(rework, due)
        if self.observer is not None:
            self.observer.step(i, pool.name, rework, env.now, "rework")
        return due_day, due

    def dossier_online(self, i: int) -> bool:
        return self.dossiers.channel[i] <= ONLINE_WITH_VISIT

    def _linked_step(
        self, i: int, step: int, procedure: int, due_day: int, due: float
    ) -> Generator[simpy.Event, object, tuple[int, float]]:
        """The next agency of an inter-linked group (liên thông) receives the dossier electronically."""
        env = self.env
        d, t, bo = self.dossiers, self.table, self.scenario.back_office
        effort = float(t.effort_min[procedure] * lognormal_factor(d.z_effort[i, step], bo.effort_cv))
        if effort > 0:
            level = t.levels[procedure]
            pool = self._pool(int(self._pool_of_procedure[procedure]), self._unit(level, int(d.commune[i])))
            yield from pool.work(effort, due)
            if self.observer is not None:
                self.observer.step(i, pool.name, effort, env.now)
            if d.u_supplement[i, step] < t.supplement_prob[procedure]:
                due_day, due = yield from self._supplement(
                    i, pool, effort, due_day, float(d.supplement_days[i, step])
                )
        approval = float(
            t.approval_days[procedure]
            * lognormal_factor(d.z_approval[i, step], bo.approval_cv)
            * self.calendar.minutes_per_working_day
        )
        if approval > 0:
            yield self.env.timeout(self.calendar.add_working(env.now, approval) - env.now)
        return due_day, due

    def _start_backlog(self) -> None:
        """Work already waiting at the start (startup mode ``backlog``): queued ahead of new arrivals."""
        table = self.table
        for pool_name, count in self.scenario.startup.backlog.items():
            members = [k for k, p in enumerate(table.pools) if p == pool_name]
            if not members or count == 0:
                continue
            weights = table.annual_volume[members]
            mean_effort = float((table.effort_min[members] * weights).sum() / max(weights.sum(), 1e-9))
            level = pool_name.split(".")[0]
            units = self.units(level)
            for k in range(count):
                pool = self._pool(self._pool_index[pool_name], k % units)
                self.env.process(pool.work(mean_effort, 0.0))

    def run(self) -> None:
        self._start_backlog()
        self.env.process(self.citizens())
        try:
            self.env.run()
        except ValueError as beyond:
            raise OverloadError(
                f"the pipeline did not drain within {DRAIN_DAYS} days after the horizon: "
                f"{self.busiest_pool()} cannot keep up with its demand ({beyond})"
            ) from None

    def busiest_pool(self) -> str:
        if not self.pools:
            return "no pool"
        pool = max(self.pools.values(), key=lambda p: p.queue_length / max(p.officers, 1))
        return f"pool {pool.name} ({pool.queue_length} dossiers waiting for {pool.officers} officers)"
