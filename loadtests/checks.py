"""Security checks under load (``shared/research/security-checks.md``): the attack phase.

An :class:`Attacker` runs beside the journeys and provokes each limit (gated bursts released together,
fresh connections, spoofed headers); it records what it saw. After the run :func:`finalise` reads the
ground truth back and gives each check its verdict (``verdicts.py``).
An expected refusal (429, 413, 415, 404 on a foreign dossier) is a pass of its check, never a failure.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from locust import task

from dvclab.load import data, harness
from dvclab.load.data import API, ATTACKERS
from dvclab.load.users import PortalUser
from dvclab.load.verdicts import ORDER

# Sequential guesses are paced: one attacker at a human-like rate, so the argon2 pool it shares with the
# citizens' logins is not what the check measures (the gated bursts are the concurrency tests).
PACE_S = 0.4
# C01 sends more than 4 processes' worth of the limit (L): per-process counting on the 4 workers of the
# security profile would then serve ~4L and fail plainly, a global limiter serves L.
C01_FACTOR = 5
C01_MAX = 600  # requests, whatever L is


def burst(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Release ``n`` calls together on a gate (WSTG-BUSL-11's race technique); their results in order."""
    gate = Event()

    def one(i: int) -> Any:
        gate.wait()
        return fn(i)

    greenlets = [gevent.spawn(one, i) for i in range(n)]
    gevent.sleep(0.05)
    gate.set()
    gevent.joinall(greenlets, timeout=60)
    return [g.value for g in greenlets]


class Attacker(PortalUser):
    """Runs the profile's security checks once, beside the load, then idles."""

    journey = "security"
    fixed_count = 1
    concurrency = 64

    def on_start(self) -> None:
        self.run = harness.current()
        self.rng = random.Random(self.run.profile.seed * 7919)
        self.token = None
        self.forwarded = {}
        self._intended = None
        self.done = False
        self.addresses: dict[str, str] = {}

    @task
    def attack(self) -> None:
        if self.done or not self.run.profile.security.checks:
            gevent.sleep(1.0)
            return
        self.done = True
        gevent.sleep(self.run.profile.security.start_after)
        shapes: list[dict[str, Any]] = []
        for check_id in [c for c in ORDER if c in self.run.profile.security.checks]:
            probe = PROBES[check_id]  # passive checks (C07, L01) are judged at the end
            try:
                observed = probe(self, shapes) if check_id in ("C01", "C02", "C08", "C15") else probe(self)
            except Exception as error:  # noqa: BLE001 - a check that crashed is a failed check, named
                observed = {"error": f"{type(error).__name__}: {error}"[:300]}
            self.run.observations.append({"id": check_id, "observed": observed})

    # --- helpers -------------------------------------------------------------------------------------

    def address(self, key: str) -> dict[str, str]:
        """A client address of its own per check (the generator is a trusted proxy)."""
        if not self.run.profile.forwarded_clients:
            return {}
        if key not in self.addresses:
            self.addresses[key] = f"10.255.{len(self.addresses) + 1}.{self.rng.randrange(1, 255)}"
        return {"X-Forwarded-For": self.addresses[key]}

    def send(
        self,
        check: str,
        method: str,
        path: str,
        name: str,
        expect: tuple[int, ...],
        headers: dict[str, str] | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A check's request: its expected answers (refusals included) are not failures."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        with self.client.request(
            method, path, name=f"[{check}] {name}", headers=sent, catch_response=True, **kwargs
        ) as response:
            status = response.status_code or 0
            outcome = data.REFUSED if status in expect and status >= 400 else data.OK
            if status not in expect:
                outcome = data.ERROR
            response.request_meta["context"]["outcome"] = outcome
            if outcome == data.ERROR:
                response.failure(f"[{check}] unexpected HTTP {status} {data.problem(response)}")
            else:
                response.success()
        return response

    def login_as(self, check: str, number: int, password: str = data.CITIZEN_PASSWORD) -> str | None:
        response = self.send(
            check,
            "POST",
            f"{API}/auth/login",
            "POST /api/v1/auth/login",
            (200, 401, 429, 503),
            headers=self.address(check),
            json={"national_id": data.citizen_id(number), "password": password},
        )
        body = data.json_of(response) if response.status_code == 200 else None
        return body.get("access_token") if isinstance(body, dict) else None

    def new_dossier(self, check: str, token: str, proc: data.Proc | None = None) -> int | None:
        proc = proc or self.run.procedures.with_fee()
        response = self.send(
            check,
            "POST",
            f"{API}/dossiers",
            "POST /api/v1/dossiers",
            (200, 201),
            headers={**self.address(check), "Idempotency-Key": data.idempotency_key(self.rng)},
            token=token,
            json=data.dossier_body(proc),
        )
        body = data.json_of(response)
        return body.get("id") if isinstance(body, dict) else None

    def upload(
        self,
        check: str,
        token: str,
        dossier: int,
        filename: str,
        content: bytes,
        media: str,
        expect: tuple[int, ...],
    ) -> Any:
        body, content_type = data.multipart(filename, content, media)
        return self.send(
            check,
            "POST",
            f"{API}/dossiers/{dossier}/files",
            "POST /api/v1/dossiers/{id}/files",
            expect,
            headers={**self.address(check), "Content-Type": content_type},
            token=token,
            data=body,
        )

    def filed_and_paid(self, check: str, number: int) -> tuple[str, int, dict[str, Any]] | None:
        """A fee-bearing dossier, submitted, with a payment intent: (token, dossier, payment)."""
        token = self.login_as(check, number)
        dossier = self.new_dossier(check, token) if token else None
        if not token or dossier is None:
            return None
        self.upload(check, token, dossier, "don.pdf", data.pdf_bytes(5000), "application/pdf", (201,))
        self.send(
            check,
            "POST",
            f"{API}/dossiers/{dossier}/submit",
            "POST /api/v1/dossiers/{id}/submit",
            (200, 201),
            headers=self.address(check),
            token=token,
        )
        response = self.send(
            check,
            "POST",
            f"{API}/dossiers/{dossier}/payment",
            "POST /api/v1/dossiers/{id}/payment",
            (200, 201),
            headers=self.address(check),
            token=token,
        )
        payment = data.json_of(response)
        return (token, dossier, payment) if isinstance(payment, dict) and payment.get("gateway_ref") else None

    def callback(self, check: str, body: bytes, headers: dict[str, str], expect: tuple[int, ...]) -> Any:
        return self.send(
            check,
            "POST",
            f"{API}/payments/callback",
            "POST /api/v1/payments/callback",
            expect,
            headers=headers,
            data=body,
        )


