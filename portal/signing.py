"""Gateway callback signatures (Standard Webhooks): HMAC-SHA256 over ``{id}.{timestamp}.{raw body}``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    message = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, event_id, ts, body),
    }


class SignatureError(ValueError):
    pass


def verify(
    secret: str,
    event_id: str | None,
    timestamp: str | None,
    signatures: str | None,
    body: bytes,
    tolerance_s: int,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless one of the space-separated signatures matches and is fresh."""
    if not event_id or not timestamp or not signatures or len(event_id) > 100:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise SignatureError("webhook-timestamp is outside the tolerance window")
    expected = sign(secret, event_id, ts, body)
    # Several signatures allow secret rotation; compare each in constant time.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures.split()):
        raise SignatureError("signature mismatch")
