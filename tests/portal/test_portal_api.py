"""Functional tests of every endpoint, through the real app on uvicorn and a real database
(each test runs once against SQLite and once against PostgreSQL)."""

from __future__ import annotations

import time
import uuid

import pytest
from portal_helpers import Portal, query
from portal_journey import FEE_PROCEDURE, FREE_PROCEDURE, JPEG, PDF, PNG, callback, create, submitted, upload

from dvclab.catalog import load_catalog
from dvclab.portal.demo import OFFICER_PASSWORD, citizen_id

pytestmark = pytest.mark.slow  # the portal on uvicorn, its stub third parties, Redis or PostgreSQL

LEAKS = ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "/work/", "site-packages", "SELECT ")


def assert_problem(r, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert not any(leak in r.text for leak in LEAKS), r.text
    return body


def test_health_and_openapi(portal: Portal) -> None:
    with portal.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        spec = c.get("/openapi.json").json()
    assert "/api/v1/dossiers/{dossier_id}/submit" in spec["paths"]
    assert "Problem" in spec["components"]["schemas"]
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert login["429"]["headers"]["Retry-After"]["required"] is True
    assert "application/problem+json" in login["422"]["content"]


def test_catalog_search_filters_and_pagination(portal: Portal) -> None:
    catalog = load_catalog()
    with portal.client() as c:
        everything = c.get("/api/v1/procedures", params={"page_size": 100}).json()
        assert everything["total"] == len(catalog) == 1679
        assert len(everything["items"]) == 100
        full = c.get("/api/v1/procedures", params={"online_level": "full"}).json()
        assert full["total"] == sum(p.online_level == "full" for p in catalog)
        commune = c.get("/api/v1/procedures", params={"level": "commune", "group": "civil_status"}).json()
        assert commune["total"] == sum(p.level == "commune" and p.group == "civil_status" for p in catalog)
        # Accent-insensitive: citizens often type without diacritics.
        plain = c.get("/api/v1/procedures", params={"q": "dang ky khai sinh"}).json()
        accented = c.get("/api/v1/procedures", params={"q": "Đăng ký khai sinh"}).json()
        assert plain["total"] == accented["total"] >= 1
        assert any(i["code"] == FREE_PROCEDURE for i in plain["items"])
        page2 = c.get("/api/v1/procedures", params={"page": 2, "page_size": 10}).json()
        assert [i["code"] for i in page2["items"]] == [p.code for p in catalog[10:20]]
        beyond = c.get("/api/v1/procedures", params={"page": 10_000, "page_size": 100}).json()
        assert beyond["items"] == [] and beyond["total"] == 1679
        assert_problem(c.get("/api/v1/procedures", params={"page_size": 101}), 422)
        assert_problem(c.get("/api/v1/procedures", params={"q": "x" * 101}), 422)
        assert_problem(c.get("/api/v1/procedures", params={"level": "planet"}), 422)
        r = c.get(f"/api/v1/procedures/{FEE_PROCEDURE}")
        assert r.status_code == 200 and r.json()["fee_vnd"] == 4000 and "requires_originals" in r.json()
        assert_problem(c.get("/api/v1/procedures/NO-SUCH-1"), 404)


def test_login_logout_and_revocation(portal: Portal, citizen_no: int) -> None:
    nid = citizen_id(citizen_no)
    first = portal.login(nid)
    second = portal.login(nid)
    assert first != second  # a fresh token at every login
    with portal.client() as c:
        assert c.get("/api/v1/dossiers", headers=first).status_code == 200
        assert c.post("/api/v1/auth/logout", headers=first).status_code == 204
        assert_problem(c.get("/api/v1/dossiers", headers=first), 401)
        assert c.get("/api/v1/dossiers", headers=second).status_code == 200
        assert_problem(c.get("/api/v1/dossiers"), 401)
        assert_problem(c.get("/api/v1/dossiers", headers={"Authorization": "Bearer nonsense"}), 401)
        wrong = c.post("/api/v1/auth/login", json={"national_id": nid, "password": "wrong"})
        unknown = c.post("/api/v1/auth/login", json={"national_id": "099999999990", "password": "wrong"})
        assert_problem(wrong, 401)
        assert wrong.status_code == unknown.status_code and wrong.json() == unknown.json()
        assert_problem(c.post("/api/v1/auth/login", json={"national_id": "12", "password": "x"}), 422)


def test_full_journey_officer_side_sync_statistics(
    portal: Portal, citizen: dict, officer: dict, sync_account: dict
) -> None:
    dossier_id, receipt = submitted(portal, citizen)
    assert receipt.startswith("HS") and len(receipt) == 18  # 80 random bits in base32
    with portal.client() as c:
        pay = c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=citizen)
        assert pay.status_code == 201, pay.text
        payment = pay.json()
        assert payment["amount_vnd"] == 4000 and payment["status"] == "pending"
        again = c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=citizen)
        assert again.status_code == 200 and again.json()["id"] == payment["id"]
        ack = callback(c, payment)
        assert ack.status_code == 200 and ack.json() == {
            "event_id": ack.json()["event_id"],
            "applied": True,
            "payment_status": "paid",
        }
        track = c.get(f"/api/v1/track/{receipt}").json()
        assert track == {
            "receipt_code": receipt,
            "procedure_code": FEE_PROCEDURE,
            "status": "submitted",
            "submitted_at": track["submitted_at"],
            "due_at": None,
            "overdue": False,
        }
        queue = c.get("/api/v1/officer/queue", headers=officer, params={"page_size": 100}).json()
        assert queue["total"] >= 1
        r = c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=officer)
        assert r.status_code == 200 and r.json()["status"] == "received" and r.json()["due_at"]
        assert_problem(c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=officer), 409)
        assert_problem(
            c.post(f"/api/v1/dossiers/{dossier_id}/rating", headers=citizen, json={"score": 5}), 409
        )
        r = c.post(
            f"/api/v1/officer/dossiers/{dossier_id}/decision",
            headers=officer,
            json={"outcome": "approved", "note": "hợp lệ"},
        )
        assert r.status_code == 200 and r.json()["status"] == "approved"
        r = c.post(f"/api/v1/officer/dossiers/{dossier_id}/result", headers=officer, json={"channel": "post"})
        assert r.status_code == 200 and r.json()["status"] == "result_returned"
        r = c.post(
            f"/api/v1/dossiers/{dossier_id}/rating", headers=citizen, json={"score": 4, "comment": "nhanh"}
        )
        assert r.status_code == 201
        assert_problem(
            c.post(f"/api/v1/dossiers/{dossier_id}/rating", headers=citizen, json={"score": 5}), 409
        )
        detail = c.get(f"/api/v1/dossiers/{dossier_id}", headers=citizen).json()
        assert [h["status"] for h in detail["history"]] == [
            "submitted",
            "received",
            "approved",
            "result_returned",
        ]
        assert detail["paid"] and detail["payment"]["status"] == "paid" and detail["result_channel"] == "post"
        file_id = detail["files"][0]["id"]
        download = c.get(f"/api/v1/dossiers/{dossier_id}/files/{file_id}", headers=citizen)
        assert download.status_code == 200 and download.content == PDF
        mine = c.get("/api/v1/dossiers", headers=citizen).json()
        assert dossier_id in [d["id"] for d in mine["items"]]
        feed = c.get(
            "/api/v1/sync/status-changes", headers=sync_account, params={"cursor": 0, "limit": 500}
        ).json()
        mine_events = [i["status"] for i in feed["items"] if i["receipt_code"] == receipt]
        assert mine_events[:4] == ["submitted", "received", "approved", "result_returned"]
        later = c.get(
            "/api/v1/sync/status-changes", headers=sync_account, params={"cursor": feed["next_cursor"]}
        ).json()
        assert all(i["cursor"] > feed["next_cursor"] for i in later["items"])
        assert "national_id" not in str(feed) and "owner" not in str(feed)
        stats = c.get("/api/v1/statistics").json()
        assert stats["procedures"] == 1679 and stats["procedures_full_online"] == 868
        assert stats["by_status"].get("result_returned", 0) >= 1 and stats["ratings"] >= 1
        assert stats["paid_online"] >= 1 and stats["decided_on_time"] >= 1


