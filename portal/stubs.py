"""Stub third parties, real over HTTP: the payment gateway and the national identity provider.

Each runs as its own small uvicorn process with injectable faults (latency, error rate, outage),
settable at start and at run time through ``PUT /_faults``, so load tests can show how the portal
behaves when a dependency is slow or down. ``GET /_stats`` gives ground-truth counters.

    python -m dvclab.portal.stubs gateway --port 8101 --callback-url http://127.0.0.1:8000/api/v1/payments/callback
    python -m dvclab.portal.stubs idp --port 8102 --latency-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI, Header, Response
from pydantic import BaseModel, Field

from dvclab.portal.signing import signed_headers

CITIZENS = "/v1/citizens/"


class Faults(BaseModel):
    latency_ms: float = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0, ge=0, le=1)
    outage: bool = False
    malformed: bool = False  # 200 with a body that is not JSON (a proxy's error page, a truncated answer)


class _State:
    def __init__(self, faults: Faults, seed: int | None) -> None:
        self.faults = faults
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        # The stub's hot route answered in plain ASGI (it forwards anything else to the app): FastAPI's
        # routing, dependency solving and response validation cost ~0.5 ms of CPU a call, which counted
        # in every journey's budget, against a few microseconds for the answer itself.
        self.fast: Any = None


class _FaultInjector:
    """Pure ASGI middleware injecting the faults (a decorator middleware costs ~1 ms of CPU a request,
    which counted in every journey's third-party budget). Paths under ``/_`` are never faulted."""

    def __init__(self, app: Any, state: _State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_"):
            await self.app(scope, receive, send)
            return
        state = self.state
        state.counts["requests"] += 1
        faults = state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.outage or (faults.error_rate and state.random.random() < faults.error_rate):
            state.counts["injected_errors"] += 1
            await _answer(send, 503, b'{"error":"injected fault"}', b"application/json")
        elif faults.malformed:
            state.counts["injected_errors"] += 1
            await _answer(send, 200, b"<html>502 Bad Gateway</html>", b"text/html; charset=utf-8")
        elif state.fast is not None:
            await state.fast(scope, receive, send, self.app)
        else:
            await self.app(scope, receive, send)


async def _answer(send: Any, status: int, body: bytes, media_type: bytes) -> None:
    headers = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_faults(app: FastAPI, state: _State) -> None:
    app.add_middleware(_FaultInjector, state=state)

    @app.get("/_faults", response_model=Faults)
    async def get_faults() -> Faults:
        return state.faults

    @app.put("/_faults", response_model=Faults)
    async def set_faults(faults: Faults) -> Faults:
        state.faults = faults
        return faults

    @app.get("/_stats")
    async def stats() -> dict[str, int]:
        return dict(state.counts)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def identity_app(faults: Faults | None = None, seed: int | None = None) -> FastAPI:
    """VNeID-like: any well-formed 12-digit number is an active level-2 identity, except those ending
    in 999, which are revoked (so the portal's refusal path can be exercised)."""
    app = FastAPI(title="stub national identity provider")
    state = _State(faults or Faults(), seed)
    _with_faults(app, state)

    def lookup(national_id: str) -> tuple[int, bytes]:
        state.counts["lookups"] += 1
        if len(national_id) != 12 or not national_id.isdigit():
            return 404, b'{"error":"not found"}'
        status = "revoked" if national_id.endswith("999") else "active"
        body = {"national_id": national_id, "status": status, "assurance_level": 2}
        return 200, json.dumps(body).encode()

    @app.get("/v1/citizens/{national_id}")
    async def citizen(national_id: str) -> Response:
        status, body = lookup(national_id)
        return Response(body, status_code=status, media_type="application/json")

    async def fast(scope: Any, receive: Any, send: Any, app: Any) -> None:
        path = scope["path"]
        if scope["method"] == "GET" and path.startswith(CITIZENS) and "/" not in path[len(CITIZENS) :]:
            await _answer(send, *lookup(path[len(CITIZENS) :]), b"application/json")
        else:
            await app(scope, receive, send)

    state.fast = fast

    outbox: dict[str, str] = {}  # the last SMS to each phone: what a test reads the code from

    @app.post("/v1/sms", status_code=202)
    async def sms(message: Sms) -> dict[str, str]:
        state.counts["sms_sent"] += 1  # ground truth of what the portal spent (C19)
        outbox[message.phone] = message.text
        return {"status": "queued"}

    @app.get("/_sms/{phone}")
    async def last_sms(phone: str) -> Response:
        if phone not in outbox:
            return Response('{"error":"no SMS"}', status_code=404, media_type="application/json")
        return Response(json.dumps({"phone": phone, "text": outbox[phone]}), media_type="application/json")

    return app


class Sms(BaseModel):
    phone: str = Field(pattern=r"^0[0-9]{9}$")
    text: str = Field(max_length=160)


class PaymentRequest(BaseModel):
    order_id: str = Field(max_length=64)
    amount_vnd: int = Field(gt=0)
    currency: str = Field("VND", max_length=3)


def gateway_app(
    faults: Faults | None = None,
    seed: int | None = None,
    callback_url: str | None = None,
    secret: str = "dvclab-dev-gateway-secret",
    callback_delay_ms: float = 200,
) -> FastAPI:  # noqa: S107
    """Creates payments idempotently by Idempotency-Key and, when given a callback URL, later posts a
    signed `payment.succeeded` event to it (as a real gateway does after the citizen pays)."""
    app = FastAPI(title="stub payment gateway")
    state = _State(faults or Faults(), seed)
    _with_faults(app, state)
    payments: dict[str, dict[str, Any]] = {}
    tasks: set[asyncio.Task[None]] = set()

    clients: list[httpx.AsyncClient] = []  # one pooled client: creating one per callback costs ~10 ms CPU

    async def deliver(payment: dict[str, Any]) -> None:
        await asyncio.sleep(callback_delay_ms / 1000)
        if not clients:
            clients.append(httpx.AsyncClient(timeout=5, trust_env=False))
        client = clients[0]
        body = json.dumps(
            {
                "type": "payment.succeeded",
                "data": {
                    "payment_ref": payment["payment_ref"],
                    "amount_vnd": payment["amount_vnd"],
                    "currency": payment["currency"],
                },
            }
        ).encode()
        event_id = "evt_" + secrets.token_hex(12)
        for attempt in range(3):  # gateways retry: the portal must de-duplicate
            try:
                response = await client.post(
                    callback_url or "",
                    content=body,
                    headers={**signed_headers(secret, event_id, body), "content-type": "application/json"},
                )
                state.counts[f"callback_{response.status_code}"] += 1
                if response.status_code < 500:
                    return
            except httpx.HTTPError:
                state.counts["callback_errors"] += 1
            await asyncio.sleep(0.5 * (attempt + 1))

    @app.post("/v1/payments", status_code=201)
    async def create(
        body: PaymentRequest, response: Response, idempotency_key: str = Header(max_length=100)
    ) -> dict[str, Any]:
        payment, created = open_payment(body, idempotency_key)
        response.status_code = 201 if created else 200
        return payment

    async def fast(scope: Any, receive: Any, send: Any, app: Any) -> None:
        """POST /v1/payments with a well-formed body and key, answered here; anything else (a bad
        body or key included: its 422) by the app, given the body already read."""
        if scope["method"] != "POST" or scope["path"] != "/v1/payments":
            await app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"idempotency-key"), None)
        try:
            body = PaymentRequest.model_validate_json(raw)
        except ValueError:
            body = None
        if body is None or key is None or len(key) > 100:
            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}

            await app(scope, replay, send)
            return
        payment, created = open_payment(body, key)
        await _answer(send, 201 if created else 200, json.dumps(payment).encode(), b"application/json")

    state.fast = fast

    def open_payment(body: PaymentRequest, idempotency_key: str) -> tuple[dict[str, Any], bool]:
        existing = payments.get(idempotency_key)
        if existing is not None:
            state.counts["replays"] += 1
            return existing, False
        ref = "PAY" + secrets.token_hex(10).upper()
        payment = {
            "payment_ref": ref,
            "order_id": body.order_id,
            "amount_vnd": body.amount_vnd,
            "currency": body.currency,
            "status": "pending",
            "created": time.time(),
            "checkout_url": f"https://gateway.invalid/checkout/{ref}",
        }
        payments[idempotency_key] = payment
        state.counts["payments"] += 1
        if callback_url:
            task = asyncio.create_task(deliver(payment))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return payment, True

    @app.get("/v1/payments/{ref}")
    async def get(ref: str) -> Response:
        for payment in payments.values():
            if payment["payment_ref"] == ref:
                return Response(json.dumps(payment), media_type="application/json")
        return Response('{"error":"not found"}', status_code=404, media_type="application/json")

    return app


