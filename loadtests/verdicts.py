"""security.json from a finished run: each selected security check's verdict, in the registry's order.
No Locust here: the master calls it at the end of a run, and tests call it without a swarm.

A probed check with no observation never ran: its verdict is "not run" with the reason (the attacker
never started, or the run stopped before it reached that check), never "pass" and never "fail". A probe
that found a precondition missing (``{"not_run": reason}``) is "not run" with its own reason.
"""

from __future__ import annotations

from typing import Any

from dvclab.load import check_registry, harness
from dvclab.load.ground_truth import GroundTruth
from dvclab.load.security_checks import NOT_RUN_KEY, Holds


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


# Judged on every answer of the run, whatever API the portal speaks.
API_NEUTRAL = frozenset({"C07"})
# The start of the reason of a check not run because the map's portal does not speak the reference API:
# unsupported there, not cut short, so it does not fail the run (the gate's `not_run == 0` still can).
UNBOUND = "not bound to the portal map"


def unbound(check: dict[str, Any]) -> bool:
    return check.get("verdict") == "not run" and str(check.get("reason", "")).startswith(UNBOUND)


def finalise(run: harness.Run, host: str, db_url: str | None) -> list[dict[str, Any]]:
    """Verdicts in security.json's layout, one per selected check; a probe that never ran is "not run"."""
    observations = {o["id"]: o["observed"] for o in run.observations}
    truth = GroundTruth(host, db_url) if host else None
    results = []
    for check in check_registry.selected(run.profile.security.checks):
        if not run.portal_map.reference_api and check.id not in API_NEUTRAL:
            reason = (
                f"{UNBOUND} {run.portal_map.name!r}: its portal does not speak the reference API the "
                "check's probe and read-back use"
            )
            results.append(check.result(None, {}, reason))
            continue
        holds: Holds
        try:
            holds, observed = check.verdict(observations.get(check.id), run, truth)
        except Exception as error:  # noqa: BLE001 - ground truth unreadable: the check fails, named
            holds, observed = False, {"error": f"ground truth: {type(error).__name__}: {error}"[:300]}
        if holds is None:
            own = observed.get(NOT_RUN_KEY) if isinstance(observed, dict) else None
            results.append(check.result(None, None, own or not_run_reason(run, check.id)))
            continue
        if run.portal_down and not holds:
            observed = {"portal_down": run.portal_down, **(observed if isinstance(observed, dict) else {})}
        results.append(check.result(holds, observed))
    return results
