"""Phone verification by SMS code through the identity provider (C19): the code works once, wrong tries
are bounded, and the SMS sends are limited per phone and per client address (each SMS is paid for)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from portal_helpers import Portal, Stubs, query, start_portal, stop_portal

from dvclab.portal.demo import citizen_id

pytestmark = pytest.mark.slow  # the portal on uvicorn and its stub identity provider

SEND = "/api/v1/phone-verifications"


def _code(stubs: Stubs, phone: str) -> str:
    r = httpx.get(f"{stubs.idp_url}/_sms/{phone}", trust_env=False, timeout=5)
    assert r.status_code == 200, r.text
    return next(word for word in r.json()["text"].split() if word.isdigit() and len(word) == 6)


def _sms_sent(stubs: Stubs) -> int:
    return httpx.get(f"{stubs.idp_url}/_stats", trust_env=False, timeout=5).json().get("sms_sent", 0)


def test_a_code_verifies_the_phone_once(portal: Portal, third_parties: Stubs, citizen: dict) -> None:
    phone = "0912000001" if "sqlite" in portal.db_url or not portal.db_url else "0912100001"
    with portal.client(headers=citizen) as c:
        sent = c.post(SEND, json={"phone": phone})
        assert sent.status_code == 202, sent.text
        assert '"otp_phone";q=5' in sent.headers["RateLimit-Policy"]
        assert '"otp_ip";q=20' in sent.headers["RateLimit-Policy"]
        confirm = f"{SEND}/{sent.json()['verification_id']}/confirm"
        code = _code(third_parties, phone)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        assert c.post(confirm, json={"code": wrong}).status_code == 422
        ok = c.post(confirm, json={"code": code})
        assert ok.status_code == 200 and ok.json() == {"phone": phone, "verified": True}
        assert c.post(confirm, json={"code": code}).status_code == 404  # spent: not pending any more
        assert c.post(SEND, json={"phone": "12345"}).status_code == 422  # not a phone number


def test_wrong_tries_are_bounded_even_for_the_right_code(
    portal: Portal, third_parties: Stubs, citizen: dict
) -> None:
    phone = "0912000002" if "sqlite" in portal.db_url or not portal.db_url else "0912100002"
    with portal.client(headers=citizen) as c:
        sent = c.post(SEND, json={"phone": phone})
        confirm = f"{SEND}/{sent.json()['verification_id']}/confirm"
        code = _code(third_parties, phone)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        assert [c.post(confirm, json={"code": wrong}).status_code for _ in range(5)] == [422] * 5
        late = c.post(confirm, json={"code": code})
        assert late.status_code == 429 and int(late.headers["Retry-After"]) >= 1
    rows = query(portal, "SELECT attempts, verified_at FROM phone_verifications WHERE phone = :p", p=phone)
    assert rows == [(5, None)]


def test_sms_to_one_phone_are_capped_whoever_asks(portal: Portal, third_parties: Stubs) -> None:
    phone = "0912000003" if "sqlite" in portal.db_url or not portal.db_url else "0912100003"
    before = _sms_sent(third_parties)
    statuses = []
    for n in (150, 151, 152):  # three citizens asking codes for one victim's phone
        with portal.client(headers=portal.login(citizen_id(n))) as c:
            statuses += [c.post(SEND, json={"phone": phone}).status_code for _ in range(2)]
    assert statuses == [202] * 5 + [429]
    assert _sms_sent(third_parties) - before == 5
    assert query(portal, "SELECT count(*) FROM phone_verifications WHERE phone = :p", p=phone) == [(5,)]


def test_sms_from_one_address_are_capped_whatever_the_phone(tmp_path: Path, third_parties: Stubs) -> None:
    server = start_portal(tmp_path, third_parties, rates={"otp_ip": "3/hour"})
    try:
        with server.client(headers=server.login(citizen_id(153))) as c:
            statuses = [c.post(SEND, json={"phone": f"091300000{i}"}).status_code for i in range(5)]
            refused = c.post(SEND, json={"phone": "0913000009"})
        assert statuses == [202] * 3 + [429] * 2
        assert refused.status_code == 429 and '"otp_ip"' in refused.headers["RateLimit-Policy"]
        assert query(server, "SELECT count(*) FROM phone_verifications") == [(3,)]
    finally:
        stop_portal(server)
