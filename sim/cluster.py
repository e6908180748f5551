"""Replications on an existing Dask cluster (``--dask ADDRESS``), for sweeps that outgrow one machine.

Each replication is one task: the scenario and the catalog travel with it, replication r draws from the
r-th child stream of the seed as it does locally, so a cluster run gives the same numbers as a local one.
The workers need dvclab installed (the same version) to import ``sim``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dvclab.catalog import Procedure
from dvclab.sim.scenario import Scenario


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached or has no workers."""


def dask_replications(
    address: str,
    runner: Callable[[Scenario, list[Procedure], int], Any],
    scenario: Scenario,
    catalog: list[Procedure],
    n: int,
    done: Callable[[int, Any], None],
    timeout_s: float = 10.0,
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - a dependency of dvclab
        raise ClusterError(
            "--dask needs the 'distributed' package (pip install 'dask[distributed]')"
        ) from None
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    futures = []
    try:
        # scattered once, not pickled into every task
        [scenario_f, catalog_f] = client.scatter([scenario, catalog], broadcast=True)
        futures = [client.submit(runner, scenario_f, catalog_f, r, pure=False) for r in range(n)]
        where = {future.key: r for r, future in enumerate(futures)}
        with client.as_current():  # as_completed looks for the current client
            for future in as_completed(futures):
                done(where[future.key], future.result())
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.close()
