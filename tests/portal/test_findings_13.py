"""The defects an independent probe of the reference portal found (issue 13), one test or more each:
Vietnamese file names, `--host ::`, IPv6 clients keyed by /64, invalid bearer tokens rate-limited, one
`account_locked` row per lock, `Allow` on 405, and document structure beyond the magic bytes."""

from __future__ import annotations

import secrets
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from portal_helpers import GENEROUS, REPO, Portal, Stubs, query, start_portal, stop_portal
from portal_journey import JPEG, PDF, PNG, create, pay_and_wait, submitted, upload

from dvclab.portal.demo import citizen_id
from dvclab.portal.documents import JPEG_SCAN_BYTES, well_formed
from dvclab.portal.ratelimit import rate_key
from dvclab.portal.settings import DEFAULT_RATE_LIMITS
from dvclab.portal.uploads import content_disposition, safe_filename

pytestmark = pytest.mark.serial  # timing and concurrency under load: run alone (Makefile)

slow = pytest.mark.slow  # the portal on uvicorn, its stub third parties, PostgreSQL

BIRTH_NFC = unicodedata.normalize("NFC", "Giấy khai sinh.pdf")
BIRTH_NFD = unicodedata.normalize("NFD", BIRTH_NFC)


# --- 1. Vietnamese file names ---------------------------------------------------------------------


def test_file_names_in_nfc_and_content_disposition_per_rfc_8187() -> None:
    assert BIRTH_NFD != BIRTH_NFC
    assert safe_filename(BIRTH_NFD) == safe_filename(BIRTH_NFC) == BIRTH_NFC
    header = content_disposition('Đơn đề nghị "gấp".pdf')
    header.encode("latin-1")  # what the server must be able to send
    assert header == (
        'attachment; filename="Don de nghi _gap_.pdf"; '
        "filename*=UTF-8''%C4%90%C6%A1n%20%C4%91%E1%BB%81%20ngh%E1%BB%8B%20%22g%E1%BA%A5p%22.pdf"
    )


@slow
@pytest.mark.parametrize(
    ("name", "content", "media"),
    [
        (BIRTH_NFC, PDF, "application/pdf"),
        (BIRTH_NFD, PDF, "application/pdf"),
        (unicodedata.normalize("NFD", "Ảnh chụp CCCD mặt trước.png"), PNG, "image/png"),
        ("Đơn đề nghị cấp bản sao.jpg", JPEG, "image/jpeg"),
    ],
    ids=["pdf-nfc", "pdf-nfd", "png-nfd", "jpeg-nfc"],
)
def test_vietnamese_file_names_stored_echoed_and_downloaded(
    portal: Portal, citizen: dict, name: str, content: bytes, media: str
) -> None:
    stored = unicodedata.normalize("NFC", name)
    with portal.client() as c:
        dossier_id = create(c, citizen).json()["id"]
        r = upload(c, citizen, dossier_id, content, name, media)
        assert r.status_code == 201, r.text
        assert r.json()["filename"] == stored  # combining marks kept as letters, not `_`
        file_id = r.json()["id"]
        detail = c.get(f"/api/v1/dossiers/{dossier_id}", headers=citizen).json()
        assert [f["filename"] for f in detail["files"]] == [stored]
        download = c.get(f"/api/v1/dossiers/{dossier_id}/files/{file_id}", headers=citizen)
    assert download.status_code == 200, download.text
    assert download.content == content
    disposition = download.headers["content-disposition"]
    assert disposition.isascii()
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and fallback.endswith(stored.rsplit(".", 1)[1])
    assert disposition.endswith(f"filename*=UTF-8''{quote(stored, safe='')}")


# --- 2. `dvclab portal serve --host ::` -----------------------------------------------------------


class IPv6Portal(Portal):
    """`portal serve --host ::` with its own stubs, reached on [::1]."""

    @property
    def url(self) -> str:
        return f"http://[::1]:{self.port}"

    def command(self) -> list[str]:
        return [*super().command(), "--host", "::"]


