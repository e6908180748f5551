"""Functional tests of the multi-server queue under the counters and officer pools."""

from __future__ import annotations

from collections.abc import Generator

import pytest
import simpy

from dvclab.sim.servers import MonitoredServers, Servers


def _customer(
    env: simpy.Environment, servers: Servers, name: str, key: float, service: float, log: list[str]
) -> Generator[simpy.Event, None, None]:
    turn = servers.acquire(key)
    if turn is not None:
        yield turn
    log.append(name)
    yield env.timeout(service)
    servers.release()


@pytest.mark.parametrize(
    ("priority", "expected"), [(False, ["a", "b", "c", "d"]), (True, ["a", "c", "d", "b"])]
)
def test_fifo_and_earliest_deadline_first(priority: bool, expected: list[str]) -> None:
    env = simpy.Environment()
    servers = Servers(env, 1, priority=priority)
    log: list[str] = []
    for name, key in (("a", 9.0), ("b", 5.0), ("c", 1.0), ("d", 3.0)):
        env.process(_customer(env, servers, name, key, 10.0, log))
    env.run()
    assert log == expected


def test_capacity_is_never_exceeded_and_servers_come_back() -> None:
    env = simpy.Environment()
    servers = MonitoredServers(env, 2)
    busy: list[int] = []

    def customer(i: int) -> Generator[simpy.Event, None, None]:
        yield env.timeout(i * 0.5)
        turn = servers.acquire()
        if turn is not None:
            yield turn
        busy.append(servers.in_service)
        yield env.timeout(3)
        servers.release()

    for i in range(10):
        env.process(customer(i))
    env.run()
    assert max(busy) == 2 and servers.free == 2 and servers.waiting == 0
    assert servers.arrivals == 10 and servers.area > 0


def test_a_queue_needs_a_server() -> None:
    with pytest.raises(ValueError, match="at least one server"):
        Servers(simpy.Environment(), 0)
