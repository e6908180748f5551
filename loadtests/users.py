"""Locust users, one class per journey. Each waits for its next scheduled start (the open model), then
walks its journey: a composition of the portal map's steps (``portal_map.py``), sent by the one request
path (``map_steps.StepRunner``). What a journey decides (which procedure, which dossier an officer takes,
whether to rate) is here; how the portal spells each step is the map's. Test data lives in ``data.py``.
"""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, constant, task

from dvclab.load import data, harness
from dvclab.load.map_steps import Outcome, StepRunner
from dvclab.load.portal_map import step_placeholders


class PortalUser(FastHttpUser):
    """What every dvclab user shares: the run, its client address, the map's steps (no task here)."""

    abstract = True
    journey = ""
    wait_time = constant(0)
    concurrency = 4
    network_timeout = 30.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.run = harness.current()
        self.rng = random.Random(self.run.rng.random())
        self.steps = StepRunner(self.client, self.run.portal_map)
        self._intended: float | None = None
        self.run.join(self.journey)

    # --- steps shared by journeys ------------------------------------------------------------------

    def think(self) -> None:
        think = self.run.profile.think_time
        gevent.sleep(self.rng.uniform(think.min, think.max))

    def first_context(self) -> dict[str, Any]:
        """The journey's first request carries its intended start (so a journey the generator could not
        begin on time is charged the wait)."""
        context: dict[str, Any] = {"journey": self.journey}
        if self._intended is not None:
            context["intended"], self._intended = self._intended, None
        return context

    def step(self, name: str, also_refused: tuple[int, ...] = (), **values: Any) -> Outcome:
        return self.steps.run(name, context=self.first_context(), also_refused=also_refused, **values)

    def optional(self, name: str, **values: Any) -> Outcome | None:
        """A step the journey does when the map has it (a portal without public statistics, say)."""
        return self.step(name, **values) if self.steps.has(name) else None

    def login(self, role: str, number: int = 0) -> bool:
        return self.steps.login(role, number, self.first_context()).ok

    def signed_in(self) -> bool:
        """A session that outlasts this journey (its requests and think times, with room to spare)."""
        journey_s = 5.0 + 10 * self.run.profile.think_time.max  # an officer's journey thinks 3 times
        lasts = data.session_lasts(self.steps.expires_at, time.monotonic(), journey_s)
        return self.steps.signed_in() and lasts

    def login_citizen(self) -> bool:
        return self.login("citizen", self.run.next_citizen())

    def begin(self, proc: data.Proc) -> None:
        """A journey's test data for ``proc``; no portal code captured yet."""
        values = self.steps.values
        values.pop("procedure_code", None)
        values["catalog_code"], values["procedure_name"] = proc.code, proc.name

    def file_dossier(self, proc: data.Proc, delivery: str, note: str) -> Any:
        """Create a dossier for ``proc``: the dossier id the portal gave (None when it did not)."""
        values = self.steps.values
        if self.run.portal_map.procedures.lookup == "search" and values.get("procedure_code") is None:
            found = self.step("search", query=data.search_query(proc.name, self.rng))
            if not found.ok or values.get("procedure_code") is None:
                return None
        created = self.step(
            "create",
            procedure_code=self.run.portal_code(proc, self.steps.values),
            delivery=delivery,
            note=note,
            idempotency_key=data.idempotency_key(self.rng),
        )
        return created.captured.get("dossier") if created.ok else None

    def upload(self, filename: str, size: int = 20_000) -> bool:
        if not self.steps.has("upload"):
            return True
        return self.step("upload", filename=filename, document=data.pdf_bytes(size)).ok

    def submit(self, dossier: Any) -> str | None:
        code = self.step("submit").captured.get("receipt")
        if code:
            self.run.note_receipt(str(code), dossier)
        return code


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
            self.steps.extra_headers = {"X-Forwarded-For": data.client_address(self.rng)}
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
        self.begin(proc)  # a search of this journey may capture the portal's code
        if self.optional("search", query=data.search_query(proc.name, self.rng)):
            self.think()
        code = self.run.portal_code(proc, self.steps.values)
        if code is not None and self.optional("detail", procedure_code=code):
            self.think()
        if not self.login_citizen():
            return
        dossier = self.file_dossier(proc, "electronic", "")
        if dossier is None:
            return
        self.think()
        if not self.upload("to-khai.pdf"):
            return
        receipt = self.submit(dossier)
        if receipt is None:
            return
        if proc.fee_vnd > 0 and self.steps.has("pay"):
            self.think()
            self.step("pay")
        if self.steps.has("track"):
            self.think()
            self.step("track")
        if self.steps.has("status"):
            self.think()
            if self.step("status").ok and self.steps.has("rate"):
                self.step("rate", score=self.rng.randint(3, 5), comment="")


