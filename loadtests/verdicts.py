"""security.json from a finished run: each selected security check's verdict, in the registry's order.
No Locust here: the master calls it at the end of a run, and tests call it without a swarm.

A probed check with no observation never ran: its verdict is "not run" with the reason (the attacker
never started, or the run stopped before it reached that check), never "pass" and never "fail". A probe
that found a precondition missing (``{"not_run": reason}``) is "not run" with its own reason.
"""

from __future__ import annotations

from typing import Any

from dvclab.load import check_registry, harness
from dvclab.load.check_needs import NO_TRUTH
from dvclab.load.ground_truth import GroundTruth
from dvclab.load.security_checks import NOT_RUN, NOT_RUN_KEY, UNMET_KEY, Holds, SecurityCheck

# A database given for a portal whose tables are not the reference portal's: no query knows them.
FOREIGN_SCHEMA = (
    "the database's tables are not the reference portal's: declare ground_truth.queries in the portal map"
)


def probing(run: harness.Run) -> set[str]:
    """The checks whose probes sent requests (named ``[C09] POST …``), finished or not."""
    return {name[1:4] for name in run.outcomes if name.startswith("[") and name[4:5] == "]"}


def not_run_reason(run: harness.Run, check_id: str = "") -> str:
    """Why a probed check has no observation: the attacker either never began or was cut off (while
    probing this check, or before it), and what ended the run (the portal down, an abort rule, or its
    planned end or a stop)."""
    ended = run.portal_down or run.aborted or "the run ended"
    if check_id and check_id in probing(run):
        return f"{ended} while the attacker was still probing this check"
    if not run.observations:
        start = run.profile.security.start_after
        return f"{ended} before the attacker started (security.start_after: {start:g} s)"
    return f"{ended} before the attacker reached this check"


# The key a not-run verdict carries when the check cannot run on this portal as mapped (a step, a limit,
# many client addresses, the reference API or database ground truth missing): unsupported there, not
# cut short, so it does not fail the run (the gate's `not_run == 0` still can).
UNMET = UNMET_KEY


def unbound(check: dict[str, Any]) -> bool:
    """A not-run verdict for what the map, the profile or the options lack (not a run cut short)."""
    return check.get("verdict") == NOT_RUN and bool(check.get(UNMET))


def _unmet(check: SecurityCheck, result: dict[str, Any]) -> dict[str, Any]:
    return {**result, UNMET: True}


def finalise(run: harness.Run, host: str, db_url: str | None) -> list[dict[str, Any]]:
    """Verdicts in security.json's layout, one per selected check; a probe that never ran is "not run".
    Database ground truth (``db_url``, opened read-only) reads the reference portal's tables, or another
    portal's through the queries its map declares (``ground_truth.queries``)."""
    observations = {o["id"]: o["observed"] for o in run.observations}
    reference = run.portal_map.reference_api
    queries = run.portal_map.ground_truth.queries
    # A database on another schema answers only the queries its map declares.
    usable = db_url if reference or queries else None
    truth = GroundTruth(host, usable, queries, reference, run.portal_map) if host else None
    results = []
    for check in check_registry.selected(run.profile.security.checks):
        needs = check_registry.NEEDS[check.id]
        reason = check_registry.cannot_run(check, run.portal_map, run.profile)
        if reason:
            results.append(_unmet(check, check.result(None, {}, reason)))
            continue
        holds: Holds
        try:
            holds, observed = check.verdict(observations.get(check.id), run, truth)
        except Exception as error:  # noqa: BLE001 - ground truth unreadable: the check fails, named
            holds, observed = False, {"error": f"ground truth: {type(error).__name__}: {error}"[:300]}
        if holds is None:
            own = observed.get(NOT_RUN_KEY) if isinstance(observed, dict) else None
            result = check.result(None, None, own or not_run_reason(run, check.id))
            results.append(
                _unmet(check, result) if isinstance(observed, dict) and observed.get(UNMET) else result
            )
            continue
        if holds and needs.truth == "required" and (truth is None or truth.database is None):
            # The answers showed nothing wrong, but the invariant is about what was stored: unjudged.
            reason = NO_TRUTH if usable or not db_url else f"{NO_TRUTH}; {FOREIGN_SCHEMA}"
            results.append(_unmet(check, check.result(None, observed, reason)))
            continue
        if truth is not None and db_url and not usable and isinstance(observed, dict):
            observed = {**observed, "ground_truth": f"API answers only ({FOREIGN_SCHEMA})"}
        if run.portal_down and not holds:
            observed = {"portal_down": run.portal_down, **(observed if isinstance(observed, dict) else {})}
        results.append(check.result(holds, observed))
    return results