def _has_ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@slow
def test_serve_on_ipv6_wildcard_gets_the_payment_callback(tmp_path: Path) -> None:
    assert _has_ipv6_loopback(), "this machine has no IPv6 loopback (::1): the finding cannot be checked"
    portal = IPv6Portal(tmp_path, rates=GENEROUS, clean_env=True, cwd=REPO)
    try:
        portal.start(timeout_s=30)
        auth = portal.login(citizen_id(7))
        dossier_id, _ = submitted(portal, auth)
        pay_and_wait(portal, auth, dossier_id)
        assert query(portal, "SELECT status FROM payments") == [("paid",)]
        assert f"dvclab portal: http://[::1]:{portal.port} " in portal.log.read_text()
    finally:
        portal.stop()


# --- 3, 4. Per-address limits: IPv6 by /64, invalid bearer tokens ---------------------------------


def test_rate_key_groups_ipv6_by_prefix_and_keeps_ipv4() -> None:
    assert rate_key("2001:db8:1:2::1", 64) == rate_key("2001:db8:1:2:ffff:1:2:3", 64) == "2001:db8:1:2::/64"
    assert rate_key("2001:db8:1:3::1", 64) != rate_key("2001:db8:1:2::1", 64)
    assert rate_key("2001:db8:1:2::1", 48) == rate_key("2001:db8:1:3::1", 48)
    assert rate_key("203.0.113.7", 64) == "203.0.113.7"
    assert rate_key("::ffff:203.0.113.7", 64) == "203.0.113.7"  # the same client as over IPv4
    assert rate_key("127.0.0.1", 64) != rate_key("::1", 64)
    assert rate_key("testclient", 64) == "testclient"


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory, third_parties: Stubs) -> Iterator[Portal]:
    """The tests' own address is a trusted proxy, so X-Forwarded-For chooses the client address."""
    server = start_portal(
        tmp_path_factory.mktemp("findings-13"),
        third_parties,
        rates={"public": "5/minute", "bad_token": DEFAULT_RATE_LIMITS["bad_token"]},
        env={"DVCLAB_PORTAL_TRUSTED_PROXIES": "127.0.0.1"},
    )
    yield server
    stop_portal(server)


@slow
def test_forty_addresses_of_one_ipv6_64_share_one_quota(behind_proxy: Portal) -> None:
    with behind_proxy.client() as c:

        def get(address: str) -> int:
            return c.get("/api/v1/procedures", headers={"X-Forwarded-For": address}).status_code

        rotating = [get(f"2001:db8:13:64::{i:x}") for i in range(1, 41)]
        assert rotating == [200] * 5 + [429] * 35
        assert get("2001:db8:13:65::1") == 200  # the next /64 is another subscriber
        assert get("198.51.100.1") == 200 and get("198.51.100.2") == 200  # IPv4: per address


