"""Small client-side steps of the citizen journey, shared by the portal tests."""

from __future__ import annotations

import json
import struct
import time
import uuid
import zlib

import httpx
from portal_helpers import SECRET, Portal

from dvclab.portal.signing import signed_headers

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\nstartxref\n0\n%%EOF\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# 1x1 grey PNG: signature, IHDR, one IDAT, IEND.
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    + png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    + png_chunk(b"IEND", b"")
)
# JPEG head as the portal checks it (SOI, APP0 JFIF, SOF0 1x1 with one component), then EOI.
JPEG = (
    b"\xff\xd8"
    + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    + b"\xff\xd9"
)
FEE_PROCEDURE = "X-CT-0001"  # certification of copies: 4,000 VND
FREE_PROCEDURE = "X-HT-0001"  # birth registration: no fee


def create(
    c: httpx.Client, auth: dict[str, str], code: str = FEE_PROCEDURE, key: str | None = None, **body: object
) -> httpx.Response:
    return c.post(
        "/api/v1/dossiers",
        json={"procedure_code": code, **body},
        headers={**auth, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def upload(
    c: httpx.Client,
    auth: dict[str, str],
    dossier_id: int,
    content: bytes = PDF,
    name: str = "giay-to.pdf",
    media: str = "application/pdf",
) -> httpx.Response:
    return c.post(
        f"/api/v1/dossiers/{dossier_id}/files", files={"file": (name, content, media)}, headers=auth
    )


def submitted(portal: Portal, auth: dict[str, str], code: str = FEE_PROCEDURE) -> tuple[int, str]:
    """A dossier created, with one document, submitted: (id, receipt code)."""
    with portal.client() as c:
        r = create(c, auth, code)
        assert r.status_code == 201, r.text
        dossier_id = r.json()["id"]
        assert upload(c, auth, dossier_id).status_code == 201
        r = c.post(f"/api/v1/dossiers/{dossier_id}/submit", headers=auth)
        assert r.status_code == 201, r.text
        return dossier_id, r.json()["receipt_code"]


def callback(
    c: httpx.Client,
    payment: dict,
    event_id: str | None = None,
    amount: int | None = None,
    secret: str = SECRET,
    timestamp: int | None = None,
    event_type: str = "payment.succeeded",
) -> httpx.Response:
    body = json.dumps(
        {
            "type": event_type,
            "data": {
                "payment_ref": payment["gateway_ref"],
                "amount_vnd": payment["amount_vnd"] if amount is None else amount,
                "currency": "VND",
            },
        }
    ).encode()
    event_id = event_id or "evt_" + uuid.uuid4().hex
    headers = {**signed_headers(secret, event_id, body, timestamp), "content-type": "application/json"}
    return c.post("/api/v1/payments/callback", content=body, headers=headers)


def pay_and_wait(portal: Portal, auth: dict[str, str], dossier_id: int, timeout_s: float = 10) -> None:
    """Start the payment and wait until the gateway stub's signed callback has marked the dossier paid
    (the caller asserts on the database)."""
    with portal.client() as c:
        assert c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=auth).status_code == 201
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if c.get(f"/api/v1/dossiers/{dossier_id}", headers=auth).json()["paid"]:
                return
            time.sleep(0.1)