def test_supplement_then_resubmit_keeps_receipt_code(portal: Portal, citizen: dict, officer: dict) -> None:
    dossier_id, receipt = submitted(portal, citizen, FREE_PROCEDURE)
    with portal.client() as c:
        assert c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=officer).status_code == 200
        r = c.post(
            f"/api/v1/officer/dossiers/{dossier_id}/supplement",
            headers=officer,
            json={"reason": "thiếu bản sao giấy chứng sinh"},
        )
        assert r.status_code == 200 and r.json()["status"] == "supplement_requested"
        assert c.get(f"/api/v1/track/{receipt}").json()["status"] == "supplement_requested"
        assert upload(c, citizen, dossier_id, PNG, "bo-sung.png", "image/png").status_code == 201
        r = c.post(f"/api/v1/dossiers/{dossier_id}/submit", headers=citizen)
        assert r.status_code == 201 and r.json()["receipt_code"] == receipt
        # Submitting again is idempotent: same receipt code, no new status change.
        again = c.post(f"/api/v1/dossiers/{dossier_id}/submit", headers=citizen)
        assert again.status_code == 200 and again.json()["receipt_code"] == receipt
        assert_problem(c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=citizen), 409)  # no fee
        assert_problem(upload(c, citizen, dossier_id), 409)  # submitted: no more files


