"""Security checks of payments: concurrent "pay" opens one intent at the server's fee (C18), callback
replays are idempotent (C16) and forgeries change nothing (C17)."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

LATE_REPLAYS = 2  # replays of the one callback after the gated burst has been answered
STALE_S = 3600  # how old a forged callback's timestamp is


def _event_id(client: ProbeClient, prefix: str, k: int) -> str:
    return prefix + "".join(client.rng.choices("0123456789abcdef", k=k))


def one_intent(answers: list[tuple[int, str | None, int | None]], fee: int) -> Observed:
    """C18's figures from (status, gateway ref, amount) of each concurrent "pay": it holds when every
    answer is 2xx, at most one created an intent (201), all name the same intent, each at the fee."""
    statuses = Counter(status for status, _, _ in answers)
    refs = {ref for status, ref, _ in answers if 200 <= status < 300}
    amounts = sorted({amount for status, _, amount in answers if 200 <= status < 300 and amount is not None})
    holds = (
        bool(answers)
        and statuses[200] + statuses[201] == len(answers)
        and statuses[201] <= 1
        and len(refs) == 1
        and amounts == [fee]
    )
    return {
        "requests": len(answers),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "intents_named": len(refs),
        "amounts": amounts,
        "fee_vnd": fee,
        "pass": holds,
    }


class DoublePayment(SecurityCheck):
    id = "C18"
    name = "double payment initiation"
    invariant = (
        'N gated concurrent "pay" on one submitted dossier: every answer 2xx, at most 1 created (201), '
        "all name 1 open intent; its amount equals the server-side fee; 1 payment row"
    )

    def probe(self, client: ProbeClient) -> Observed:
        proc = client.run.procedures.with_fee()
        filed = client.filed(self.id, ATTACKERS[self.id], proc)
        if filed is None:
            return {"error": "could not file and submit a dossier"}
        token, dossier = filed

        def pay(i: int) -> Any:  # fresh connections: the requests spread over the portal's workers
            return client.pay(self.id, token, dossier, {"Connection": "close"})

        answers = []
        for r in client.burst(client.run.profile.security.burst, pay):
            body = data.json_of(r) if r is not None else None
            body = body if isinstance(body, dict) else {}
            answers.append(
                (r.status_code if r is not None else 0, body.get("gateway_ref"), body.get("amount_vnd"))
            )
        return {**one_intent(answers, proc.fee_vnd), "dossier": dossier}

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        amounts = db.payment_amounts(observed["dossier"])
        return amounts == [observed["fee_vnd"]], {"db_payments": len(amounts), "db_amounts": amounts}


class CallbackReplay(SecurityCheck):
    id = "C16"
    name = "callback idempotency"
    invariant = (
        "N gated plus delayed replays of one signed callback: every replay 2xx, "
        "at most 1 applied, 1 payment row, paid"
    )

    def probe(self, client: ProbeClient) -> Observed:
        filed = client.filed_and_paid(self.id, ATTACKERS[self.id])
        if filed is None:
            return {"error": "could not file and open a payment"}
        _, dossier, payment = filed
        secret = client.run.profile.limits.gateway_secret
        event_id = _event_id(client, "evt_dvclab_", 20)
        body = data.callback_body(
            payment["gateway_ref"], payment["amount_vnd"], payment.get("currency", "VND")
        )
        headers = data.sign_callback(secret, event_id, body)
        n = client.run.profile.security.burst
        answers = client.burst(n, lambda i: client.callback(self.id, body, headers, (200,)))
        client.sleep(1.0)
        answers += [
            client.callback(self.id, body, data.sign_callback(secret, event_id, body), (200,))
            for _ in range(LATE_REPLAYS)
        ]
        applied = sum(1 for r in answers if (data.json_of(r) or {}).get("applied") is True)
        statuses = Counter(r.status_code for r in answers)
        return {
            "replays": len(answers),
            "statuses": {str(k): v for k, v in statuses.items()},
            "applied": applied,
            "event_id": event_id,
            "dossier": dossier,
            "payment_ref": payment["gateway_ref"],
            "pass": statuses[200] == len(answers) and applied <= 1,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        payments = db.payments_of(observed["dossier"])
        ours = db.payment_event_rows([observed["event_id"]])
        events = db.payment_events_of(observed["dossier"])
        paid = db.dossier_paid(observed["dossier"])
        ok = len(payments) == 1 and payments[0][1] == "paid" and ours == 1 and events <= 2 and paid
        return ok, {
            "db_payments": len(payments),
            "db_status": payments[0][1] if payments else None,
            "db_events_recorded": events,
            "db_replayed_event_rows": ours,
        }


class CallbackAuthenticity(SecurityCheck):
    id = "C17"
    name = "callback authenticity"
    invariant = (
        "forged, stale, wrong-amount and unknown-payment callbacks: 4xx and 0 "
        "state changes (event ids never recorded)"
    )

    def probe(self, client: ProbeClient) -> Observed:
        filed = client.filed_and_paid(self.id, ATTACKERS[self.id])
        if filed is None:
            return {"error": "could not file and open a payment"}
        _, dossier, payment = filed
        limits = client.run.profile.limits
        secret, ref, amount = limits.gateway_secret, payment["gateway_ref"], payment["amount_vnd"]
        good = data.callback_body(ref, amount)
        forged: list[tuple[str, bytes, dict[str, str]]] = []

        def event(kind: str) -> str:
            return _event_id(client, f"evt_forged_{kind}_", 12)

        for _ in range(2):
            e = event("sig")
            forged.append(("bad signature", good, data.sign_callback("not-the-secret", e, good)))
            e = event("stale")
            forged.append(("stale", good, data.sign_callback(secret, e, good, int(time.time()) - STALE_S)))
            e, wrong = event("amount"), data.callback_body(ref, amount + 1000)
            forged.append(("wrong amount", wrong, data.sign_callback(secret, e, wrong)))
            e, unknown = event("ref"), data.callback_body("gw_unknown_" + e[-8:], amount)
            forged.append(("unknown payment", unknown, data.sign_callback(secret, e, unknown)))
        answers = [
            (kind, client.callback(self.id, body, headers, (401, 422)).status_code, headers["webhook-id"])
            for kind, body, headers in forged
        ]
        return {
            "forged": len(answers),
            "answers": [[k, s] for k, s, _ in answers],
            "event_ids": [e for _, _, e in answers],
            "dossier": dossier,
            "pass": all(400 <= s < 500 for _, s, _ in answers),
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        recorded = db.payment_event_rows(observed["event_ids"])
        audited = db.rejected_callbacks(observed["event_ids"])
        return recorded == 0 and audited == len(observed["event_ids"]), {
            "db_forged_events_recorded": recorded,
            "db_rejections_audited": audited,
        }


C18 = DoublePayment()
C16 = CallbackReplay()
C17 = CallbackAuthenticity()