def _shape_of_429(response: Any) -> dict[str, Any]:
    headers = data.lower_headers(response)
    ok, why = data.retry_after_ok(headers)
    return {
        "ok": ok and headers.get("content-type", "").startswith("application/problem+json"),
        "why": why
        or (
            ""
            if headers.get("content-type", "").startswith("application/problem+json")
            else f"content-type {headers.get('content-type')!r}"
        ),
        "retry_after": headers.get("retry-after"),
        "policy": headers.get("ratelimit-policy"),
        "at": time.time(),
    }


# --- probes (the attack phase) ------------------------------------------------------------------------


def _policy(responses: list[Any]) -> dict[str, int]:
    """The limiter's own RateLimit-Policy header (``"track";q=30;w=10``) on any answer: q = L, w = window."""
    for response in responses:
        policy = data.parse_ratelimit(data.lower_headers(response).get("ratelimit-policy"))
        if "q" in policy:
            return policy
    return {}


def _quota(responses: list[Any]) -> int | None:
    return _policy(responses).get("q")


def _track_probe(att: Attacker, check: str, headers: dict[str, str]) -> Any:
    return att.send(
        check,
        "GET",
        f"{API}/track/{data.random_receipt(att.rng)}",
        "GET /api/v1/track/{code}",
        (404, 429),
        headers=headers,
    )


def probe_c01(att: Attacker, shapes: list[dict[str, Any]]) -> dict[str, Any]:
    """C01_FACTOR × L + 1 requests on one key, each on a fresh connection (``Connection: close``) so the
    server's processes share them out, in gated bursts; L and the window read from RateLimit-Policy.
    Judged by :func:`verdicts.c01_holds`: a global limiter serves L, per-process counting ~ processes × L."""
    key = {**att.address("C01"), "Connection": "close"}
    responses: list[Any] = []
    policy: dict[str, int] = {}
    burst_size = att.run.profile.security.burst
    started = time.monotonic()
    target = C01_MAX
    while len(responses) < target:
        batch = burst(min(burst_size, target - len(responses)), lambda i: _track_probe(att, "C01", key))
        responses += batch
        policy = policy or _policy(batch)
        if "q" in policy:
            target = min(C01_MAX, C01_FACTOR * policy["q"] + 1)
    span = time.monotonic() - started
    if "q" not in policy:
        return {"error": f"no RateLimit-Policy and no 429 after {len(responses)} requests on one key"}
    counts = Counter(r.status_code for r in responses)
    shapes += [_shape_of_429(r) for r in responses if r.status_code == 429][:3]
    return {
        "L": policy["q"],
        "window_s": policy.get("w"),
        "sent": len(responses),
        "served": sum(n for s, n in counts.items() if s != 429),
        "429": counts[429],
        "other": {str(s): n for s, n in counts.items() if s not in (404, 429)},
        "span_s": round(span, 2),
        "connections": "fresh per request (Connection: close)",
    }