def test_create_idempotency_replay_and_mismatch(portal: Portal, citizen: dict) -> None:
    key = uuid.uuid4().hex
    with portal.client() as c:
        first = create(c, citizen, key=key)
        replay = create(c, citizen, key=key)
        assert first.status_code == 201 and replay.status_code == 200
        assert replay.headers["idempotent-replayed"] == "true" and replay.json()["id"] == first.json()["id"]
        assert_problem(create(c, citizen, FREE_PROCEDURE, key=key), 422)
        assert_problem(create(c, citizen, key="short"), 422)
        assert_problem(
            c.post("/api/v1/dossiers", json={"procedure_code": FEE_PROCEDURE}, headers=citizen), 422
        )
        assert_problem(create(c, citizen, "NO-SUCH-1"), 422)
        assert_problem(create(c, citizen, delivery="pigeon"), 422)
        # Submitting without a document is refused.
        empty = create(c, citizen).json()["id"]
        assert_problem(c.post(f"/api/v1/dossiers/{empty}/submit", headers=citizen), 409)
        assert_problem(c.post(f"/api/v1/dossiers/{empty}/payment", headers=citizen), 409)


def test_object_level_authorisation(portal: Portal, citizen: dict, citizen_no: int) -> None:
    other = portal.login(citizen_id(citizen_no + 100))
    dossier_id, _ = submitted(portal, citizen)
    with portal.client() as c:
        file_id = c.get(f"/api/v1/dossiers/{dossier_id}", headers=citizen).json()["files"][0]["id"]
        for method, path, body in [
            ("GET", f"/api/v1/dossiers/{dossier_id}", None),
            ("GET", f"/api/v1/dossiers/{dossier_id}/files/{file_id}", None),
            ("POST", f"/api/v1/dossiers/{dossier_id}/submit", None),
            ("POST", f"/api/v1/dossiers/{dossier_id}/payment", None),
            ("POST", f"/api/v1/dossiers/{dossier_id}/rating", {"score": 1}),
        ]:
            r = c.request(method, path, headers=other, json=body)
            missing = c.request(
                method, path.replace(str(dossier_id), "2147483000", 1), headers=other, json=body
            )
            assert_problem(r, 404)
            assert r.json() == missing.json()  # someone else's dossier looks like no dossier at all
        assert_problem(upload(c, other, dossier_id), 404)
        assert all(d["id"] != dossier_id for d in c.get("/api/v1/dossiers", headers=other).json()["items"])
        for path in ("/api/v1/officer/queue", "/api/v1/sync/status-changes"):
            assert_problem(c.get(path, headers=citizen), 403)
        assert_problem(c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=citizen), 403)
    audits = query(
        portal,
        "SELECT count(*) FROM audit_events WHERE event = 'foreign_dossier' AND detail = :d",
        d=f"dossier {dossier_id}",
    )
    assert audits[0][0] >= 6
    assert query(portal, "SELECT count(*) FROM audit_events WHERE event = 'forbidden_role'")[0][0] >= 3


def test_validation_errors_are_422_without_internals(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        r = c.post("/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"})
        body = assert_problem(r, 422)
        assert body["errors"] and "input" not in body["errors"][0]
        assert_problem(c.post("/api/v1/auth/login", json={"national_id": "036090000001"}), 422)
        assert_problem(
            c.post("/api/v1/auth/login", json={"national_id": "036090000001", "password": "x", "extra": 1}),
            422,
        )
        assert_problem(c.get("/api/v1/dossiers/not-a-number", headers=citizen), 422)
        assert_problem(c.get("/api/v1/dossiers/99999999999999999999", headers=citizen), 422)
        assert_problem(c.get("/api/v1/track/hs-lowercase"), 422)
        assert_problem(c.get("/api/v1/track/HSAAAAAAAAAAAAAAAA"), 404)
        assert_problem(c.get("/api/v1/no/such/route"), 404)
        assert c.delete("/api/v1/procedures").status_code == 405
        r = c.post("/api/v1/dossiers/1/rating", headers=citizen, json={"score": 9})
        assert_problem(r, 422)


