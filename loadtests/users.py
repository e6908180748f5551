"""Locust users, one class per journey. Each waits for its next scheduled start (the open model), then
walks its journey; steps are short and data and checks live in plain functions (``data.py``).
"""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, constant, task

from dvclab.load import data, harness
from dvclab.load.data import API


class PortalUser(FastHttpUser):
    """What every dvclab user shares: the run, its client address, the request helper (no task here)."""

    abstract = True
    journey = ""
    wait_time = constant(0)
    concurrency = 4
    network_timeout = 30.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.run = harness.current()
        self.rng = random.Random(self.run.rng.random())
        self.token: str | None = None
        self.token_expires_at = 0.0  # time.monotonic() clock
        self.forwarded: dict[str, str] = {}
        self._intended: float | None = None
        self.run.join(self.journey)

    # --- steps shared by journeys ------------------------------------------------------------------

    def think(self) -> None:
        think = self.run.profile.think_time
        gevent.sleep(self.rng.uniform(think.min, think.max))

    def call(
        self,
        method: str,
        path: str,
        name: str,
        ok: tuple[int, ...] = (200,),
        refusals: tuple[int, ...] = (),
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request, judged by :func:`data.classify`: an expected refusal is a success for Locust
        and reported apart; the journey's first request carries its intended start."""
        context: dict[str, Any] = {"journey": self.journey}
        if self._intended is not None:
            context["intended"], self._intended = self._intended, None
        sent = {**self.forwarded, **({"Authorization": f"Bearer {self.token}"} if self.token else {})}
        with self.client.request(
            method,
            path,
            name=name,
            headers={**sent, **(headers or {})},
            catch_response=True,
            context=context,
            **kwargs,
        ) as response:
            outcome = data.classify(response.status_code or 0, ok, refusals)
            response.request_meta["context"]["outcome"] = outcome
            if outcome == data.ERROR:
                response.failure(f"HTTP {response.status_code} {data.problem(response)}")
            else:
                response.success()
        return response

    def login(self, national_id: str, password: str) -> bool:
        self.token = None
        response = self.call(
            "POST",
            f"{API}/auth/login",
            "POST /api/v1/auth/login",
            refusals=(429, 503),
            json={"national_id": national_id, "password": password},
        )
        body = data.json_of(response) if response.status_code == 200 else None
        self.token = body.get("access_token") if isinstance(body, dict) else None
        self.token_expires_at = data.token_expires_at(body, time.monotonic())
        return self.token is not None

    def signed_in(self) -> bool:
        """A token that outlasts this journey (its requests and think times, with room to spare)."""
        journey_s = 5.0 + 10 * self.run.profile.think_time.max  # an officer's journey thinks 3 times
        lasts = data.session_lasts(self.token_expires_at, time.monotonic(), journey_s)
        return self.token is not None and lasts

    def login_citizen(self) -> bool:
        return self.login(data.citizen_id(self.run.next_citizen()), data.CITIZEN_PASSWORD)

    def create_dossier(self, proc: data.Proc, delivery: str = "electronic", note: str = "") -> int | None:
        response = self.call(
            "POST",
            f"{API}/dossiers",
            "POST /api/v1/dossiers",
            ok=(200, 201),
            refusals=(429,),
            json=data.dossier_body(proc, delivery, note),
            headers={"Idempotency-Key": data.idempotency_key(self.rng)},
        )
        body = data.json_of(response)
        return body.get("id") if response.status_code in (200, 201) and isinstance(body, dict) else None

    def upload(self, dossier: int, filename: str, size: int = 20_000) -> bool:
        body, content_type = data.multipart(filename, data.pdf_bytes(size), "application/pdf")
        response = self.call(
            "POST",
            f"{API}/dossiers/{dossier}/files",
            "POST /api/v1/dossiers/{id}/files",
            ok=(201,),
            refusals=(429,),
            data=body,
            headers={"Content-Type": content_type},
        )
        return response.status_code == 201

    def submit(self, dossier: int) -> str | None:
        response = self.call(
            "POST", f"{API}/dossiers/{dossier}/submit", "POST /api/v1/dossiers/{id}/submit", ok=(200, 201)
        )
        body = data.json_of(response)
        code = body.get("receipt_code") if isinstance(body, dict) else None
        if code:
            self.run.note_receipt(code, dossier)
        return code

    def pay(self, dossier: int) -> bool:
        response = self.call(
            "POST",
            f"{API}/dossiers/{dossier}/payment",
            "POST /api/v1/dossiers/{id}/payment",
            ok=(200, 201),
            refusals=(503,),
        )
        return response.status_code in (200, 201)

    def track(self, receipt: str, refusals: tuple[int, ...] = (429,)) -> None:
        self.call("GET", f"{API}/track/{receipt}", "GET /api/v1/track/{code}", refusals=refusals)


class JourneyRunner(PortalUser):
    """A journey runner: takes the next intended start of its journey, walks it, and waits again."""

    abstract = True

    @task
    def next_journey(self) -> None:
        intended = self.run.scheduler.next_start(self.journey)
        if intended is None:  # the schedule is over: idle until Locust stops this user
            gevent.sleep(1.0)
            return
        # Each journey is a new visit on a new connection, as from a new browser. A connection pooled
        # since this runner's last journey may have been closed by the server while it idled, and a POST
        # racing that close gets a reset it must not retry (RFC 9110 9.2.2): a failure of the
        # generator's making, not the portal's.
        self.client.client.close()
        self._intended = intended
        if self.run.profile.forwarded_clients:
            self.forwarded = {"X-Forwarded-For": data.client_address(self.rng)}
        try:
            self.walk()
        finally:
            self._intended = None

    def walk(self) -> None:
        raise NotImplementedError


class CitizenOnline(JourneyRunner):
    """A citizen files online: search → detail → login → create → upload → submit → pay → track → rate."""

    journey = "citizen_online"

    def walk(self) -> None:
        proc = self.run.procedures.pick(self.rng)
        self.call(
            "GET",
            f"{API}/procedures",
            "GET /api/v1/procedures",
            params={"q": data.search_query(proc.name, self.rng)},
        )
        self.think()
        self.call("GET", f"{API}/procedures/{proc.code}", "GET /api/v1/procedures/{code}")
        self.think()
        if not self.login_citizen():
            return
        dossier = self.create_dossier(proc)
        if dossier is None:
            return
        self.think()
        if not self.upload(dossier, "to-khai.pdf"):
            return
        receipt = self.submit(dossier)
        if receipt is None:
            return
        if proc.fee_vnd > 0:
            self.think()
            self.pay(dossier)
        self.think()
        self.track(receipt)
        self.think()
        self.rate_if_decided(dossier)

    def rate_if_decided(self, dossier: int) -> None:
        response = self.call("GET", f"{API}/dossiers/{dossier}", "GET /api/v1/dossiers/{id}")
        body = data.json_of(response)
        if isinstance(body, dict) and body.get("status") in ("approved", "rejected", "result_returned"):
            self.call(
                "POST",
                f"{API}/dossiers/{dossier}/rating",
                "POST /api/v1/dossiers/{id}/rating",
                ok=(201,),
                refusals=(409,),
                json={"score": self.rng.randint(3, 5), "comment": ""},
            )


class AssistedFiling(JourneyRunner):
    """At the one-stop counter an officer files on a citizen's behalf (with the citizen's account),
    scans the paper documents, submits and takes the fee."""

    journey = "assisted"

    def walk(self) -> None:
        proc = self.run.procedures.pick(self.rng)
        if not self.login_citizen():
            return
        dossier = self.create_dossier(
            proc, delivery="counter", note="filed at the counter on the citizen's behalf"
        )
        if dossier is None:
            return
        for page in ("ban-sao-cccd.pdf", "don-de-nghi.pdf"):
            self.think()
            if not self.upload(dossier, page):
                return
        if self.submit(dossier) and proc.fee_vnd > 0:
            self.pay(dossier)


class Officer(JourneyRunner):
    """A back-office officer: work queue → receive → decide or request a supplement → return the result."""

    journey = "officer"

    def walk(self) -> None:
        if not self.signed_in() and not self.login(*data.OFFICER):
            return
        response = self.call(
            "GET",
            f"{API}/officer/queue",
            "GET /api/v1/officer/queue",
            params={"status": "submitted"},
            refusals=(401,),
        )
        if response.status_code == 401:  # logged out or revoked server-side: log in again next time
            self.token = None
            return
        items = (data.json_of(response) or {}).get("items") or []
        if not items:
            return
        dossier = self.rng.choice(items)["id"]
        self.think()
        # Two officers may take the same dossier: the second gets 409, an expected answer.
        if self.transition(dossier, "receive", None) != 200:
            return
        self.think()
        if self.rng.random() < 0.1:
            self.transition(dossier, "supplement", {"reason": "thiếu bản sao giấy tờ tùy thân"})
            return
        outcome = "approved" if self.rng.random() < 0.95 else "rejected"
        if self.transition(dossier, "decision", {"outcome": outcome, "note": ""}) == 200:
            self.think()
            self.transition(dossier, "result", {"channel": "electronic"})  # 409 while the fee is unpaid

    def transition(self, dossier: int, step: str, body: dict | None) -> int:
        response = self.call(
            "POST",
            f"{API}/officer/dossiers/{dossier}/{step}",
            f"POST /api/v1/officer/dossiers/{{id}}/{step}",
            refusals=(409,),
            json=body,
        )
        return response.status_code


class PublicTracker(JourneyRunner):
    """Anyone: public statistics, then a dossier's status by its receipt code."""

    journey = "tracker"

    def walk(self) -> None:
        self.call("GET", f"{API}/statistics", "GET /api/v1/statistics")
        receipts = self.run.receipts
        self.think()
        if receipts:
            self.track(self.rng.choice(receipts[-200:])[0])
        else:  # nothing filed yet: an unknown code is a 404 by design
            self.track(data.random_receipt(self.rng), refusals=(404, 429))


class NationalSync(JourneyRunner):
    """The national portal polls the status-change feed from its cursor."""

    journey = "sync"

    def on_start(self) -> None:
        super().on_start()
        self.cursor = 0

    def walk(self) -> None:
        if not self.signed_in() and not self.login(*data.SYNC):
            return
        for _ in range(5):  # bounded catch-up per poll
            response = self.call(
                "GET",
                f"{API}/sync/status-changes",
                "GET /api/v1/sync/status-changes",
                params={"cursor": self.cursor, "limit": 500},
                refusals=(401,),
            )
            if response.status_code == 401:
                self.token = None
                return
            body = data.json_of(response) or {}
            self.cursor = int(body.get("next_cursor", self.cursor))
            if len(body.get("items") or []) < 500:
                return