def probe_c15(att: Attacker, shapes: list[dict[str, Any]]) -> dict[str, Any]:
    key = att.address("C15")
    bodies, statuses = set(), []
    responses: list[Any] = []
    quota = None
    while len(responses) < 400 and (quota is None or len(responses) < quota + 10):
        responses.append(_track_probe(att, "C15", key))
        quota = quota or _quota(responses[-1:])
    for r in responses:
        statuses.append(r.status_code)
        if r.status_code == 404:
            bodies.add(r.content)
    shapes += [_shape_of_429(r) for r in responses if r.status_code == 429][:3]
    first_429 = statuses.index(429) if 429 in statuses else None
    return {
        "L": quota,
        "scanned": len(statuses),
        "found": sum(s == 200 for s in statuses),
        "first_429_at": first_429,
        "distinct_404_bodies": len(bodies),
        "pass": first_429 is not None
        and quota is not None
        and first_429 <= quota
        and len(bodies) <= 1
        and all(s in (404, 429) for s in statuses),
    }


def probe_c02(att: Attacker, shapes: list[dict[str, Any]]) -> dict[str, Any]:
    number, limit = ATTACKERS["C02"], att.run.profile.limits.lockout_threshold
    n = max(att.run.profile.security.burst, 3 * limit)

    def guess(i: int) -> Any:  # every guess from its own address: the per-account lock must hold alone
        address = (
            {"X-Forwarded-For": f"10.254.{i // 250}.{i % 250 + 1}"}
            if att.run.profile.forwarded_clients
            else {}
        )
        return att.send(
            "C02",
            "POST",
            f"{API}/auth/login",
            "POST /api/v1/auth/login",
            (401, 429, 503),
            headers={**address, "Connection": "close"},
            json={"national_id": data.citizen_id(number), "password": f"wrong-{i}"},
        )

    statuses = Counter(r.status_code for r in burst(n, guess))
    correct = [att.login_as("C02", number) for _ in range(2)]
    return {
        "T": limit,
        "burst": n,
        "statuses": {str(k): v for k, v in statuses.items()},
        "correct_after_lock": ["session" if t else "refused" for t in correct],
        "pass": statuses[401] <= limit and not any(correct),
        "account": data.citizen_id(number),
    }


def probe_c03(att: Attacker) -> dict[str, Any]:
    number, limit = ATTACKERS["C03"], att.run.profile.limits.lockout_threshold
    real = att.address("C03").get("X-Forwarded-For")
    statuses, spoofed = [], []
    for i in range(limit + 1):
        gevent.sleep(PACE_S)
        fake = f"203.0.113.{att.rng.randrange(1, 255)}"
        spoofed.append(fake)
        chain = f"{fake}, {real}" if real else fake  # a trusted proxy appends the real client last
        password = data.CITIZEN_PASSWORD if i == limit else f"wrong-{i}"
        r = att.send(
            "C03",
            "POST",
            f"{API}/auth/login",
            "POST /api/v1/auth/login",
            (200, 401, 429),
            headers={"X-Forwarded-For": chain, "Connection": "close"},
            json={"national_id": data.citizen_id(number), "password": password},
        )
        statuses.append(r.status_code)
        att.client.cookiejar.clear() if getattr(att.client, "cookiejar", None) else None
    return {
        "T": limit,
        "statuses": statuses,
        "last_refused": statuses[-1] == 429,
        "spoofed": spoofed,
        "real": real,
        "pass": statuses[-1] == 429,
        "account": data.citizen_id(number),
    }


