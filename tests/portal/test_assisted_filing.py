"""Assisted filing: an officer at the one-stop counter files a dossier on a citizen's behalf. The dossier
is the citizen's, records who filed it (so the online rate can tell real self-service apart), leaves an
audit row, counts against the citizen's draft quota, and only the filing officer (or the citizen) can act
on it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from portal_helpers import Portal, Stubs, query, start_portal, stop_portal
from portal_journey import FEE_PROCEDURE, PDF

from dvclab.portal.demo import OFFICER_PASSWORD, citizen_id

pytestmark = pytest.mark.slow  # uvicorn, stub third parties, PostgreSQL


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _file_for(c, officer: dict[str, str], citizen: str, **extra: str):  # type: ignore[no-untyped-def]
    body = {"procedure_code": FEE_PROCEDURE, "delivery": "counter", "citizen": citizen, **extra}
    return c.post("/api/v1/dossiers", json=body, headers={**officer, **_key()})


def test_officer_files_on_a_citizens_behalf(portal: Portal, officer: dict, citizen_no: int) -> None:
    owner = citizen_id(citizen_no)
    with portal.client() as c:
        created = _file_for(c, officer, owner)
        assert created.status_code == 201, created.text
        dossier = created.json()
        assert dossier["channel"] == "assisted"
        path = f"/api/v1/dossiers/{dossier['id']}"
        pdf = {"file": ("ban-sao-cccd.pdf", PDF, "application/pdf")}
        assert c.post(f"{path}/files", files=pdf, headers=officer).status_code == 201
        submitted = c.post(f"{path}/submit", headers=officer)
        assert submitted.status_code == 201 and submitted.json()["receipt_code"].startswith("HS")
        assert c.post(f"{path}/payment", headers=officer).status_code == 201
        # The dossier is the citizen's: in their list, marked assisted, tracked by its receipt code.
        mine = c.get("/api/v1/dossiers", headers=portal.login(owner)).json()["items"]
        assert [d["channel"] for d in mine if d["id"] == dossier["id"]] == ["assisted"]
        assert c.get(f"/api/v1/track/{submitted.json()['receipt_code']}").status_code == 200
    officer_id = query(portal, "SELECT id FROM accounts WHERE national_id = '036080000001'")[0][0]
    rows = query(
        portal,
        "SELECT d.filed_by_id, a.national_id FROM dossiers d JOIN accounts a ON a.id = d.owner_id "
        "WHERE d.id = :id",
        id=dossier["id"],
    )
    assert rows == [(officer_id, owner)]
    audit = query(
        portal,
        "SELECT subject FROM audit_events WHERE event = 'assisted_filing' AND detail = :d",
        d=f"dossier {dossier['id']} for {owner}",
    )
    assert audit == [("036080000001",)]


def test_a_citizens_own_filing_is_online(portal: Portal, citizen: dict, citizen_no: int) -> None:
    with portal.client() as c:
        body = {"procedure_code": FEE_PROCEDURE, "citizen": citizen_id(citizen_no)}  # naming oneself
        r = c.post("/api/v1/dossiers", json=body, headers={**citizen, **_key()})
        assert r.status_code == 201 and r.json()["channel"] == "online"
        other = {"procedure_code": FEE_PROCEDURE, "citizen": citizen_id(199)}
        r = c.post("/api/v1/dossiers", json=other, headers={**citizen, **_key()})
        assert r.status_code == 403  # a citizen files only their own dossiers


def test_assisted_filing_refuses_a_missing_or_unknown_citizen(portal: Portal, officer: dict) -> None:
    with portal.client() as c:
        missing = c.post(
            "/api/v1/dossiers", json={"procedure_code": FEE_PROCEDURE}, headers={**officer, **_key()}
        )
        assert missing.status_code == 422 and "citizen" in missing.json()["detail"]
        for nobody in ("036099999990", "036080000002"):  # no account; an officer's account
            r = _file_for(c, officer, nobody)
            assert r.status_code == 422 and r.json()["detail"] == "no citizen has this national id"
        assert _file_for(c, officer, "12345").status_code == 422  # not a national id at all


def test_only_the_filing_officer_reaches_an_assisted_dossier(
    portal: Portal, officer: dict, citizen: dict, citizen_no: int
) -> None:
    justice = portal.login("036080000002", OFFICER_PASSWORD)
    with portal.client() as c:
        assisted = _file_for(c, officer, citizen_id(citizen_no)).json()["id"]
        own = c.post(
            "/api/v1/dossiers", json={"procedure_code": FEE_PROCEDURE}, headers={**citizen, **_key()}
        ).json()["id"]
        pdf = {"file": ("a.pdf", PDF, "application/pdf")}
        # Another officer: the assisted dossier looks like no dossier at all; so does the citizen's own
        # dossier to the officer who filed the other one.
        for who, dossier in ((justice, assisted), (officer, own)):
            assert c.post(f"/api/v1/dossiers/{dossier}/files", files=pdf, headers=who).status_code == 404
            assert c.post(f"/api/v1/dossiers/{dossier}/submit", headers=who).status_code == 404
            assert c.get(f"/api/v1/dossiers/{dossier}", headers=who).status_code == 404
        # The citizen reaches the dossier filed for them.
        assert c.get(f"/api/v1/dossiers/{assisted}", headers=citizen).json()["channel"] == "assisted"
        # Citizen-only routes stay citizen-only.
        assert c.get("/api/v1/dossiers", headers=officer).status_code == 403


@pytest.mark.serial
def test_assisted_drafts_count_against_the_citizens_quota(tmp_path: Path, third_parties: Stubs) -> None:
    server = start_portal(tmp_path, third_parties, rates={"dossier_create": "2/hour"})
    try:
        officer = server.login("036080000001", OFFICER_PASSWORD)
        with server.client() as c:
            statuses = [_file_for(c, officer, citizen_id(7)).status_code for _ in range(3)]
            assert statuses == [201, 201, 429]
            assert _file_for(c, officer, citizen_id(8)).status_code == 201  # another citizen's quota
            own = c.post(
                "/api/v1/dossiers",
                json={"procedure_code": FEE_PROCEDURE},
                headers={**server.login(citizen_id(7)), **_key()},
            )
            assert own.status_code == 429  # the same quota, whoever files
    finally:
        stop_portal(server)
