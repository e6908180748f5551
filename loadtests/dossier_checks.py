"""Security checks of a citizen's dossiers: object- and function-level authorisation (C13) and idempotent
creation and submission (C14)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import API, ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

FOREIGN_DOSSIERS = 8  # other citizens' dossiers C13 tries, the latest acknowledged in the run


class ForeignDossiers(SecurityCheck):
    id = "C13"
    name = "BOLA/BFLA"
    invariant = (
        "0 2xx on foreign dossiers (404, audited); citizen tokens on officer and sync "
        "routes get 403; own dossier's owner_id is stable"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """A citizen's token on other citizens' dossiers (read, file, submit, pay) and on officer and
        sync routes."""
        token = client.login_as(self.id, ATTACKERS[self.id])
        own = client.new_dossier(self.id, token) if token else None
        if token is None or own is None:
            return {"error": "could not log in or create a dossier"}
        acknowledged = [d for _, d in client.run.receipts if d != own]
        foreign = acknowledged[-FOREIGN_DOSSIERS:] or [d for d in range(1, 6) if d != own]
        key = client.address(self.id)
        answers: Counter[int] = Counter()
        for dossier in foreign:
            for method, path, name in (
                ("GET", f"{API}/dossiers/{dossier}", "GET /api/v1/dossiers/{id}"),
                ("GET", f"{API}/dossiers/{dossier}/files/1", "GET /api/v1/dossiers/{id}/files/{file_id}"),
                ("POST", f"{API}/dossiers/{dossier}/submit", "POST /api/v1/dossiers/{id}/submit"),
                ("POST", f"{API}/dossiers/{dossier}/payment", "POST /api/v1/dossiers/{id}/payment"),
            ):
                response = client.send(self.id, method, path, name, (404,), headers=key, token=token)
                answers[response.status_code] += 1
        roles = [
            client.send(self.id, method, path, name, (403,), headers=key, token=token).status_code
            for method, path, name in (
                ("GET", f"{API}/officer/queue", "GET /api/v1/officer/queue"),
                (
                    "POST",
                    f"{API}/officer/dossiers/{own}/receive",
                    "POST /api/v1/officer/dossiers/{id}/receive",
                ),
                ("GET", f"{API}/sync/status-changes", "GET /api/v1/sync/status-changes"),
            )
        ]
        owners = {client.dossier(self.id, token, own).get("owner_id") for _ in range(2)}
        two_xx = sum(n for s, n in answers.items() if 200 <= s < 300)
        return {
            "foreign_dossiers": foreign,
            "answers": {str(k): v for k, v in answers.items()},
            "role_answers": roles,
            "own_owner_ids": sorted(map(str, owners)),
            "probes": sum(answers.values()),
            "account": data.citizen_id(ATTACKERS[self.id]),
            "pass": two_xx == 0
            and set(answers) <= {404}
            and roles == [403, 403, 403]
            and len(owners) == 1
            and None not in owners,
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
        token = client.login_as(self.id, ATTACKERS[self.id])
        if not token:
            return {"error": "could not log in"}
        key, n = data.idempotency_key(client.rng), client.run.profile.security.burst
        proc = client.run.procedures.with_fee()
        headers = {**client.address(self.id), "Idempotency-Key": key}

        def create(note: str = "", expect: tuple[int, ...] = (200, 201, 409)) -> Any:
            return client.send(
                self.id,
                "POST",
                f"{API}/dossiers",
                "POST /api/v1/dossiers",
                expect,
                headers=headers,
                token=token,
                json=data.dossier_body(proc, note=note),
            )

        created = client.burst(n, lambda i: create())
        ids = {(data.json_of(r) or {}).get("id") for r in created if r.status_code in (200, 201)}
        statuses = Counter(r.status_code for r in created)
        other = create("a different body", (422,)).status_code
        dossier = next(iter(ids)) if len(ids) == 1 else None
        receipts: set[Any] = set()
        submits: Counter[int] = Counter()
        if dossier is not None:
            client.upload(self.id, token, dossier, "don.pdf", data.pdf_bytes(3000), "application/pdf", (201,))
            answers = client.burst(
                n,
                lambda i: client.send(
                    self.id,
                    "POST",
                    f"{API}/dossiers/{dossier}/submit",
                    "POST /api/v1/dossiers/{id}/submit",
                    (200, 201, 409),
                    headers=client.address(self.id),
                    token=token,
                ),
            )
            submits = Counter(r.status_code for r in answers)
            receipts = {
                (data.json_of(r) or {}).get("receipt_code") for r in answers if r.status_code in (200, 201)
            }
        return {
            "burst": n,
            "create_statuses": {str(k): v for k, v in statuses.items()},
            "dossier_ids": sorted(ids),
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