def probe_c05(att: Attacker) -> dict[str, Any]:
    limit = att.run.profile.limits.lockout_threshold
    locked, reset = ATTACKERS["C05"], ATTACKERS["C05b"]

    def attempt(number: int, good: bool) -> Any:
        password = data.CITIZEN_PASSWORD if good else "not-the-password"
        gevent.sleep(PACE_S)
        return att.send(
            "C05",
            "POST",
            f"{API}/auth/login",
            "POST /api/v1/auth/login",
            (200, 401, 429),
            headers=att.address("C05"),
            json={"national_id": data.citizen_id(number), "password": password},
        )

    wrong = [attempt(locked, False).status_code for _ in range(limit)]
    after = attempt(locked, True)
    retry = data.lower_headers(after).get("retry-after")
    first = [attempt(reset, False).status_code for _ in range(limit - 1)]
    success = attempt(reset, True).status_code
    again = [attempt(reset, False).status_code for _ in range(limit - 1)]
    evaluated = wrong.count(401)
    ok = (
        evaluated <= min(limit, 100)
        and after.status_code == 429
        and bool(retry)
        and success == 200
        and all(s == 401 for s in first + again)
    )
    return {
        "T": limit,
        "evaluated_failures": evaluated,
        "correct_while_locked": after.status_code,
        "retry_after": retry,
        "success_after_T_minus_1": success,
        "failures_after_success": again,
        "pass": ok,
        "account": data.citizen_id(locked),
    }


def probe_c08(att: Attacker, shapes: list[dict[str, Any]]) -> dict[str, Any]:
    bad = [s for s in shapes if not s["ok"]]
    policies = {s["policy"] for s in shapes if s["policy"]}
    served_again: Any = "not tested"
    retries = [int(s["retry_after"]) for s in shapes if (s["retry_after"] or "").isdigit() and s["policy"]]
    key = att.addresses.get("C01")
    if retries and key and max(retries) <= 20:
        # Served again once Retry-After (+1 s) has passed since the 429s, not from now.
        lifted = (
            max(s["at"] + int(s["retry_after"]) for s in shapes if (s["retry_after"] or "").isdigit()) + 1
        )
        gevent.sleep(max(0.0, lifted - time.time()))
        r = att.send(
            "C08",
            "GET",
            f"{API}/track/{data.random_receipt(att.rng)}",
            "GET /api/v1/track/{code}",
            (404, 429),
            headers={"X-Forwarded-For": key},
        )
        served_again = r.status_code != 429
    elif retries:
        served_again = f"not waited (Retry-After {max(retries)} s > 20 s)"
    return {
        "429s_inspected": len(shapes),
        "bad": bad[:3],
        "policies": sorted(policies),
        "served_again": served_again,
        "pass": bool(shapes) and not bad and served_again is not False,
    }


def probe_c10(att: Attacker) -> dict[str, Any]:
    limit = att.run.profile.limits.max_file_bytes
    token = att.login_as("C10", ATTACKERS["C10"])
    dossier = att.new_dossier("C10", token) if token else None
    if dossier is None:
        return {"error": "could not log in or create a dossier"}
    sizes = [limit, limit + 1, limit + 2 * 1024 * 1024]
    started = time.perf_counter()

    def up(i: int) -> tuple[int, float]:
        r = att.upload(
            "C10", token, dossier, f"scan-{i}.pdf", data.pdf_bytes(sizes[i]), "application/pdf", (201, 413)
        )
        return r.status_code, round((time.perf_counter() - started) * 1000, 1)

    results = burst(len(sizes), up)
    detail = (
        data.json_of(
            att.send(
                "C10",
                "GET",
                f"{API}/dossiers/{dossier}",
                "GET /api/v1/dossiers/{id}",
                (200,),
                headers=att.address("C10"),
                token=token,
            )
        )
        or {}
    )
    statuses = [s for s, _ in results]
    return {
        "sizes": sizes,
        "statuses": statuses,
        "ms": [ms for _, ms in results],
        "file_count": detail.get("file_count"),
        "dossier": dossier,
        "pass": statuses == [201, 413, 413] and detail.get("file_count") == 1,
    }