@slow
def test_invalid_bearer_tokens_count_against_the_address(behind_proxy: Portal) -> None:
    limit = int(DEFAULT_RATE_LIMITS["bad_token"].split("/")[0])
    address = {"X-Forwarded-For": "192.0.2.44"}
    started = time.monotonic()
    with behind_proxy.client() as c, ThreadPoolExecutor(4) as pool:

        def guess(_: int) -> httpx.Response:
            token = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
            return c.get("/api/v1/dossiers", headers={**address, **token})

        responses = list(pool.map(guess, range(700)))
    elapsed = time.monotonic() - started
    assert Counter(r.status_code for r in responses) == {401: limit, 429: 700 - limit}, elapsed
    refused = next(r for r in responses if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["type"].endswith("quota-exceeded")
    # Only failures are charged: a valid token from the same address still works.
    auth = behind_proxy.login(citizen_id(190))
    with behind_proxy.client() as c:
        assert c.get("/api/v1/dossiers", headers={**auth, **address}).status_code == 200


# --- 5. One lockout burst, one `account_locked` row -----------------------------------------------


def login_burst(portal: Portal, n: int, identifier: str) -> list[int]:
    """n wrong-password logins on n open connections, released together."""
    gate = threading.Barrier(n)

    def one(_: int) -> int:
        with portal.client() as c:
            c.get("/healthz")  # connect first, so the gate releases requests, not handshakes
            gate.wait()
            body = {"national_id": identifier, "password": "wrong"}
            return c.post("/api/v1/auth/login", json=body).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@slow
def test_lockout_burst_writes_one_account_locked_row(portal: Portal, citizen_no: int) -> None:
    identifier = citizen_id(citizen_no)
    assert Counter(login_burst(portal, 12, identifier)) == {401: 5, 429: 7}
    events = query(
        portal,
        "SELECT event, count(*) FROM audit_events WHERE subject = :s GROUP BY event ORDER BY event",
        s=identifier,
    )
    assert dict(events) == {"account_locked": 1, "bad_password": 5, "login_refused_locked": 7}


# --- 6. Allow on 405 ------------------------------------------------------------------------------


@slow
def test_405_allow_lists_every_method_of_the_path(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        for path, allowed in [
            ("/api/v1/dossiers", {"GET", "POST"}),
            ("/api/v1/dossiers/1/files/1", {"GET"}),
            ("/api/v1/dossiers/1/files", {"POST"}),
            ("/api/v1/procedures", {"GET"}),
        ]:
            r = c.delete(path, headers=citizen)
            assert r.status_code == 405, path
            assert {m.strip() for m in r.headers["allow"].split(",")} == allowed, path


# --- 7. Document structure ------------------------------------------------------------------------


def _png_without_iend() -> bytes:
    return PNG[:-12]


@pytest.mark.parametrize(
    ("content", "media"),
    [
        (b"%PDF-", "application/pdf"),
        (b"%PDF-1.7\n" + b"x" * 5000, "application/pdf"),  # no trailer
        (b"%PDF-1.7\n%%EOF" + b"x" * 2000, "application/pdf"),  # %%EOF far from the end
        (b"%PDF-1.7\n" + b"x" * 100 + b"\n%%EOF\n", "application/pdf"),  # no startxref before it
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        (PNG[:29] + b"\x00\x00\x00\x00" + PNG[33:], "image/png"),  # IHDR CRC wrong
        (_png_without_iend(), "image/png"),  # truncated
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg"),
        (b"\xff\xd8\xff\xda\x00\x02" + b"\x00" * 64, "image/jpeg"),  # scan before any frame
        (JPEG.replace(b"\x00\x01\x00\x01\x01", b"\x00\x00\x00\x01\x01"), "image/jpeg"),  # height 0
    ],
)
def test_malformed_documents_fail_the_structure_check(content: bytes, media: str) -> None:
    assert not well_formed(content, media)


def test_structure_check_is_bounded_for_large_files() -> None:
    assert well_formed(PDF, "application/pdf") and well_formed(PNG, "image/png")
    assert well_formed(JPEG, "image/jpeg")
    # A JPEG whose frame header lies past the scanned head is refused without walking 10 MiB.
    padding = b"\xff\xe1\xff\xff" + b"\x00" * 0xFFFD
    far = b"\xff\xd8" + padding * (JPEG_SCAN_BYTES // len(padding) + 1) + JPEG[2:]
    big = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024) + b"\nstartxref\n0\n%%EOF\n"
    started = time.perf_counter()
    assert not well_formed(far, "image/jpeg")
    assert well_formed(big, "application/pdf")
    assert not well_formed(b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024), "image/png")
    assert time.perf_counter() - started < 0.5


@slow
def test_upload_of_bare_magic_bytes_is_refused(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        dossier_id = create(c, citizen).json()["id"]
        bare = [
            (b"%PDF-", "a.pdf", "application/pdf"),
            (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a.png", "image/png"),
            (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "a.jpg", "image/jpeg"),
        ]
        statuses = [upload(c, citizen, dossier_id, *file).status_code for file in bare]
        files = c.get(f"/api/v1/dossiers/{dossier_id}", headers=citizen).json()["files"]
    assert statuses == [415, 415, 415] and files == []
    refused = query(
        portal,
        "SELECT count(*) FROM audit_events WHERE event = 'upload_refused' AND detail = 'malformed document'",
    )
    assert refused[0][0] >= 3
