"""The province: counters, officer pools and the dossiers' journeys through them.

A dossier's journey is one chain of SimPy callbacks (``Dossier`` carries its state and is its own SimPy
event, scheduled again at each step that waits, so no ``Timeout`` or closure is made per step): it arrives
(``_arrive``), is received after a counter visit, a postal transit or an online submission
(``_receive``); then for each step of its procedure (more than one for an inter-linked group) an officer
of the step's pool examines it (``_examine``, ``_examined``), possibly requests a supplement and waits for
the citizen (``_request_supplement``, ``_supplied``), and the decision goes through approval
(``_approve``); the result is issued (``_issue``). Payment, result return and digitisation do not queue:
they are settled from the dossier's own draws when its day's batch arrives (``sim.tally``).

Memory follows the dossiers in progress: the demand is drawn one day at a time and kept as NumPy columns
(Python values an hour at a time), a dossier's state lives in its ``Dossier`` until its result is issued,
and its outcome then goes into the running ``Tally``. Under FIFO an officer's start is known as a dossier
joins the queue, so most dossiers are issued, and forgotten, the moment they reach their last pool.

A time beyond the calendar (``BeyondCalendar``) is the overload (``OverloadError``); any other error
inside a run surfaces as itself.

Over ~400 lines because it is one concept: the ``ProvinceModel`` whose callbacks share the same counters,
pools, calendar and tally; splitting them would scatter that state.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from dvclab.catalog import LEVELS
from dvclab.deadlines import is_overdue
from dvclab.sim.back_office import OfficerPool
from dvclab.sim.calendar import MINUTES_PER_DAY, BeyondCalendar, WorkingCalendar
from dvclab.sim.channels import ASSISTED, AT_COUNTER, COUNTER, ONLINE_WITH_VISIT, POSTAL
from dvclab.sim.counters import Counter
from dvclab.sim.demand import Demand, Dossiers, generate_dossiers
from dvclab.sim.effort import effort_factor
from dvclab.sim.procedures import ProcedureTable
from dvclab.sim.scenario import Scenario, ScenarioError, opening_minutes
from dvclab.sim.stability import offered_loads, warn_unstable
from dvclab.sim.streams import RandomStreams
from dvclab.sim.tally import Arrivals, Tally
from dvclab.sim.units import load_units

LEVEL_CODE = {"province": 0, "district": 1, "commune": 2}
UNIT_KEY = 100_000  # a unit's officer pool is pools[pool_index * UNIT_KEY + unit]
DRAIN_DAYS = 400  # calendar kept beyond the horizon so that every counted dossier can finish


ROUTE_ONLINE, ROUTE_COUNTER, ROUTE_POST = 0, 1, 2  # how a dossier reaches its first officer pool


ROUNDING = 1e-6  # minutes: a time computed from the calendar may fall this much before now (~1e-14 seen)


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
        if not isinstance(self.warmup_days, int):  # ``auto``: only a study's pilot can choose it
            raise ValueError(
                "startup.warmup_days is 'auto': resolve it first (dvclab.sim.warmup.resolve_warmup, as every "
                "study does), or give a number of days"
            )
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


class Dossier:
    """One dossier in progress: what its journey still needs. It is forgotten once its result is issued.

    The dossier is its own SimPy event: each step of its journey schedules it (``Environment.schedule``)
    with ``callbacks`` set to the handler of the next step, so a journey creates no ``Timeout`` and no
    closure. A dossier is scheduled at most once at a time (its journey is a chain), and SimPy's ``step``
    needs nothing of an event but ``callbacks`` and ``_ok``.

    ``effort``, ``approval`` and ``supplement`` (the citizen's answer delay in working days, or None) are
    those of the current step; ``chain`` holds an inter-linked group's later steps and their draws."""

    __slots__ = (
        "procedure", "key", "counted", "online", "pickup", "deadline", "pool", "effort", "approval",
        "supplement", "chain", "step", "commune", "received", "due_day", "due", "supplemented", "reception",
        "route", "counter", "commune_level", "callbacks", "wait", "came_back",
        "id",  # id: set only while an observer records the run
    )
    _ok = True  # as a SimPy event, a dossier always succeeds

    def __init__(
        self,
        procedure: int,
        key: int,
        counted: bool,
        online: bool,
        pickup: bool,
        deadline: int,
        effort: float,
        approval: float,
        supplement: float | None,
        commune: int,
        route: int,
        reception: float,
        counter: int,
        commune_level: bool,
        chain: tuple[list[int], np.ndarray] | None,
    ) -> None:
        self.procedure = procedure
        self.key = key
        self.counted = counted
        self.online = online
        self.pickup = pickup  # counted, visited a counter and collects the result on paper
        self.deadline = deadline
        self.effort = effort
        self.approval = approval
        self.supplement = supplement
        self.commune = commune
        self.route = route
        self.reception = reception  # counter: reception minutes; post: working minutes in transit
        self.counter = counter
        self.commune_level = commune_level
        self.chain = chain
        self.step = 0
        self.supplemented = False


class ProvinceModel(Province):
    def __init__(
        self,
        scenario: Scenario,
        table: ProcedureTable,
        replication: int = 0,
        monitored: bool = False,
    ) -> None:
        super().__init__(scenario, table)
        self.monitored = monitored  # integrate queue lengths (validation runs only: it costs time)
        self._any_centre = scenario.counters.any_centre  # 2025: a commune citizen may file at any centre
        self.replication = replication
        self.observer: Any = None  # sim.event_log.EventRecorder while a run writes its event log
        self.streams = RandomStreams(scenario.run.seed, replication)
        self.demand = Demand(
            scenario, table, self.calendar, self.streams, self.warmup_days, self.horizon_days, self.communes
        )
        self.env = simpy.Environment()
        self._build_counters()
        self.pools: dict[int, OfficerPool] = {}
        self.tally = Tally(
            scenario, table.fee_vnd, len(table), self.calendar, self.window, self.horizon_days,
            self.warmup_days, self.streams["sync"],
        )
        self.in_progress = 0  # dossiers drawn (a day ahead at most) and not yet issued
        self.peak_in_progress = 0  # the most of them at a day's first arrival
        self.arrived = 0
        self._drawn = 0  # dossiers drawn before the current day's batch: ids for the event log
        # what a scheduled dossier does next (its ``callbacks``: SimPy calls each with the dossier)
        self._then_arrive = (self._arrive,)
        self._then_counter_done = (self._counter_done,)
        self._then_receive = (self._receive,)
        self._then_request_supplement = (self._request_supplement,)
        self._then_supplied = (self._supplied,)
        self._then_next_step = (self._next_step,)
        self._prepare_procedures()
        if replication == 0:  # once per run, as it starts: a unit that cannot keep up is named
            warn_unstable(offered_loads(self), scenario.name)

    @property
    def dossiers(self) -> Dossiers:
        """Every dossier of the run at once, drawn afresh from the same streams (for inspection and
        tests; a run never holds them all)."""
        return generate_dossiers(
            self.scenario, self.table, self.calendar, RandomStreams(self.scenario.run.seed, self.replication),
            self.warmup_days, self.horizon_days, self.communes,
        )

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
            pool.work_starts, pool.work_ends = self.tally.work  # one log for every pool, folded daily
            self.pools[key] = pool
        return pool

    def _unit(self, level: str, commune: int) -> int:
        if level == "commune":
            return commune
        if level == "district":
            return int(self.district_of[commune])
        return 0

    # -- per-dossier draws, vectorised one day at a time -------------------------------------------
    def _prepare_procedures(self) -> None:
        t, s = self.table, self.scenario
        self._level_code = np.array([LEVEL_CODE[level] for level in t.levels])
        self._pool_of_procedure = np.array([self._pool_index[name] for name in t.pools])
        self._counter_offsets = np.array([self._counter_offset[level] for level in LEVELS])
        # inter-linked groups: a share of first-step dossiers carries the group's later steps
        self._chains: list[tuple[int, list[int], float, int]] = []
        for group, settings in s.interlinked.items():
            steps = sorted(
                (int(t.interlinked_step[k]), k) for k in range(len(t)) if t.interlinked_group[k] == group
            )
            if len(steps) >= 2:
                later = [k for _, k in steps[1:]]
                self._chains.append((steps[0][1], later, settings.share, settings.deadline_days))

    def pool_keys(self, d: Dossiers) -> np.ndarray:
        """Each dossier's (first) officer pool in its unit: ``pool_index * UNIT_KEY + unit``; pools are
        always per unit (only counters may be pooled)."""
        level_code = self._level_code[d.procedure]
        unit = np.where(level_code == 2, d.commune, np.where(level_code == 1, self.district_of[d.commune], 0))
        return self._pool_of_procedure[d.procedure] * UNIT_KEY + unit

    def _batch(self, d: Dossiers) -> tuple[list[list], list[tuple[list[int], np.ndarray]] | None]:
        """The day's dossiers as per-dossier lists of what their journeys need, tallying their arrivals."""
        t, s = self.table, self.scenario
        p = d.procedure
        channel = d.channel
        level_code = self._level_code[p]
        key = self.pool_keys(d)
        unit = key % UNIT_KEY
        if s.counters.mode == "pooled":
            counter = self._counter_offsets[level_code]
        else:
            counter = self._counter_offsets[level_code] + unit
        visits = np.isin(channel, AT_COUNTER)
        scanned_paper = (channel == ASSISTED) | ((channel == COUNTER) & (d.u_scan < s.counters.scan_share))
        reception = t.reception_min[p] * lognormal_factor(d.z_reception, s.counters.reception_cv)
        reception += np.where(channel == ASSISTED, s.channels.assisted_extra_min, 0.0)
        reception += np.where(scanned_paper, s.counters.scan_min, 0.0)
        per_day = self.calendar.minutes_per_working_day
        # how a dossier is received: at a counter (ROUTE_COUNTER, its reception minutes), by post
        # (ROUTE_POST, working minutes in transit) or online
        route = np.where(visits, ROUTE_COUNTER, np.where(channel == POSTAL, ROUTE_POST, ROUTE_ONLINE))
        minutes = np.where(visits, reception, d.post_days * per_day)

        deadline = t.deadline_days[p].copy()
        chained = np.zeros(len(p), dtype=bool)
        chains: list[tuple[list[int], np.ndarray] | None] | None = None
        for first, later, share, deadline_days in self._chains:
            linked = (p == first) & (d.u_interlinked < share)
            if linked.any():
                chained |= linked
                deadline[linked] = deadline_days
                chains = chains or [None] * len(p)
                for i in np.flatnonzero(linked).tolist():
                    # the later steps' own draws: effort, approval, supplement and answer delay by step
                    draws = np.stack(
                        [d.z_effort[i], d.z_approval[i], d.u_supplement[i], d.supplement_days[i]]
                    )
                    chains[i] = (later, draws)

        bo = s.back_office
        effort = t.effort_min[p] * effort_factor(d.z_effort[:, 0], bo)
        approval = t.approval_days[p] * lognormal_factor(d.z_approval[:, 0], bo.approval_cv) * per_day
        supplement = np.where(d.u_supplement[:, 0] < t.supplement_prob[p], d.supplement_days[:, 0], np.nan)
        pickup = self.tally.arrivals(
            Arrivals(
                d.counted, p, channel, d.arrival, key, visits, scanned_paper, chained,
                d.u_payment, d.u_electronic, d.u_postal, d.u_result_scan,
            )
        )
        columns = [
            d.arrival, p, key, d.counted, channel <= ONLINE_WITH_VISIT, pickup, deadline, effort, approval,
            supplement, d.commune, route, minutes, counter, level_code == 2,
        ]
        return columns, chains

    # -- the journey -------------------------------------------------------------------------------
    def citizens(self) -> Generator[simpy.Event, None, None]:
        """Draws each day's dossiers and, an hour at a time, schedules each at its arrival time (the
        dossier is its own event, no process); folds the tally daily. The day is held as NumPy columns,
        made Python values an hour at a time: memory follows the hour's arrivals, not the day's."""
        env = self.env
        for day in self.demand.days():
            self.tally.flush()
            columns, chains = self._batch(day)
            if self.observer is not None:
                self.observer.arrivals(self._drawn, day, self.table)
            arrival = columns[0]
            n = len(arrival)
            day = None  # the columns are all the day needs
            i = 0
            while i < n:
                t = float(arrival[i])
                if t > env.now:
                    yield env.timeout(t - env.now)
                j = int(np.searchsorted(arrival, (t // 60 + 1) * 60))  # the first arrival of a later hour
                rows = zip(*[column[i:j].tolist() for column in columns], strict=True)
                self._release(rows, i, chains)
                i = j
            self._drawn += n
            if self.in_progress > self.peak_in_progress:
                self.peak_in_progress = self.in_progress

    def _release(
        self, rows: Iterator[tuple], i: int, chains: list[tuple[list[int], np.ndarray] | None] | None
    ) -> None:
        """Schedules an hour's arrivals, the ``i``-th of the day first (``rows``: their columns' values)."""
        env = self.env
        now = env.now
        schedule = env.schedule
        then = self._then_arrive
        observed = self.observer is not None
        released = 0
        for (t, p, key, counted, online, pickup, deadline, effort, approval, supplement, commune, route,
             minutes, counter, commune_level) in rows:
            dossier = Dossier(
                p, key, counted, online, pickup, deadline, effort, approval,
                None if supplement != supplement else supplement, commune, route,  # NaN: no supplement
                minutes, counter, commune_level, None if chains is None else chains[i + released],
            )
            if observed:
                dossier.id = self._drawn + i + released
            dossier.callbacks = then
            delay = t - now
            schedule(dossier, NORMAL, delay if delay >= 0.0 else self._negative(delay))
            released += 1
        self.in_progress += released

    def _negative(self, delay: float) -> float:
        """A negative delay: a rounding error of the calendar's arithmetic waits 0; a time beyond the
        calendar is the overload (``run``); anything else is a fault and surfaces as one."""
        if delay > -ROUNDING:
            return 0.0
        now = self.env.now
        if now >= self.calendar.end:
            raise BeyondCalendar(f"a dossier scheduled {-delay:.1f} minutes in the past, beyond the calendar")
        raise RuntimeError(f"a dossier scheduled {-delay} minutes in the past at t={now} (a model fault)")

    def _at(self, t: float, then: tuple[Callable[[Dossier], None]], dossier: Dossier) -> None:
        """``then`` (one of the ``_then_*`` handlers) at time ``t``: the dossier is the event."""
        env = self.env
        delay = t - env.now
        dossier.callbacks = then
        env.schedule(dossier, NORMAL, delay if delay >= 0.0 else self._negative(delay))

    def _arrive(self, dossier: Dossier) -> None:
        """A citizen files: at a counter (``reception`` minutes), by post (``reception`` is the working
        minutes in transit) or online."""
        self.arrived += 1
        route = dossier.route
        if route == ROUTE_COUNTER:
            counter = self.counters[dossier.counter]
            if self._any_centre and dossier.commune_level:
                counter = self._choose_counter(dossier.counter)
            if counter.free_at is not None:  # FIFO without events: the visit is known as the citizen joins
                end, dossier.wait, dossier.came_back = counter.reception(dossier.reception)
                self._at(end, self._then_counter_done, dossier)
            else:
                counter.receive(dossier.reception, self._received_at_counter, dossier)
            if self.observer is not None:
                dossier.counter = counter.name  # the counter that received it (any centre may, after 2025)
        elif route == ROUTE_POST:
            self._at(self.calendar.add_working(self.env.now, dossier.reception), self._then_receive, dossier)
        else:
            self._receive(dossier)

    def _counter_done(self, dossier: Dossier) -> None:
        self._received_at_counter(dossier, dossier.wait, dossier.came_back)

    def _received_at_counter(self, dossier: Dossier, wait: float, came_back: bool) -> None:
        now = self.env.now
        self.tally.reception(dossier.counted, wait, came_back, now - dossier.reception, now)
        self._receive(dossier)

    def _choose_counter(self, counter_id: int) -> Counter:
        """2025 reform: a citizen may file at any centre; they pick the least busy nearby one."""
        base = self._counter_offset["commune"]
        home = counter_id - base
        n = self.scenario.geography.communes
        nearby = [self.counters[base + (home + k) % n] for k in (-1, 0, 1)]
        return min(nearby, key=lambda c: c.load)

    def _receive(self, dossier: Dossier) -> None:
        """The dossier is received: its deadline starts, and it goes to its first officer pool."""
        now = self.env.now
        calendar = self.calendar
        dossier.received = now
        deadline = dossier.deadline
        # ``calendar.due_day`` inlined but for same-day procedures: counted from the receipt's working day
        due_day = bisect_right(calendar.day_close, now) + deadline if deadline else calendar.due_day(now, 0)
        dossier.due_day = due_day
        dossier.due = calendar.close_of(due_day)
        key = dossier.key
        self.tally.received(key, now)
        pool = self.pools.get(key)
        dossier.pool = pool if pool is not None else self._pool(key // UNIT_KEY, key % UNIT_KEY)
        self._examine(dossier)

    def _examine(self, dossier: Dossier) -> None:
        """A step starts: the dossier waits for an officer of the step's pool."""
        effort = dossier.effort
        if effort > 0:
            pool = dossier.pool
            if pool.free_at is not None:  # FIFO without events: the work's end is known now
                self._examined(dossier, pool.take(effort))
            else:
                pool.handle(effort, dossier.due, self._examined, dossier)
        else:  # nothing to examine: no officer, no supplement request
            self._approve(dossier, self.env.now)

    def _examined(self, dossier: Dossier, end: float) -> None:
        """An officer has taken the dossier; the examination ends at ``end``."""
        if self.observer is not None:
            self.observer.step(dossier.id, dossier.pool.name, dossier.effort, end)
        if dossier.supplement is not None:
            self._at(end, self._then_request_supplement, dossier)
        else:
            self._approve(dossier, end)

    def _request_supplement(self, dossier: Dossier) -> None:
        """The dossier goes back to the citizen (form 02), who answers after ``supplement`` working days."""
        if dossier.counted and not dossier.supplemented:
            self.tally.supplemented += 1
        dossier.supplemented = True
        calendar = self.calendar
        answered = calendar.add_working(self.env.now, dossier.supplement * calendar.minutes_per_working_day)
        if self.observer is not None:
            self.observer.supplement(dossier.id, self.env.now, answered)
        self._at(answered, self._then_supplied, dossier)

    def _supplied(self, dossier: Dossier) -> None:
        """The citizen answered (a trip to the counter unless they filed online); the officer reworks it."""
        if dossier.counted and not dossier.online:
            self.tally.trips += 1
        if self.scenario.supplements.clock == "pauses":
            dossier.due_day += math.ceil(dossier.supplement)
            dossier.due = self.calendar.close_of(dossier.due_day)
        dossier.supplement = None  # one supplement request per step
        rework = dossier.effort * self.scenario.supplements.rework_share
        # the rework is recorded through a wrapper only while an observer listens: plain runs pay nothing
        then = self._approve if self.observer is None else self._reworked
        pool = dossier.pool
        if pool.free_at is not None:
            then(dossier, pool.take(rework))
        else:
            pool.handle(rework, dossier.due, then, dossier)

    def _reworked(self, dossier: Dossier, end: float) -> None:
        rework = dossier.effort * self.scenario.supplements.rework_share
        self.observer.step(dossier.id, dossier.pool.name, rework, end, "rework")
        self._approve(dossier, end)

    def _approve(self, dossier: Dossier, end: float) -> None:
        """The examination ends at ``end``; the decision goes through approval, then the next step of an
        inter-linked group, or the result is issued."""
        approval = dossier.approval
        decided = self.calendar.add_working(end, approval) if approval > 0 else end
        chain = dossier.chain
        if chain is not None and dossier.step < len(chain[0]):
            self._at(decided, self._then_next_step, dossier)
        else:
            self._issue(dossier, decided)

    def _next_step(self, dossier: Dossier) -> None:
        """The next agency of an inter-linked group (liên thông) receives the dossier electronically."""
        later, draws = dossier.chain
        dossier.step += 1
        step = dossier.step
        procedure = later[step - 1]
        t, bo = self.table, self.scenario.back_office
        z_effort, z_approval, u_supplement, supplement_days = draws[:, step].tolist()
        dossier.effort = float(t.effort_min[procedure] * effort_factor(np.array(z_effort), bo))
        dossier.approval = float(
            t.approval_days[procedure]
            * lognormal_factor(np.array(z_approval), bo.approval_cv)
            * self.calendar.minutes_per_working_day
        )
        dossier.supplement = supplement_days if u_supplement < t.supplement_prob[procedure] else None
        if dossier.effort > 0:
            pool_index = int(self._pool_of_procedure[procedure])
            dossier.pool = self._pool(pool_index, self._unit(t.levels[procedure], dossier.commune))
        self._examine(dossier)

    def _issue(self, dossier: Dossier, issued: float) -> None:
        """The result is issued at ``issued`` (known as soon as the last officer starts): the outcome goes
        into the tally and the dossier is forgotten."""
        self.in_progress -= 1
        due = dossier.due
        overdue = is_overdue(issued, due)
        early = issued < self.calendar.day_open[dossier.due_day]
        self.tally.issued(
            dossier.key, issued, dossier.counted, overdue, dossier.procedure, early,
            dossier.pickup and issued == dossier.received,
        )
        if self.observer is not None and dossier.counted:
            arrived, receiver = dossier.received, None
            if dossier.route == ROUTE_COUNTER:  # the reception's start at the counter, as it was called
                arrived, receiver = dossier.received - dossier.reception, dossier.counter
            self.observer.issue(
                dossier.id, dossier.received, dossier.due, issued, arrived, receiver, dossier.key % UNIT_KEY
            )

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
        except BeyondCalendar as beyond:
            raise self._overload(beyond) from None
        except ValueError as error:
            # SimPy's own refusal of a negative delay (the event-driven pools and counters) is the overload
            # only when the clock has passed the calendar's end; any other ValueError is a fault: it surfaces
            if str(error).startswith("Negative delay") and self.env.now >= self.calendar.end:
                raise self._overload(error) from None
            raise
        self.tally.flush()

    def _overload(self, beyond: Exception) -> OverloadError:
        return OverloadError(
            f"the pipeline did not drain within {DRAIN_DAYS} days after the horizon: "
            f"{self.busiest_pool()} cannot keep up with its demand ({beyond})"
        )

    def busiest_pool(self) -> str:
        if not self.pools:
            return "no pool"
        pool = max(self.pools.values(), key=lambda p: p.queue_length / max(p.officers, 1))
        return f"pool {pool.name} ({pool.queue_length} dossiers waiting for {pool.officers} officers)"