def probe_c11(att: Attacker) -> dict[str, Any]:
    limit = att.run.profile.limits.max_files_per_dossier
    token = att.login_as("C11", ATTACKERS["C11"])
    dossier = att.new_dossier("C11", token) if token else None
    if dossier is None:
        return {"error": "could not log in or create a dossier"}
    wrong = [
        att.upload("C11", token, dossier, "scan.pdf", data.PNG_HEAD + b"x" * 500, "application/pdf", (415,)),
        att.upload("C11", token, dossier, "note.pdf", b"#!/bin/sh\necho hi\n", "application/pdf", (415,)),
        att.upload("C11", token, dossier, "page.exe", data.pdf_bytes(800), "application/pdf", (415,)),
    ]
    statuses = Counter(
        burst(
            limit + 5,
            lambda i: (
                att.upload(
                    "C11", token, dossier, f"p{i}.pdf", data.pdf_bytes(2000), "application/pdf", (201, 422)
                ).status_code
            ),
        )
    )
    detail = (
        data.json_of(
            att.send(
                "C11",
                "GET",
                f"{API}/dossiers/{dossier}",
                "GET /api/v1/dossiers/{id}",
                (200,),
                headers=att.address("C11"),
                token=token,
            )
        )
        or {}
    )
    stored = detail.get("file_count")
    return {
        "wrong_type": [r.status_code for r in wrong],
        "burst": limit + 5,
        "statuses": {str(k): v for k, v in statuses.items()},
        "file_count": stored,
        "max": limit,
        "dossier": dossier,
        "pass": all(r.status_code == 415 for r in wrong)
        and stored == statuses[201]
        and stored is not None
        and stored <= limit
        and statuses[201] + statuses[422] == limit + 5,
    }


def probe_c13(att: Attacker) -> dict[str, Any]:
    token = att.login_as("C13", ATTACKERS["C13"])
    own = att.new_dossier("C13", token) if token else None
    if own is None:
        return {"error": "could not log in or create a dossier"}
    foreign = [d for _, d in att.run.receipts if d != own][-8:] or [d for d in range(1, 6) if d != own]
    key = att.address("C13")
    answers: Counter[int] = Counter()
    for dossier in foreign:
        for method, path, name in (
            ("GET", f"{API}/dossiers/{dossier}", "GET /api/v1/dossiers/{id}"),
            ("GET", f"{API}/dossiers/{dossier}/files/1", "GET /api/v1/dossiers/{id}/files/{file_id}"),
            ("POST", f"{API}/dossiers/{dossier}/submit", "POST /api/v1/dossiers/{id}/submit"),
            ("POST", f"{API}/dossiers/{dossier}/payment", "POST /api/v1/dossiers/{id}/payment"),
        ):
            answers[att.send("C13", method, path, name, (404,), headers=key, token=token).status_code] += 1
    roles = [
        att.send(
            "C13",
            "GET",
            f"{API}/officer/queue",
            "GET /api/v1/officer/queue",
            (403,),
            headers=key,
            token=token,
        ).status_code,
        att.send(
            "C13",
            "POST",
            f"{API}/officer/dossiers/{own}/receive",
            "POST /api/v1/officer/dossiers/{id}/receive",
            (403,),
            headers=key,
            token=token,
        ).status_code,
        att.send(
            "C13",
            "GET",
            f"{API}/sync/status-changes",
            "GET /api/v1/sync/status-changes",
            (403,),
            headers=key,
            token=token,
        ).status_code,
    ]
    owners = {
        (
            data.json_of(
                att.send(
                    "C13",
                    "GET",
                    f"{API}/dossiers/{own}",
                    "GET /api/v1/dossiers/{id}",
                    (200,),
                    headers=key,
                    token=token,
                )
            )
            or {}
        ).get("owner_id")
        for _ in range(2)
    }
    two_xx = sum(n for s, n in answers.items() if 200 <= s < 300)
    return {
        "foreign_dossiers": foreign,
        "answers": {str(k): v for k, v in answers.items()},
        "role_answers": roles,
        "own_owner_ids": sorted(map(str, owners)),
        "probes": sum(answers.values()),
        "account": data.citizen_id(ATTACKERS["C13"]),
        "pass": two_xx == 0
        and set(answers) <= {404}
        and roles == [403, 403, 403]
        and len(owners) == 1
        and None not in owners,
    }


