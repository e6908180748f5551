"""Gated bursts: many requests released at once must not break an invariant (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from portal_helpers import Portal, query
from portal_journey import callback, create, submitted, upload

from dvclab.portal.demo import CITIZEN_PASSWORD, citizen_id

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # uvicorn, stub third parties, Redis or PostgreSQL


def burst(
    portal: Portal, n: int, call: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Open n connections, then release all n requests together (WSTG-BUSL-11's gate)."""
    gate = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        with portal.client() as c:
            c.get("/healthz")  # connect first, so the gate releases requests, not handshakes
            gate.wait()
            return call(c, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_lockout_race_evaluates_at_most_threshold(portal: Portal, citizen_no: int) -> None:
    nid = citizen_id(citizen_no)
    correct_at = {7, 21, 33}  # the right password hidden in the burst

    def attempt(c: httpx.Client, i: int) -> httpx.Response:
        password = CITIZEN_PASSWORD if i in correct_at else f"guess-{i}"
        return c.post(
            "/api/v1/auth/login",
            json={"national_id": nid, "password": password},
            headers={"X-Forwarded-For": f"10.0.0.{i}"},
        )  # spoofed, must not matter

    statuses = Counter(r.status_code for r in burst(portal, 40, attempt))
    assert set(statuses) <= {200, 401, 429}, statuses
    # Never more than T wrong passwords evaluated; a success inside the burst frees only its own slot.
    assert statuses[401] <= 5 and statuses[401] + statuses[200] <= 5 + len(correct_at), statuses
    assert statuses[429] >= 40 - 5 - len(correct_at)
    bad = query(
        portal, "SELECT count(*) FROM audit_events WHERE event = 'bad_password' AND subject = :s", s=nid
    )
    assert bad[0][0] == statuses[401] <= 5
    if statuses[200] == 0:
        # Locked now: even the right password is refused, with a Retry-After of about 15 minutes.
        with portal.client() as c:
            r = c.post("/api/v1/auth/login", json={"national_id": nid, "password": CITIZEN_PASSWORD})
        assert r.status_code == 429 and 800 < int(r.headers["retry-after"]) <= 901


def test_unknown_and_known_accounts_lock_alike(portal: Portal, citizen_no: int) -> None:
    answers = {}
    for nid in (citizen_id(citizen_no), "088" + uuid.uuid4().int.__str__()[:9]):
        with portal.client() as c:
            rs = [
                c.post("/api/v1/auth/login", json={"national_id": nid, "password": "nope"}) for _ in range(7)
            ]
        answers[nid] = [(r.status_code, r.json()["detail"]) for r in rs]
    known, unknown = answers.values()
    assert known == unknown
    assert [s for s, _ in known] == [401] * 5 + [429] * 2


def test_sequential_success_resets_the_count(portal: Portal, citizen_no: int) -> None:
    nid = citizen_id(citizen_no)
    with portal.client() as c:

        def attempt(password: str) -> int:
            return c.post("/api/v1/auth/login", json={"national_id": nid, "password": password}).status_code

        assert [attempt("wrong") for _ in range(4)] == [401] * 4
        assert attempt(CITIZEN_PASSWORD) == 200  # NIST: earlier failures disregarded after a success
        assert [attempt("wrong") for _ in range(6)] == [401] * 5 + [429]
        assert attempt(CITIZEN_PASSWORD) == 429  # locked: even the right password


def test_duplicate_idempotency_keys_make_one_dossier(portal: Portal, citizen: dict) -> None:
    key = uuid.uuid4().hex
    responses = burst(portal, 20, lambda c, _i: create(c, citizen, key=key))
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1 and statuses[200] == 19, statuses
    assert len({r.json()["id"] for r in responses}) == 1
    rows = query(portal, "SELECT count(*) FROM dossiers WHERE idempotency_key = :k", k=key)
    assert rows[0][0] == 1


def test_concurrent_submit_one_receipt_code(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        dossier_id = create(c, citizen).json()["id"]
        upload(c, citizen, dossier_id)
    responses = burst(
        portal, 12, lambda c, _i: c.post(f"/api/v1/dossiers/{dossier_id}/submit", headers=citizen)
    )
    assert Counter(r.status_code for r in responses) == Counter({201: 1, 200: 11})
    assert len({r.json()["receipt_code"] for r in responses}) == 1
    events = query(portal, "SELECT count(*) FROM status_events WHERE dossier_id = :d", d=dossier_id)
    assert events[0][0] == 1


def test_concurrent_pay_opens_one_intent(portal: Portal, citizen: dict) -> None:
    dossier_id, _ = submitted(portal, citizen)
    responses = burst(
        portal, 10, lambda c, _i: c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=citizen)
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert {r.json()["amount_vnd"] for r in responses} == {4000}  # the server-side fee
    assert query(portal, "SELECT count(*) FROM payments WHERE dossier_id = :d", d=dossier_id)[0][0] == 1


def test_replayed_callbacks_one_paid_transition(portal: Portal, citizen: dict) -> None:
    dossier_id, _ = submitted(portal, citizen)
    with portal.client() as c:
        payment = c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=citizen).json()
    event_id = "evt_" + uuid.uuid4().hex
    responses = burst(portal, 20, lambda c, _i: callback(c, payment, event_id=event_id))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sum(r.json()["applied"] for r in responses) == 1
    # A second, distinct event for the same payment (a gateway retry with a new id) changes nothing.
    with portal.client() as c:
        late = callback(c, payment)
    assert late.status_code == 200 and late.json() == {
        **late.json(),
        "applied": False,
        "payment_status": "paid",
    }
    assert query(portal, "SELECT count(*) FROM payment_events WHERE event_id = :e", e=event_id)[0][0] == 1
    assert query(portal, "SELECT status FROM payments WHERE id = :p", p=payment["id"])[0][0] == "paid"


def test_concurrent_uploads_respect_file_count(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        dossier_id = create(c, citizen).json()["id"]
    responses = burst(portal, 26, lambda c, i: upload(c, citizen, dossier_id, name=f"f{i}.pdf"))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 20, 422: 6}), statuses
    assert query(portal, "SELECT count(*) FROM dossier_files WHERE dossier_id = :d", d=dossier_id)[0][0] == 20
    assert query(portal, "SELECT file_count FROM dossiers WHERE id = :d", d=dossier_id)[0][0] == 20