def test_callback_authenticity(portal: Portal, citizen: dict) -> None:
    dossier_id, _ = submitted(portal, citizen)
    with portal.client() as c:
        payment = c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=citizen).json()
        assert_problem(callback(c, payment, secret="forged"), 401)
        assert_problem(callback(c, payment, timestamp=int(time.time()) - 3600), 401)  # stale
        assert_problem(callback(c, payment, timestamp=int(time.time()) + 3600), 401)  # from the future
        assert_problem(callback(c, payment, amount=1), 422)  # wrong amount
        assert_problem(callback(c, {**payment, "gateway_ref": "PAYUNKNOWN"}), 422)
        assert_problem(c.post("/api/v1/payments/callback", content=b"{}"), 422)  # unsigned
        assert (
            c.get(f"/api/v1/dossiers/{dossier_id}", headers=citizen).json()["payment"]["status"] == "pending"
        )
        failed = callback(c, payment, event_type="payment.failed")
        assert failed.status_code == 200 and failed.json()["applied"] is False
        ok = callback(c, payment)
        assert ok.json()["applied"] is True
    rejected = query(portal, "SELECT count(*) FROM audit_events WHERE event = 'callback_rejected'")[0][0]
    assert rejected >= 5


def test_upload_type_size_count(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        dossier_id = create(c, citizen).json()["id"]
        assert upload(c, citizen, dossier_id, JPEG, "anh.jpg", "image/jpeg").status_code == 201
        assert upload(c, citizen, dossier_id, PNG, "anh.png", "image/png").status_code == 201
        # Magic bytes decide, not the declared type; the extension must agree with them.
        assert_problem(upload(c, citizen, dossier_id, b"MZ\x90\x00 windows exe", "giay-to.pdf"), 415)
        assert_problem(upload(c, citizen, dossier_id, PDF, "giay-to.exe"), 415)
        assert_problem(upload(c, citizen, dossier_id, b"<html><script>", "a.pdf", "application/pdf"), 415)
        big = PDF + b"0" * (10 * 1024 * 1024)  # one byte over 10 MiB once the header is counted
        assert_problem(upload(c, citizen, dossier_id, big), 413)
        assert_problem(c.post(f"/api/v1/dossiers/{dossier_id}/files", headers=citizen), 422)  # no file
        detail = c.get(f"/api/v1/dossiers/{dossier_id}", headers=citizen).json()
        assert detail["file_count"] == 2 and len(detail["files"]) == 2  # nothing stored on refusal
        for i in range(18):
            assert upload(c, citizen, dossier_id, name=f"p{i}.pdf").status_code == 201
        body = assert_problem(upload(c, citizen, dossier_id), 422)
        assert "20" in body["detail"]
    rows = query(portal, "SELECT count(*) FROM dossier_files WHERE dossier_id = :d", d=dossier_id)
    assert rows[0][0] == 20


def test_officers_see_only_their_pool(portal: Portal, citizen: dict) -> None:
    dossier_id, _ = submitted(portal, citizen)  # X-CT-0001: commune level, justice agency
    land = portal.login("036080000003", OFFICER_PASSWORD)  # district.land
    justice = portal.login("036080000002", OFFICER_PASSWORD)  # commune.justice
    with portal.client() as c:
        queue = c.get("/api/v1/officer/queue", headers=land, params={"page_size": 100}).json()
        assert all(d["id"] != dossier_id for d in queue["items"])
        assert_problem(c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=land), 404)
        r = c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=justice)
        assert r.status_code == 200 and r.json()["status"] == "received"


def test_result_needs_payment_for_approved(portal: Portal, citizen: dict, officer: dict) -> None:
    dossier_id, _ = submitted(portal, citizen)
    with portal.client() as c:
        c.post(f"/api/v1/officer/dossiers/{dossier_id}/receive", headers=officer)
        c.post(
            f"/api/v1/officer/dossiers/{dossier_id}/decision", headers=officer, json={"outcome": "approved"}
        )
        assert_problem(
            c.post(
                f"/api/v1/officer/dossiers/{dossier_id}/result",
                headers=officer,
                json={"channel": "electronic"},
            ),
            409,
        )
        assert_problem(
            c.post(
                f"/api/v1/officer/dossiers/{dossier_id}/decision", headers=officer, json={"outcome": "maybe"}
            ),
            422,
        )
        assert_problem(c.post("/api/v1/officer/dossiers/2147483000/receive", headers=officer), 404)
