"""security.json from a finished run: each selected security check's verdict, in the registry's order.
No Locust here: the master calls it at the end of a run, and tests call it without a swarm.
"""

from __future__ import annotations

from typing import Any

from dvclab.load import check_registry, harness
from dvclab.load.ground_truth import GroundTruth


def finalise(run: harness.Run, host: str, db_url: str | None) -> list[dict[str, Any]]:
    """Verdicts in security.json's layout, one per selected check; a check that could not run fails."""
    observations = {o["id"]: o["observed"] for o in run.observations}
    truth = GroundTruth(host, db_url) if host else None
    results = []
    for check in check_registry.selected(run.profile.security.checks):
        try:
            holds, observed = check.verdict(observations.get(check.id), run, truth)
        except Exception as error:  # noqa: BLE001 - ground truth unreadable: the check fails, named
            holds, observed = False, {"error": f"ground truth: {type(error).__name__}: {error}"[:300]}
        if run.portal_down and not holds:
            observed = {"portal_down": run.portal_down, **(observed if isinstance(observed, dict) else {})}
        results.append(check.result(holds, observed))
    return results
