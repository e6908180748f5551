"""The requests a security check's probe sends, through the attacker's Locust HTTP client: its own client
address per check, gated bursts, and the portal map's steps (``map_steps.StepRunner``), each identity a
browser of its own (its cookie jar, its CSRF token). The checks not yet bound to the map (payments, phone
verification, pagination) still send the reference portal's API requests below.

Only the locustfile's ``Attacker`` builds one; the checks (``*_checks.py``) receive it, so they import
neither Locust nor gevent. Requests are named ``[C02] POST /api/v1/auth/login``: the harness keeps them
out of the citizens' endpoint table. A check's expected answers (refusals included) are not failures.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import gevent
import gevent.pool
from gevent.event import Event

from dvclab.load import check_needs, data
from dvclab.load.data import API
from dvclab.load.healthz_watch import HealthzWatch
from dvclab.load.map_steps import NoAnswer, Outcome, StepRunner

if TYPE_CHECKING:
    from dvclab.load.harness import Run


class ProbeClient:
    """What the probes share during one run: the HTTP client, the run, a seeded RNG, each check's client
    address, and the 429s seen so far (their shape is a check of its own, C08)."""

    def __init__(self, http: Any, run: Run) -> None:
        self.http = http  # the Attacker's FastHttpSession
        self.run = run
        self.rng = random.Random(run.profile.seed * 7919)
        self.addresses: dict[str, str] = {}
        self.shapes_of_429: list[dict[str, Any]] = []

    # --- pacing and concurrency ----------------------------------------------------------------------

    @staticmethod
    def sleep(seconds: float) -> None:
        gevent.sleep(seconds)

    @staticmethod
    def burst(n: int, fn: Callable[[int], Any], settle_s: float = 0.05) -> list[Any]:
        """Release ``n`` calls together on a gate (WSTG-BUSL-11's race technique); their results in order.
        ``settle_s``: the wait for every greenlet to reach the gate (0 suffices for a few)."""
        gate = Event()

        def one(i: int) -> Any:
            gate.wait()
            return fn(i)

        greenlets = [gevent.spawn(one, i) for i in range(n)]
        gevent.sleep(settle_s)
        gate.set()
        gevent.joinall(greenlets, timeout=60)
        return [g.value for g in greenlets]

    @staticmethod
    def poll_during(
        request: Callable[[], Any],
        action: Callable[[], float | None],
        parallel: int,
        pace_s: float,
        after_s: float,
    ) -> tuple[list[tuple[float, int]], float | None]:
        """``parallel`` loops sending ``request`` every ``pace_s`` while ``action`` runs, and ``after_s``
        beyond it: ((monotonic send time, status) of each request, what ``action`` returned)."""
        samples: list[tuple[float, int]] = []
        done = Event()

        def loop() -> None:
            while not done.is_set():
                sent = time.monotonic()
                response = request()
                samples.append((sent, response.status_code or 0))
                gevent.sleep(pace_s)

        greenlets = [gevent.spawn(loop) for _ in range(parallel)]
        gevent.sleep(max(0.5, 4 * pace_s))  # the token is seen working on the workers first
        outcome = action()
        gevent.sleep(after_s)
        done.set()
        gevent.joinall(greenlets, timeout=30)
        return sorted(samples), outcome

    @staticmethod
    def sample_every(period_s: float, sample: Callable[[], Any]) -> Callable[[], list[Any]]:
        """Call ``sample`` every ``period_s`` in the background until the returned stop() is called;
        stop() gives what it returned each time."""
        seen: list[Any] = []
        done = Event()

        def loop() -> None:
            while not done.is_set():
                seen.append(sample())
                gevent.sleep(period_s)

        greenlet = gevent.spawn(loop)

        def stop() -> list[Any]:
            done.set()
            greenlet.join(timeout=10)
            return seen

        return stop

    @staticmethod
    def arrivals(rate: float, call: Callable[[], Any], most: int = 64) -> Callable[[], list[Any]]:
        """Start ``call`` ``rate`` times a second, each in its own greenlet (at most ``most`` in flight:
        beyond, an arrival is skipped), until the returned stop(); stop() gives what each returned."""
        results: list[Any] = []
        done = Event()
        group = gevent.pool.Pool(most)

        def one() -> None:
            results.append(call())

        def schedule() -> None:
            start, k = time.monotonic(), 0
            while not done.is_set():
                k += 1
                gevent.sleep(max(0.0, start + k / rate - time.monotonic()))
                if not group.full():
                    group.spawn(one)

        scheduler = gevent.spawn(schedule)

        def stop() -> list[Any]:
            done.set()
            scheduler.join(timeout=5)
            group.join(timeout=60)
            return results

        return stop

    # --- the portal map's steps ------------------------------------------------------------------------

    def session(self) -> Any:
        """A new HTTP session on the attacker's request event: its own connections and cookie jar."""
        from locust.contrib.fasthttp import FastHttpSession

        return FastHttpSession(self.http.base_url, self.http.request_event, self.http.user)

    def browser(self, check: str, key: str | None = None, close: bool = False) -> StepRunner:
        """The map's steps for one identity of ``check``: a new browser (its own cookies, CSRF token and
        connections), from the client address of ``key`` (default: the check's), named ``[Cxx] …``."""
        steps = StepRunner(self.session(), self.run.portal_map, {})
        steps.label_prefix = f"[{check}] "
        steps.extra_headers = {**self.address(key or check)}
        if close:
            steps.extra_headers["Connection"] = "close"
        return steps

    def twin(self, steps: StepRunner, close: bool = False) -> StepRunner:
        """Another browser presenting ``steps``' session: its values (token, CSRF token, dossier), and its
        cookies sent as a header (a copy: a logout clearing the original's jar does not clear it), on
        connections of its own (a gated burst of one identity's requests, a watcher of an old token)."""
        twin = StepRunner(self.session(), self.run.portal_map, dict(steps.values))
        twin.label_prefix, twin.extra_headers = steps.label_prefix, dict(steps.extra_headers)
        cookies = self.cookies(steps)
        if cookies:
            twin.extra_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if close:
            twin.extra_headers["Connection"] = "close"
        return twin

    @staticmethod
    def cookies(steps: StepRunner) -> dict[str, str]:
        return {c.name: c.value for c in getattr(steps.http, "cookiejar", None) or ()}

    def credential(self, steps: StepRunner) -> str | None:
        """What authenticates ``steps``' session: its bearer token, or its session cookie(s)."""
        auth = self.run.portal_map.auth
        if auth.kind == "bearer":
            token = steps.values.get(auth.bearer.capture)
            return str(token) if token is not None else None
        cookies = self.cookies(steps)
        if auth.session_cookie:
            return cookies.get(auth.session_cookie)
        return "; ".join(f"{k}={v}" for k, v in sorted(cookies.items())) or None

    def identity(self, number: int) -> str:
        """Citizen ``number``'s identity number as the map's accounts spell it."""
        return self.run.portal_map.accounts["citizen"].id.format(n=number)

    def password(self) -> str:
        return self.run.portal_map.accounts["citizen"].password

    def attempt(
        self,
        check: str,
        identity: str,
        password: str,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200, 401, 429, 503),
        key: str | None = None,
    ) -> Outcome:
        """One login through the map's login step (and its form page first, for a CSRF token), in a new
        browser: any identity, any password, from the given client address."""
        steps = self.browser(check, key)
        if headers is not None:
            steps.extra_headers = dict(headers)
        return steps.run("login", expect=expect, national_id=identity, password=password)

    def signed_in(self, check: str, number: int, key: str | None = None) -> StepRunner | None:
        """Citizen ``number`` logged in through the map, in a browser of its own (None: refused; a
        refusal is what a check may expect, a locked account's 429, never a failure of the run)."""
        steps = self.browser(check, key)
        outcome = steps.login("citizen", number, expect=(200, 401, 403, 429, 503))
        return steps if outcome.ok and steps.signed_in() else None

    def procedure_code(self, steps: StepRunner) -> str | None:
        """The portal's code of a fee-bearing procedure for ``steps``' session: from the map's table, or
        captured by its catalog search when the map finds codes so (searched once per session)."""
        proc = self.run.procedures.with_fee()
        values = steps.values
        values["catalog_code"], values["procedure_name"] = proc.code, proc.name
        if self.run.portal_map.procedures.lookup == "search" and values.get("procedure_code") is None:
            steps.run("search", query=proc.code)
        return self.run.portal_code(proc, values)

    def draft(self, steps: StepRunner, expect: tuple[int, ...] = (200, 201)) -> Outcome:
        """A new dossier through the map's create step."""
        return steps.run(
            "create",
            expect=expect,
            procedure_code=self.procedure_code(steps),
            delivery="electronic",
            note="",
            idempotency_key=data.idempotency_key(self.rng),
        )

    def limit(self, name: str) -> Any:
        """A limit no portal announces (T, upload bounds): the profile's for the reference portal, else
        the map's; :class:`check_needs.MissingLimit` names the field to declare."""
        return check_needs.value_limit(self.run.portal_map, self.run.profile, name)

    def rate(
        self, step: str, responses: list[Any], policy: str | None = None, quota: str | None = None
    ) -> check_needs.RateFound:
        """A step's rate limit (or flow ``quota``): announced on ``responses``, else the map's
        (:class:`check_needs.MissingLimit` otherwise)."""
        return check_needs.rate_limit(self.run.portal_map, step, responses, policy, quota)

    # --- requests ------------------------------------------------------------------------------------

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
        with self.http.request(
            method, path, name=f"[{check}] {name}", headers=sent, catch_response=True, **kwargs
        ) as response:
            status = response.status_code or 0
            outcome = data.REFUSED if status in expect and status >= 400 else data.OK
            if status not in expect:
                outcome = data.ERROR
            response.request_meta["context"]["outcome"] = outcome
            if outcome == data.ERROR:
                why = data.problem(response) if status else repr(getattr(response, "error", None))[:200]
                response.failure(f"[{check}] unexpected HTTP {status} {why}")
            else:
                response.success()
        return response

    def watch_healthz(self, period_s: float) -> HealthzWatch:
        """The map's health path timed every ``period_s`` from a process of its own until its stop():
        timed from a greenlet here, it measured the attack's own greenlets too."""
        base = str(getattr(self.http, "base_url", "") or "").rstrip("/")
        return HealthzWatch(base + self.run.portal_map.health, period_s)

    # --- the portal's processes, when they run on this machine (C22's memory bound) -------------------

    def portal_processes(self) -> list[Any]:
        """The processes listening on the portal's loopback port (a uvicorn parent and its workers),
        as psutil processes; [] when the portal is not on this machine or cannot be seen."""
        import psutil

        target = urlsplit(str(getattr(self.http, "base_url", "") or ""))
        if target.hostname not in ("127.0.0.1", "localhost", "::1") or not target.port:
            return []
        found = []
        for process in psutil.process_iter(["pid"]):
            try:
                listening = any(
                    c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == target.port
                    for c in process.net_connections(kind="tcp")
                )
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            if listening:
                found.append(process)
        return found

    @staticmethod
    def rss_mib(processes: list[Any]) -> dict[int, float]:
        """Resident memory of each process (MiB), by pid; a process that has gone is left out."""
        import psutil

        rss: dict[int, float] = {}
        for process in processes:
            try:
                rss[process.pid] = process.memory_info().rss / 2**20
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return rss

    def track(self, check: str, headers: dict[str, str]) -> Any:
        """Anonymous tracking (the map's track step) of a random (unknown) receipt code: 404, or 429
        past the limit. The response (``status_code`` 0 when nothing was sent)."""
        steps = StepRunner(self.http, self.run.portal_map, {})
        steps.label_prefix, steps.extra_headers = f"[{check}] ", dict(headers)
        outcome = steps.run("track", expect=(404, 429), receipt=data.random_receipt(self.rng))
        return outcome.response if outcome.response is not None else NoAnswer()

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

    def filed(self, check: str, number: int, proc: data.Proc | None = None) -> tuple[str, int] | None:
        """A fee-bearing dossier with a document, submitted, not yet paid: (token, dossier)."""
        token = self.login_as(check, number)
        dossier = self.new_dossier(check, token, proc) if token else None
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
        return token, dossier

    def pay(self, check: str, token: str, dossier: int, headers: dict[str, str] | None = None) -> Any:
        """Open (or get back) the dossier's payment intent."""
        return self.send(
            check,
            "POST",
            f"{API}/dossiers/{dossier}/payment",
            "POST /api/v1/dossiers/{id}/payment",
            (200, 201),
            headers={**self.address(check), **(headers or {})},
            token=token,
        )

    def filed_and_paid(self, check: str, number: int) -> tuple[str, int, dict[str, Any]] | None:
        """A fee-bearing dossier, submitted, with a payment intent: (token, dossier, payment)."""
        filed = self.filed(check, number)
        if filed is None:
            return None
        token, dossier = filed
        payment = data.json_of(self.pay(check, token, dossier))
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
