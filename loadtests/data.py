"""Plain functions the journeys and checks use: accounts, procedures, payloads, signatures, verdicts on
responses. No Locust here, so tests call them without a swarm.

Accounts are the reference portal's ``--demo-data`` ones (``portal/README.md``). Journeys use citizens
1..N; the security checks use their own accounts at the top of the range, so a lockout they provoke
never touches the load.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import re
import string
import time
import unicodedata
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

API = "/api/v1"
CITIZEN_PASSWORD = "Citizen@2024"  # noqa: S105 - documented demo credentials
OFFICER = ("036080000001", "Officer@2024")
SYNC = ("036070000001", "Sync@2024")
RECEIPT_RE = re.compile(r"^HS[A-Z2-7]{16}$")
BASE32 = string.ascii_uppercase + "234567"

# Security checks own these citizens (never used by journeys).
ATTACKERS = {"C02": 200, "C03": 199, "C05": 198, "C05b": 197, "C10": 196, "C11": 195, "C13": 194}
ATTACKERS |= {"C13b": 202, "C14": 193, "C16": 192, "C17": 191}
ATTACKERS |= {"C18": 190, "C20": 189, "C20b": 188, "C21": 187, "C21b": 186, "C21c": 185, "C21d": 184}
# Journeys take citizens 1..N below every check's account (profiles cap `citizens` here).
JOURNEY_CITIZENS_MAX = min(ATTACKERS.values()) - 1

OK = "ok"
REFUSED = "refused"  # an expected refusal: the limit held (a pass of its check, never a failure)
ERROR = "error"
# A 503 while C06 had the shared limit store slow or cut off (store_faults): the limits failing closed
# under a fault the run injected, counted apart from failures and refusals.
DURING_STORE_FAULT = "during_store_fault"

# Statuses that are never acceptable as an answer: a crash or a broken gateway (check C07).
SERVER_ERRORS = frozenset({500, 502, 504})
LEAK_MARKERS = ("Traceback", "sqlalchemy", "sqlite3.", "psycopg", 'File "/', "Exception:")


def citizen_id(number: int) -> str:
    return f"03609{number:07d}"


def classify(status: int, ok: tuple[int, ...], refusals: tuple[int, ...] = ()) -> str:
    """``ok`` when the answer is what the step wants, ``refused`` for an expected refusal, else ``error``
    (including status 0: no answer at all)."""
    if status in ok:
        return OK
    if status in refusals:
        return REFUSED
    return ERROR


def client_address(rng: random.Random) -> str:
    """A client address for X-Forwarded-For (10/8): each journey is a different household."""
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def idempotency_key(rng: random.Random) -> str:
    return "k" + "".join(rng.choices(string.ascii_letters + string.digits, k=23))


def random_receipt(rng: random.Random) -> str:
    return "HS" + "".join(rng.choices(BASE32, k=16))


def code_entropy_bits(code: str) -> float:
    """Entropy of a receipt code's random part, if its characters are uniform over base32."""
    return (len(code) - 2) * 5.0 if RECEIPT_RE.match(code) else 0.0


ENTROPY_SAMPLE = 20  # codes from which what never varies is taken as fixed


def codes_entropy_bits(codes: list[str]) -> float | None:
    """The random bits of a portal's receipt codes: the reference format's exact figure; for another
    format an upper bound, counting at each position the bits of the smallest alphabet (digits, hex,
    base32, alphanumerics) holding what was seen there. From 20 codes on, a position that never varied (a
    prefix, a sequence's leading zeros) counts nothing. None without codes."""
    if not codes:
        return None
    if all(RECEIPT_RE.match(c) for c in codes):
        return min(code_entropy_bits(c) for c in codes)
    upper = string.ascii_uppercase
    alphabets = (string.digits, string.digits + "ABCDEF", upper + "234567", upper + string.digits)
    alphabets += (string.ascii_letters + string.digits,)
    bits = 0.0
    for position in range(max(map(len, codes))):
        seen = {c[position] for c in codes if position < len(c)}
        if len(codes) >= ENTROPY_SAMPLE and len(seen) <= 1:
            continue
        size = next((len(a) for a in alphabets if seen <= set(a)), 95)
        bits += math.log2(size)
    return round(bits, 1)


