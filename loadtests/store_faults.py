"""When C06 injected a fault into the shared limit store: a log the fault-injection proxy writes and
the citizens' journeys read.

While the store is slow or cut off, the portal fails closed for everyone: a citizen's catalog search
beside C06's burst gets 503 as the attacker does. That answer is the limit holding under a fault the run
itself caused, not a failure of the portal: it is counted apart (``during_store_fault`` in
summary.json), and the fault's windows are kept in the run's folder (``store_faults.log``). A 503 outside
every window (plus a grace for an operation already waiting on the store) is still a failure.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

FAULT_LOG_ENV = "DVCLAB_STORE_FAULT_LOG"
LOG_NAME = "store_faults.log"  # in the run's folder
CLEAR = "clear"
# An answer this long after a fault was lifted may still be that fault's: an operation waiting on its
# store timeout (0.2 s), a pooled connection cut by the outage found dead on its next use.
GRACE_S = 1.0


def record(path: Path, state: str, now: float | None = None) -> None:
    """Append the store's new state (``latency 0.5``, ``down`` or ``clear``) with the wall-clock time."""
    line = f"{time.time() if now is None else now:.6f} {state}\n"
    with path.open("a", encoding="utf-8") as log:  # one short append: whole lines, never half a one
        log.write(line)


def windows(path: Path) -> list[tuple[float, float, str]]:
    """The faults in ``path``: (start, end, what), end = inf for a fault not lifted (yet)."""
    found: list[tuple[float, float, str]] = []
    since: tuple[float, str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, _, state = line.partition(" ")
        try:
            at = float(stamp)
        except ValueError:
            continue
        if not state:
            continue  # a line being written right now
        if since is not None:
            found.append((since[0], at, since[1]))
        since = None if state == CLEAR else (at, state)
    if since is not None:
        found.append((since[0], math.inf, since[1]))
    return found


def during(path: Path, start: float, end: float, grace_s: float = GRACE_S) -> bool:
    """Whether a request sent at ``start`` and answered at ``end`` (wall clock) met an injected fault."""
    return any(start <= until + grace_s and end >= since for since, until, _ in windows(path))


def injected_fault(start: float, end: float) -> bool:
    """:func:`during`, on this run's fault log (``DVCLAB_STORE_FAULT_LOG``); False when there is none."""
    path = os.environ.get(FAULT_LOG_ENV)
    if not path or not Path(path).exists():
        return False
    return during(Path(path), start, end)
