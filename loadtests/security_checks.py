"""What a security check is (``shared/research/security-checks.md``): one class per check, carrying its id,
name and invariant, its probe (what the attacker sends during the run) and its verdict (after the run).

A check's verdict is a plain method: tests call it with observations and a run, without a swarm. Nothing
here imports Locust or gevent, so the registry (``check_registry.py``) that profiles validate against
stays cheap to import; the probes reach the portal only through the :class:`ProbeClient` they are given.
An expected refusal (429, 413, 415, 404 on a foreign dossier) is a pass of its check, never a failure.
A check whose probe never ran (the run stopped before the attacker reached it) is "not run", with its
reason: neither a pass (nothing was shown to hold) nor a failure (nothing was shown to break).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from dvclab.load.check_needs import MissingLimit
from dvclab.load.ground_truth import NoQuery

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import GroundTruth, PortalDatabase
    from dvclab.load.harness import Run
    from dvclab.load.profiles import Limits

# What a probe saw: JSON-ready figures; "pass" is its own say, "error" a probe that could not finish.
Observed = dict[str, Any]
ID_PATTERN = re.compile(r"^[CL]\d\d$")  # C01… a check of a limit; L01… a check of the load's own data
# security.json's verdicts; the gate counts each apart (violations = "fail" only, not_run, passes).
PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
# A probe that cannot test its limit here (no trusted proxy for many client addresses, the portal's
# processes not on this machine) returns {NOT_RUN_KEY: reason}: its verdict is "not run: reason".
NOT_RUN_KEY = "not_run"
# Beside it, when what is missing is the portal's (a limit neither announced nor declared in its map):
# unsupported there rather than cut short, so it does not fail the run.
UNMET_KEY = "unmet"
# What verdict() returns as "holds" for a check that never ran: neither True nor False.
Holds = bool | None


def in_parts(**parts: Observed) -> Observed:
    """The figures of a check judged in parts (stuffing and spraying, per phone and per address): each
    part shown without its own "pass", and the check's "pass" only when every part passed."""
    holds = all([bool(part.pop("pass", False)) for part in parts.values()])
    return {**parts, "pass": holds}


class SecurityCheck:
    """One security check. Subclasses set ``id``, ``name`` and ``invariant``, and implement :meth:`probe`
    (unless ``probed`` is False: judged from the whole run's traffic) and, where they need them,
    :meth:`judge` (the run's figures) and :meth:`confirm` (the portal's database)."""

    id: ClassVar[str]
    name: ClassVar[str]
    invariant: ClassVar[str]
    # False for a check judged from everything the run saw (C07, L01): the attacker sends nothing for it.
    probed: ClassVar[bool] = True
    # Checks whose probes must have run before this one (C08 inspects the 429s that C01 and C15 provoked).
    after: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for field in ("id", "name", "invariant"):
            if not isinstance(cls.__dict__.get(field), str) or not cls.__dict__[field]:
                raise TypeError(f"security check {cls.__name__} needs a non-empty {field}")
        if not ID_PATTERN.match(cls.id):
            raise TypeError(f"security check {cls.__name__}: id {cls.id!r} is not like C01 or L01")
        if cls.probed != ("probe" in cls.__dict__):
            raise TypeError(
                f"security check {cls.id}: "
                + ("a probed check implements probe()" if cls.probed else "a passive check has no probe()")
            )

    def __repr__(self) -> str:
        return f"<security check {self.id} {self.name}>"

    # --- during the run (the attacker, on one Locust worker) ----------------------------------------------

    def probe(self, client: ProbeClient) -> Observed:
        """Provoke the limit and record what came back."""
        raise NotImplementedError(f"{self.id} is judged from the whole run: it has no probe")

    def attack(self, client: ProbeClient) -> Observed:
        """The probe, with a crash recorded as what it saw: a check that crashed is a failed check, named."""
        try:
            return self.probe(client)
        except MissingLimit as missing:  # neither the portal's answers nor the map say the limit
            return {NOT_RUN_KEY: str(missing), UNMET_KEY: True}
        except Exception as error:  # noqa: BLE001 - any probe failure becomes this check's evidence
            return {"error": f"{type(error).__name__}: {error}"[:300]}

    # --- after the run (the master; tests call these without a swarm) -----------------------------------

    def verdict(self, observed: Observed | None, run: Run, truth: GroundTruth | None) -> tuple[Holds, Any]:
        """(holds, what security.json shows as observed): the probe's say, the run's figures
        (:meth:`judge`) and the ground truth (:meth:`confirm`) must all agree. ``holds`` is None when
        the probe never ran (no observation): the caller gives the reason."""
        if observed is None:
            return None, None
        if NOT_RUN_KEY in observed:  # the probe found a precondition missing: the reason is shown
            return None, observed
        if "error" in observed:
            return False, observed
        shown = dict(observed)
        holds = self.judge(shown, bool(shown.pop("pass", False)), run)
        if truth is not None:
            if truth.database is None:
                return holds, {**shown, "ground_truth": "API answers only (no --db-url)"}
            try:
                confirmed, extra = self.confirm(shown, truth.database, run.profile.limits)
            except NoQuery as missing:  # another portal's database, a question its map does not answer
                return holds, {**shown, "ground_truth": f"API answers only ({missing})"}
            holds, shown = holds and confirmed, {**shown, **extra}
        return holds, shown

    def judge(self, observed: Observed, probe_says: bool, run: Run) -> bool:
        """The verdict before ground truth; ``observed`` may gain derived figures. Default: the probe's."""
        return probe_says

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        """The portal's database's view: (holds, the figures it showed). Default: nothing to read."""
        return True, {}

    def result(self, holds: Holds, observed: Any, reason: str = "") -> dict[str, Any]:
        """One entry of security.json (the gate reads these five fields: gate/results.py); a check that
        did not run (``holds`` None) carries the ``reason`` too."""
        entry = {
            "id": self.id,
            "name": self.name,
            "invariant": self.invariant,
            "observed": observed,
            "verdict": NOT_RUN if holds is None else (PASS if holds else FAIL),
        }
        if holds is None:
            entry["reason"] = reason or "the check did not run"
        return entry