def strip_accents(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def search_query(name: str, rng: random.Random) -> str:
    """What a citizen types: two or three words of the name, often without accents."""
    words = [w for w in re.split(r"\W+", name) if len(w) > 1][:3] or ["dang", "ky"]
    query = " ".join(words[: rng.choice((2, 3))])
    return strip_accents(query).lower() if rng.random() < 0.7 else query


@dataclass(frozen=True, slots=True)
class Proc:
    code: str
    name: str
    fee_vnd: int
    online_level: str


class ProcedureMix:
    """Procedures drawn by their demand weight in the catalog (the simulation's procedure mix)."""

    def __init__(self, procedures: list[Proc], weights: list[float]) -> None:
        if not procedures or sum(weights) <= 0:
            raise ValueError("an empty procedure mix")
        self.procedures = procedures
        self.cumulative = list(accumulate(weights))

    @classmethod
    def from_catalog(cls, path: str | None = None) -> ProcedureMix:
        from dvclab.catalog import DEFAULT_CATALOG, load_catalog

        rows = load_catalog(path or DEFAULT_CATALOG)
        procedures = [Proc(p.code, p.name, p.fee_vnd, p.online_level) for p in rows]
        return cls(procedures, [p.demand_weight for p in rows])

    def only(self, keep: Callable[[Proc], bool]) -> ProcedureMix:
        """The procedures for which ``keep(proc)`` holds, with their weights (a map's own codes)."""
        pairs = [(p, w) for p, w in zip(self.procedures, self.weights(), strict=True) if keep(p)]
        if not pairs:
            raise ValueError("no procedure of the catalog is in the portal map's table")
        return ProcedureMix([p for p, _ in pairs], [w for _, w in pairs])

    def weights(self) -> list[float]:
        return [b - a for a, b in zip([0.0, *self.cumulative[:-1]], self.cumulative, strict=True)]

    def pick(self, rng: random.Random) -> Proc:
        return self.procedures[bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def with_fee(self) -> Proc:
        """A fee-bearing procedure (payment checks need one); the most demanded first."""
        paying = [p for p in self.procedures if p.fee_vnd > 0]
        return paying[0] if paying else self.procedures[0]


# --- payloads ----------------------------------------------------------------------------------------

PDF_HEAD = b"%PDF-1.7\n"
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def pdf_bytes(size: int) -> bytes:
    """A document whose magic bytes say PDF, padded to ``size``."""
    body = PDF_HEAD + b"1 0 obj << /Type /Catalog >> endobj\n"
    trailer = b"\nstartxref\n0\n%%EOF"  # where a reader (and the portal's structure check) looks
    return (body + b"%" * max(0, size - len(body) - len(trailer)) + trailer)[: max(size, len(PDF_HEAD))]


def multipart(filename: str, content: bytes, media_type: str, field: str = "file") -> tuple[bytes, str]:
    """A one-file multipart/form-data body and its Content-Type (built here, so no client library
    decides how a hostile upload looks)."""
    boundary = "dvclab" + hashlib.sha1(content[:64] + filename.encode()).hexdigest()[:16]  # noqa: S324
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {media_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def dossier_body(proc: Proc, delivery: str = "electronic", note: str = "") -> dict[str, Any]:
    return {"procedure_code": proc.code, "delivery": delivery, "note": note}


# --- gateway callbacks (Standard Webhooks) ------------------------------------------------------------


def callback_body(payment_ref: str, amount_vnd: int, currency: str = "VND") -> bytes:
    event = {"type": "payment.succeeded", "data": {"payment_ref": payment_ref, "amount_vnd": amount_vnd}}
    event["data"]["currency"] = currency
    return json.dumps(event).encode()


def sign_callback(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{event_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


# --- responses ---------------------------------------------------------------------------------------


def token_expires_at(login_body: Any, now: float) -> float:
    """When a bearer token from a login answer runs out (``expires_in`` seconds after ``now``); a token
    whose answer gives no lifetime is taken as lasting."""
    lifetime = login_body.get("expires_in") if isinstance(login_body, dict) else None
    return now + float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else float("inf")


def session_lasts(expires_at: float, now: float, journey_s: float) -> bool:
    """Whether a token still has a whole journey ahead of it. A long-lived client (the officer's desk, the
    national sync) logs in again before the token runs out, as an OAuth client refreshes early, rather
    than meet a 401 halfway through a dossier."""
    return now + journey_s < expires_at


def token_hash(token: str) -> str:
    """How the reference portal stores a bearer token (SHA-256, hex): ground truth finds it by this."""
    return hashlib.sha256(token.encode()).hexdigest()


def json_of(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except (ValueError, TypeError):
        return None


def problem(response: Any) -> str:
    """A problem+json answer's detail (short), to name a failure."""
    body = json_of(response) if getattr(response, "status_code", 0) else None
    return str(body.get("detail", ""))[:120] if isinstance(body, dict) else ""


def header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None and hasattr(headers, "get"):
        value = headers.get(name.lower())
    return value


def leaks_internals(body: bytes | str | None) -> bool:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    return any(marker in text for marker in LEAK_MARKERS)


def parse_ratelimit(value: str | None) -> dict[str, int]:
    """``"track";r=0;t=30`` (draft-ietf-httpapi-ratelimit-headers) → ``{"r": 0, "t": 30}``."""
    found: dict[str, int] = {}
    for part in (value or "").split(";")[1:]:
        key, _, number = part.strip().partition("=")
        if number.isdigit():
            found[key] = int(number)
    return found


def retry_after_ok(response_headers: dict[str, str]) -> tuple[bool, str]:
    """C08: Retry-After is an integer >= 1 and not earlier than the window's ``t``."""
    retry = response_headers.get("retry-after")
    if retry is None or not retry.isdigit() or int(retry) < 1:
        return False, f"Retry-After {retry!r}"
    state = parse_ratelimit(response_headers.get("ratelimit"))
    if "t" in state and int(retry) < state["t"]:
        return False, f"Retry-After {retry} < t={state['t']}"
    if response_headers.get("ratelimit") is not None and state.get("r") != 0:
        return False, f"RateLimit r={state.get('r')} on a 429"
    return True, ""


def lower_headers(response: Any) -> dict[str, str]:
    headers = getattr(response, "headers", None) or {}
    try:
        return {str(k).lower(): str(v) for k, v in headers.items()}
    except AttributeError:
        return {}
