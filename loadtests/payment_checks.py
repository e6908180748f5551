"""Security checks of payments: concurrent "pay" opens one intent at the server's fee (C18), callback
replays are idempotent (C16) and forgeries change nothing (C17).

All three file a fee-bearing dossier through the map's steps (login, create, upload, submit) and open its
payment with the map's ``pay`` step, which must capture ``payment_ref`` and ``amount``; C16 and C17 then
send the map's ``callback`` step, signed as its ``sign`` says (Standard Webhooks), with the event id,
timestamp, secret, reference and amount each check chooses: a portal whose gateway callback the test
cannot sign leaves them "not run".
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import check_needs, data
from dvclab.load.data import ATTACKERS
from dvclab.load.map_steps import compiled
from dvclab.load.map_templates import Answer
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.map_steps import StepRunner
    from dvclab.load.profiles import Limits

LATE_REPLAYS = 2  # replays of the one callback after the gated burst has been answered
STALE_S = 3600  # how old a forged callback's timestamp is


def _event_id(client: ProbeClient, prefix: str, k: int) -> str:
    return prefix + "".join(client.rng.choices("0123456789abcdef", k=k))


def filed(client: ProbeClient, check: str, number: int) -> tuple[StepRunner, Any] | None:
    """Citizen ``number``'s fee-bearing dossier through the map's steps, with a document, submitted,
    not yet paid: (their session, the dossier)."""
    mine = client.signed_in(check, number)
    if mine is None:
        return None
    dossier = client.draft(mine).captured.get("dossier")
    if dossier is None:
        return None
    mine.run("upload", expect=(201,), filename="don.pdf", document=data.pdf_bytes(5000))
    return (mine, dossier) if mine.run("submit", expect=(200, 201)).ok else None


def filed_and_paid(client: ProbeClient, check: str, number: int) -> tuple[StepRunner, Any, Any, Any] | None:
    """As :func:`filed`, with its payment opened by the map's pay step: (session, dossier, payment
    reference, amount)."""
    found = filed(client, check, number)
    if found is None:
        return None
    mine, dossier = found
    paid = mine.run("pay", expect=(200, 201))
    ref, amount = paid.captured.get("payment_ref"), paid.captured.get("amount")
    return (mine, dossier, ref, amount) if paid.ok and ref is not None and amount is not None else None


def secret_of(client: ProbeClient) -> str:
    """The gateway's signing secret: the map's callback step's, unless the profile sets the reference
    portal it starts up with another."""
    portal_map, profile = client.run.portal_map, client.run.profile
    overrides = check_needs.profile_overrides(portal_map, profile)
    sign = portal_map.steps["callback"].sign
    if sign is None:  # the registry's needs run the check only with a signed callback
        raise ValueError("the map's callback step is not signed")
    return str(overrides.get("gateway_secret", sign.secret))


def callback(
    client: ProbeClient,
    check: str,
    values: dict[str, Any],
    secret: str,
    event_id: str,
    expect: tuple[int, ...],
    timestamp: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """The map's callback step with ``values`` (payment_ref, amount), signed with ``secret`` for
    ``event_id`` at ``timestamp`` (now by default): (status, what the step captured from the answer).
    Built here, not by the step runner, because a forgery signs with another secret or time."""
    step = compiled(client.run.portal_map)["callback"]
    headers = {k: str(template(values)) for k, template in step.headers}
    if step.json is not None:
        body = json.dumps(step.json(values)).encode()
    elif step.raw is not None:
        rendered = step.raw(values)
        body = rendered if isinstance(rendered, bytes) else str(rendered).encode()
    else:  # the map's rule: a signed step has a json or raw body
        raise ValueError("the map's callback step has no json or raw body to sign")
    headers.update(data.sign_callback(secret, event_id, body, timestamp))
    response = client.send(
        check, step.method, step.path(values), step.label, expect, headers=headers, data=body
    )
    captured: dict[str, Any] = {}
    if response.status_code in expect and response.status_code < 400:
        answer = Answer(response.status_code, data.lower_headers(response), response.content or b"")
        captured = {key: extract(answer) for key, extract in step.captures}
    return response.status_code, captured


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
        proc = client.run.procedures.with_fee()  # what client.draft files
        found = filed(client, self.id, ATTACKERS[self.id])
        if found is None:
            return {"error": "could not file and submit a dossier"}
        mine, dossier = found

        def pay(i: int) -> Any:  # fresh connections: the requests spread over the portal's workers
            return client.twin(mine, close=True).run("pay", expect=(200, 201))

        answers = []
        for outcome in client.burst(client.run.profile.security.burst, pay):
            if outcome is None:  # no answer within the burst's time
                answers.append((0, None, None))
                continue
            captured = outcome.captured
            answers.append((outcome.status, captured.get("payment_ref"), captured.get("amount")))
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
        paid = filed_and_paid(client, self.id, ATTACKERS[self.id])
        if paid is None:
            return {"error": "could not file and open a payment"}
        _, dossier, ref, amount = paid
        secret, values = secret_of(client), {"payment_ref": ref, "amount": amount}
        event_id = _event_id(client, "evt_dvclab_", 20)
        n = client.run.profile.security.burst
        answers = client.burst(n, lambda i: callback(client, self.id, values, secret, event_id, (200,)))
        client.sleep(1.0)
        answers += [callback(client, self.id, values, secret, event_id, (200,)) for _ in range(LATE_REPLAYS)]
        # The portal's own say (the reference's `applied`, a capture of the callback step), when it has one
        applied = sum(1 for _, captured in answers if captured.get("applied") is True)
        statuses = Counter(status for status, _ in answers)
        return {
            "replays": len(answers),
            "statuses": {str(k): v for k, v in statuses.items()},
            "applied": applied,
            "event_id": event_id,
            "dossier": dossier,
            "payment_ref": ref,
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
        paid = filed_and_paid(client, self.id, ATTACKERS[self.id])
        if paid is None:
            return {"error": "could not file and open a payment"}
        _, dossier, ref, amount = paid
        secret = secret_of(client)
        good = {"payment_ref": ref, "amount": amount}
        # (kind, values, secret, event id, timestamp) of each forgery
        forged: list[tuple[str, dict[str, Any], str, str, int | None]] = []

        def event(kind: str) -> str:
            return _event_id(client, f"evt_forged_{kind}_", 12)

        for _ in range(2):
            forged.append(("bad signature", good, "not-the-secret", event("sig"), None))
            forged.append(("stale", good, secret, event("stale"), int(time.time()) - STALE_S))
            wrong = {**good, "amount": amount + 1000}
            forged.append(("wrong amount", wrong, secret, event("amount"), None))
            e = event("ref")
            unknown = {**good, "payment_ref": "gw_unknown_" + e[-8:]}
            forged.append(("unknown payment", unknown, secret, e, None))
        answers = [
            (kind, callback(client, self.id, values, key, e, (401, 422), at)[0], e)
            for kind, values, key, e, at in forged
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
