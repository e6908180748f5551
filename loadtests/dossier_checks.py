"""Security checks of a citizen's dossiers: object- and function-level authorisation (C13) and idempotent
creation and submission (C14), both through the portal map's steps."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

FOREIGN_DOSSIERS = 8  # other citizens' dossiers C13 tries, the latest acknowledged in the run


# What a citizen's session tries on another citizen's dossier, and on officer and sync routes, through
# the map's steps (those the map has): the values each step needs besides the dossier.
FOREIGN_STEPS = {
    "status": {},
    "upload": {"filename": "la.pdf", "document": data.pdf_bytes(1200)},
    "submit": {},
    "pay": {},
}
ROLE_STEPS = {"queue": {}, "receive": {}, "sync": {"cursor": 0, "limit": 10}}
REFUSED = (401, 403, 404)


class ForeignDossiers(SecurityCheck):
    id = "C13"
    name = "BOLA/BFLA"
    invariant = (
        "0 2xx on foreign dossiers (read, upload, submit, pay: 403/404, audited); citizen sessions on "
        "officer and sync routes refused (401/403)"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """A citizen's session on other citizens' dossiers (another citizen's fresh one, and the latest
        the run acknowledged) through the map's dossier steps, and on its officer and sync steps."""
        mine = client.signed_in(self.id, ATTACKERS[self.id])
        theirs = client.signed_in(self.id, ATTACKERS["C13b"], key="C13b")
        own = client.draft(mine).captured.get("dossier") if mine is not None else None
        victim = client.draft(theirs).captured.get("dossier") if theirs is not None else None
        if mine is None or own is None or victim is None:
            return {"error": "could not log in two citizens and create a dossier for each"}
        acknowledged = [d for _, d in client.run.receipts if d not in (own, victim)]
        foreign = [victim, *acknowledged[-(FOREIGN_DOSSIERS - 1) :]]
        portal_map = client.run.portal_map
        answers: Counter[int] = Counter()
        tried = [step for step in FOREIGN_STEPS if portal_map.has(step)]
        for dossier in foreign:
            for step in tried:
                outcome = mine.run(step, expect=REFUSED, dossier=dossier, **FOREIGN_STEPS[step])
                answers[outcome.status] += 1
        roles = {
            step: mine.run(step, expect=REFUSED, dossier=own, **values).status
            for step, values in ROLE_STEPS.items()
            if portal_map.has(step)
        }
        two_xx = sum(n for s, n in answers.items() if 200 <= s < 300)
        return {
            "foreign_dossiers": foreign,
            "steps_tried": tried,
            "answers": {str(k): v for k, v in answers.items()},
            "role_answers": roles,
            "probes": sum(answers.values()),
            "account": client.identity(ATTACKERS[self.id]),
            "pass": two_xx == 0
            and set(answers) <= {403, 404}
            and all(s in (401, 403) for s in roles.values()),
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        audited = db.foreign_dossier_audits(observed["account"])
        return audited >= 1, {"db_foreign_dossier_audits": audited}


class DuplicateSubmission(SecurityCheck):
    id = "C14"
    name = "duplicate submission"
    invariant = (
        "same Idempotency-Key x N gated: 1 dossier; same key, other body: 422; "
        "submit x N gated: 1 receipt code, 1 submitted transition"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """Through the map's create step (which sends ``{{ idempotency_key }}``) and submit step, each
        request of a burst in a browser of its own presenting the one session."""
        mine = client.signed_in(self.id, ATTACKERS[self.id])
        if mine is None:
            return {"error": "could not log in"}
        key, n = data.idempotency_key(client.rng), client.run.profile.security.burst
        code = client.procedure_code(mine)

        def create(note: str = "", expect: tuple[int, ...] = (200, 201, 409)) -> Any:
            return client.twin(mine).run(
                "create",
                expect=expect,
                procedure_code=code,
                delivery="electronic",
                note=note,
                idempotency_key=key,
            )

        created = [o for o in client.burst(n, lambda i: create()) if o is not None]
        ids = {o.captured.get("dossier") for o in created if o.status in (200, 201)}
        statuses = Counter(o.status for o in created)
        other = create("a different body", (422,)).status
        dossier = next(iter(ids)) if len(ids) == 1 else None
        receipts: set[Any] = set()
        submits: Counter[int] = Counter()
        if dossier is not None:
            mine.run(
                "upload", expect=(201,), dossier=dossier, filename="don.pdf", document=data.pdf_bytes(3000)
            )
            answers = client.burst(
                n, lambda i: client.twin(mine).run("submit", expect=(200, 201, 409), dossier=dossier)
            )
            submits = Counter(o.status for o in answers if o is not None)
            receipts = {
                o.captured.get("receipt") for o in answers if o is not None and o.status in (200, 201)
            }
        return {
            "burst": n,
            "create_statuses": {str(k): v for k, v in statuses.items()},
            "dossier_ids": sorted(ids, key=str),
            "other_body": other,
            "submit_statuses": {str(k): v for k, v in submits.items()},
            "receipt_codes": sorted(map(str, receipts)),
            "idempotency_key": key,
            "dossier": dossier,
            "pass": len(ids) == 1
            and statuses[201] == 1
            and other == 422
            and len(receipts) == 1
            and submits[201] == 1,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        dossiers = db.dossiers_with_key(observed["idempotency_key"])
        submitted = db.submitted_transitions(observed["dossier"])
        return dossiers == 1 and submitted == 1, {
            "db_dossiers": dossiers,
            "db_submitted_transitions": submitted,
        }


C13 = ForeignDossiers()
C14 = DuplicateSubmission()