def spawn(
    kind: str,
    port: int,
    *,
    host: str = "127.0.0.1",
    latency_ms: float = 0,
    error_rate: float = 0,
    outage: bool = False,
    callback_url: str | None = None,
    secret: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a stub in its own process (the caller stops it with terminate())."""
    command = [
        sys.executable,
        "-m",
        "dvclab.portal.stubs",
        kind,
        "--host",
        host,
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--error-rate",
        str(error_rate),
    ]
    if outage:
        command.append("--outage")
    if callback_url:
        command += ["--callback-url", callback_url]
    if secret:
        command += ["--secret", secret]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
    )


def _die_with_parent() -> None:
    """Linux: the stub gets SIGTERM when its parent dies, even by a signal that skips `finally`
    (uvicorn re-raises SIGTERM/SIGINT after its own shutdown)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def wait_ready(url: str, timeout_s: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            if httpx.get(url + "/healthz", timeout=1, trust_env=False).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dvclab.portal.stubs")
    parser.add_argument("kind", choices=("gateway", "idp"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--error-rate", type=float, default=0)
    parser.add_argument("--outage", action="store_true")
    parser.add_argument("--callback-url")
    parser.add_argument("--secret", default="dvclab-dev-gateway-secret")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    try:
        faults = Faults(latency_ms=args.latency_ms, error_rate=args.error_rate, outage=args.outage)
    except ValueError as bad:
        print(f"stubs: {bad}", file=sys.stderr)
        return 2
    import uvicorn

    if args.kind == "gateway":
        app = gateway_app(faults, args.seed, args.callback_url, args.secret)
    else:
        app = identity_app(faults, args.seed)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
