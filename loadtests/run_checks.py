"""Security checks judged from the whole run rather than a probe: overload hygiene on every response (C07)
and nothing lost of what the portal acknowledged (L01)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvclab.load.ground_truth import TRACKED_BACK, NoQuery, Unreadable
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.ground_truth import GroundTruth
    from dvclab.load.harness import Run

SHOWN = 10  # missing receipt codes listed in security.json, at most


class OverloadHygiene(SecurityCheck):
    id = "C07"
    name = "overload hygiene"
    invariant = "0 answers 500/502/504; every 429/503 has Retry-After; no trace or SQL in bodies"
    probed = False  # the harness inspects every response of the run (harness.Run._hygiene)

    def verdict(self, observed: Observed | None, run: Run, truth: GroundTruth | None) -> tuple[bool, Any]:
        bad = {k: v for k, v in run.hygiene.items() if not k.startswith("seen_")}
        seen = {k[5:]: v for k, v in run.hygiene.items() if k.startswith("seen_")}
        return not any(bad.values()), {
            "violations": bad,
            "non_2xx_seen": seen,
            "examples": run.hygiene_examples[:5],
        }


class NothingLost(SecurityCheck):
    id = "L01"
    name = "nothing lost"
    invariant = "every receipt code acknowledged during the run is found afterwards"
    probed = False  # the journeys record every receipt code the portal acknowledged

    def verdict(self, observed: Observed | None, run: Run, truth: GroundTruth | None) -> tuple[bool, Any]:
        """Every acknowledged receipt code, fetched back through the map: the sync feed (its sync step's
        ``receipts``), the tracking step for the first few, and the database when given."""
        if truth is None:
            return False, {"error": "no host to read back from"}
        codes = sorted({code for code, _ in run.receipts})
        shown: Observed = {"acknowledged": len(codes)}
        try:
            seen = truth.sync_feed_receipts()
        except Unreadable as error:
            return False, {**shown, "error": f"cannot read the sync feed back: {error}"}
        missing = [c for c in codes if c not in seen]
        shown["missing_from_sync_feed"] = missing[:SHOWN]
        tracked = truth.tracked_back(codes, run.profile.forwarded_clients)
        expected = min(TRACKED_BACK, len(codes))
        shown["tracked_back"] = f"{tracked} of {expected}"
        holds = not missing and tracked == expected
        if truth.database is not None and codes:
            try:
                found = truth.database.receipt_codes_found(codes)
            except NoQuery as missing:
                shown["ground_truth"] = f"API answers only ({missing})"
                return holds, shown
            shown["missing_from_db"] = [c for c in codes if c not in found][:SHOWN]
            holds = holds and not shown["missing_from_db"]
        return holds, shown


C07 = OverloadHygiene()
L01 = NothingLost()