def probe_c14(att: Attacker) -> dict[str, Any]:
    token = att.login_as("C14", ATTACKERS["C14"])
    if not token:
        return {"error": "could not log in"}
    key, n = data.idempotency_key(att.rng), att.run.profile.security.burst
    proc = att.run.procedures.with_fee()
    headers = {**att.address("C14"), "Idempotency-Key": key}

    def create(_: int) -> Any:
        return att.send(
            "C14",
            "POST",
            f"{API}/dossiers",
            "POST /api/v1/dossiers",
            (200, 201, 409),
            headers=headers,
            token=token,
            json=data.dossier_body(proc),
        )

    created = burst(n, create)
    ids = {(data.json_of(r) or {}).get("id") for r in created if r.status_code in (200, 201)}
    statuses = Counter(r.status_code for r in created)
    other = att.send(
        "C14",
        "POST",
        f"{API}/dossiers",
        "POST /api/v1/dossiers",
        (422,),
        headers=headers,
        token=token,
        json=data.dossier_body(proc, note="a different body"),
    ).status_code
    dossier = next(iter(ids)) if len(ids) == 1 else None
    receipts: set[Any] = set()
    submits: Counter[int] = Counter()
    if dossier is not None:
        att.upload("C14", token, dossier, "don.pdf", data.pdf_bytes(3000), "application/pdf", (201,))
        answers = burst(
            n,
            lambda i: att.send(
                "C14",
                "POST",
                f"{API}/dossiers/{dossier}/submit",
                "POST /api/v1/dossiers/{id}/submit",
                (200, 201, 409),
                headers=att.address("C14"),
                token=token,
            ),
        )
        submits = Counter(r.status_code for r in answers)
        receipts = {
            (data.json_of(r) or {}).get("receipt_code") for r in answers if r.status_code in (200, 201)
        }
    return {
        "burst": n,
        "create_statuses": {str(k): v for k, v in statuses.items()},
        "dossier_ids": sorted(ids),
        "other_body": other,
        "submit_statuses": {str(k): v for k, v in submits.items()},
        "receipt_codes": sorted(map(str, receipts)),
        "idempotency_key": key,
        "dossier": dossier,
        "pass": len(ids) == 1
        and statuses[201] == 1
        and other == 422
        and len(receipts) == 1
        and submits[201] == 1,
    }


def probe_c16(att: Attacker) -> dict[str, Any]:
    filed = att.filed_and_paid("C16", ATTACKERS["C16"])
    if filed is None:
        return {"error": "could not file and open a payment"}
    _, dossier, payment = filed
    secret = att.run.profile.limits.gateway_secret
    event_id = "evt_dvclab_" + "".join(att.rng.choices("0123456789abcdef", k=20))
    body = data.callback_body(payment["gateway_ref"], payment["amount_vnd"], payment.get("currency", "VND"))
    headers = data.sign_callback(secret, event_id, body)
    n = att.run.profile.security.burst
    answers = burst(n, lambda i: att.callback("C16", body, headers, (200,)))
    gevent.sleep(1.0)
    answers += [
        att.callback("C16", body, data.sign_callback(secret, event_id, body), (200,)) for _ in range(2)
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


def probe_c17(att: Attacker) -> dict[str, Any]:
    filed = att.filed_and_paid("C17", ATTACKERS["C17"])
    if filed is None:
        return {"error": "could not file and open a payment"}
    _, dossier, payment = filed
    secret, ref, amount = att.run.profile.limits.gateway_secret, payment["gateway_ref"], payment["amount_vnd"]
    good = data.callback_body(ref, amount)
    forged: list[tuple[str, bytes, dict[str, str]]] = []

    def event(kind: str) -> str:
        return f"evt_forged_{kind}_" + "".join(att.rng.choices("0123456789abcdef", k=12))

    for _ in range(2):
        e = event("sig")
        forged.append(("bad signature", good, data.sign_callback("not-the-secret", e, good)))
        e = event("stale")
        forged.append(("stale", good, data.sign_callback(secret, e, good, int(time.time()) - 3600)))
        e, wrong = event("amount"), data.callback_body(ref, amount + 1000)
        forged.append(("wrong amount", wrong, data.sign_callback(secret, e, wrong)))
        e, unknown = event("ref"), data.callback_body("gw_unknown_" + e[-8:], amount)
        forged.append(("unknown payment", unknown, data.sign_callback(secret, e, unknown)))
    answers = [
        (kind, att.callback("C17", body, headers, (401, 422)).status_code, headers["webhook-id"])
        for kind, body, headers in forged
    ]
    return {
        "forged": len(answers),
        "answers": [[k, s] for k, s, _ in answers],
        "event_ids": [e for _, _, e in answers],
        "dossier": dossier,
        "pass": all(400 <= s < 500 for _, s, _ in answers),
    }


PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    "C01": probe_c01,
    "C15": probe_c15,
    "C02": probe_c02,
    "C08": probe_c08,
    "C03": probe_c03,
    "C05": probe_c05,
    "C10": probe_c10,
    "C11": probe_c11,
    "C13": probe_c13,
    "C14": probe_c14,
    "C16": probe_c16,
    "C17": probe_c17,
}
