"""Deterministic tests of a one-stop counter: who comes back the next working day (a second trip)."""

from __future__ import annotations

import datetime as dt

import simpy

from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.counters import Counter

SESSIONS = [(480, 1020)]  # 08:00-17:00
MONDAY = dt.date(2024, 3, 4)


def test_citizens_queued_at_closing_come_back_whenever_they_are_called() -> None:
    """One officer; four citizens in the last half hour of Monday, one on Tuesday morning. The first is
    served past closing; the next is called overnight (served at the reopening); the two behind are
    called only after the reopening. All three queued at closing made a second trip; Tuesday's did not."""
    env = simpy.Environment()
    calendar = WorkingCalendar(MONDAY, 10, SESSIONS)
    counter = Counter(env, "counter.commune.0", 1, calendar)
    monday = calendar.minute_of(MONDAY)
    tuesday = calendar.minute_of(MONDAY + dt.timedelta(days=1))
    arrivals = [  # (citizen, arrival, reception minutes)
        (0, monday + 16 * 60 + 30, 60.0),
        (1, monday + 16 * 60 + 40, 30.0),
        (2, monday + 16 * 60 + 50, 30.0),
        (3, monday + 16 * 60 + 55, 30.0),
        (4, tuesday + 8 * 60 + 10, 10.0),
    ]
    outcomes: dict[int, tuple[float, bool, float]] = {}

    def received(citizen: int, wait: float, came_back: bool) -> None:
        outcomes[citizen] = (wait, came_back, env.now)

    def citizens() -> simpy.events.ProcessGenerator:
        for citizen, arrival, reception in arrivals:
            yield env.timeout(arrival - env.now)
            counter.receive(reception, received, citizen)

    env.process(citizens())
    env.run()

    assert {c: came_back for c, (_, came_back, _) in outcomes.items()} == {
        0: False,  # served straight away, finished past closing: no second trip
        1: True,  # called overnight, served at the reopening
        2: True,  # called at 08:30 Tuesday, after the reopening
        3: True,  # called at 09:00 Tuesday
        4: False,  # arrived on Tuesday
    }
    # received in FIFO order: 0 at 17:30 Monday, then 1, 2, 3, 4 one after another on Tuesday
    assert outcomes[0][2] == monday + 17 * 60 + 30
    assert [outcomes[c][2] for c in (1, 2, 3, 4)] == [tuesday + 8 * 60 + m for m in (30, 60, 90, 100)]
    # waits count open minutes only: citizen 2 waited 10 minutes on Monday and 30 on Tuesday
    assert outcomes[2][0] == 40.0