class AssistedFiling(JourneyRunner):
    """At the one-stop counter an officer files on a citizen's behalf, scans the paper documents, submits
    and takes the fee. The officer logs in once for a shift, as officers at the counter do (this Locust
    user's lifetime, at most ``SHIFT_S``, and again before the session runs out), then files dossier
    after dossier for the citizens who come: the map's ``create`` names whose dossier it is through
    ``{{ national_id }}``, set to the citizen's. A map whose ``create`` does not name the citizen has no
    way to file on someone's behalf: there the journey logs in with the citizen's own account, as a
    helper at the counter would."""

    journey = "assisted"
    SHIFT_S = 4 * 3600.0  # a counter shift: the officer's login lasts at most this long

    def on_start(self) -> None:
        super().on_start()
        create = self.run.portal_map.steps.get("create")
        self.on_behalf = create is not None and "national_id" in step_placeholders(create)
        self.shift_ends = 0.0

    def on_shift(self) -> bool:
        """The officer's session of the shift: a login when the shift starts or the session would run
        out before this dossier is filed."""
        now = time.monotonic()
        if self.signed_in() and now < self.shift_ends:
            return True
        self.shift_ends = now + self.SHIFT_S
        return self.login("officer")

    def walk(self) -> None:
        proc = self.run.procedures.pick(self.rng)
        self.begin(proc)
        if self.on_behalf:
            if not self.on_shift():
                return
            # Whose dossier it is: the citizen at the counter (the create step reads it).
            self.steps.values["national_id"] = self.run.portal_map.accounts["citizen"].id.format(
                n=self.run.next_citizen()
            )
        elif not self.login_citizen():
            return
        dossier = self.file_dossier(proc, "counter", "filed at the counter on the citizen's behalf")
        if dossier is None:
            return
        for page in ("ban-sao-cccd.pdf", "don-de-nghi.pdf"):
            self.think()
            if not self.upload(page):
                return
        if self.submit(dossier) and proc.fee_vnd > 0 and self.steps.has("pay"):
            self.step("pay")


class Officer(JourneyRunner):
    """A back-office officer: work queue → receive → decide or request a supplement → return the result."""

    journey = "officer"

    def walk(self) -> None:
        if not self.signed_in() and not self.login("officer"):
            return
        queue = self.step("queue")
        if queue.status == 401:  # logged out or revoked server-side: log in again next time
            self.steps.sign_out()
            return
        items = queue.captured.get("queue") or []
        if not items:
            return
        dossier = self.rng.choice(items)
        self.steps.values["dossier"] = dossier
        self.think()
        # Two officers may take the same dossier: the second gets 409, an expected answer.
        if not self.step("receive").ok:
            return
        self.think()
        if self.rng.random() < 0.1 and self.steps.has("supplement"):
            self.step("supplement", reason="thiếu bản sao giấy tờ tùy thân")
            return
        if not self.steps.has("decide"):
            return
        outcome = "approved" if self.rng.random() < 0.95 else "rejected"
        if self.step("decide", outcome=outcome).ok and self.steps.has("return"):
            self.think()
            self.step("return", channel="electronic")  # 409 while the fee is unpaid


class PublicTracker(JourneyRunner):
    """Anyone: public statistics, then a dossier's status by its receipt code."""

    journey = "tracker"

    def walk(self) -> None:
        if self.optional("statistics"):
            self.think()
        receipts = self.run.receipts
        if receipts:
            self.step("track", receipt=self.rng.choice(receipts[-200:])[0])
        else:  # nothing filed yet: an unknown code is a 404 by design
            self.step("track", also_refused=(404,), receipt=data.random_receipt(self.rng))


class NationalSync(JourneyRunner):
    """The national portal polls the status-change feed from its cursor."""

    journey = "sync"

    def on_start(self) -> None:
        super().on_start()
        self.steps.values["cursor"] = 0

    def walk(self) -> None:
        if not self.signed_in() and not self.login("sync"):
            return
        limit = 500
        for _ in range(5):  # bounded catch-up per poll
            feed = self.step("sync", limit=limit)
            if feed.status == 401:
                self.steps.sign_out()
                return
            if not feed.ok:
                return
            cursor = feed.captured.get("next_cursor")
            if cursor is not None:
                self.steps.values["cursor"] = cursor
            if int(feed.captured.get("count") or 0) < limit:
                return
