"""The one request path: a portal map's step, filled from test data and earlier captures, sent through a
Locust ``FastHttpSession`` (a journey runner's, or one of its own for ``dvclab load map check``), judged
(``data.classify``: an expected refusal is a success for Locust, reported apart) and its captures taken.

Templates and capture expressions are compiled once per map (:func:`compiled`), so a step costs a few
dictionary look-ups beyond the request itself; an answer is parsed only when the step captures from it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from dvclab.load import data, store_faults
from dvclab.load.map_templates import (
    Answer,
    MissingValue,
    Template,
    compile_capture,
    compile_template,
    compile_tree,
)
from dvclab.load.portal_map import PortalMap, Step

SKIPPED = "skipped"  # a step whose `when` did not hold, or whose values were missing: nothing sent


class PlainSession:
    """What :class:`StepRunner` needs of a Locust ``FastHttpSession``, over ``requests`` (no Locust, no
    gevent): for reading a portal back after a run, in a process that must not be monkey-patched."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        import requests

        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s
        self.session = requests.Session()
        self.session.trust_env = False  # loopback portals: no proxy from the environment
        self.cookiejar = self.session.cookies

    @contextlib.contextmanager
    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        import requests

        answer = _PlainAnswer()
        try:
            got = self.session.request(
                method,
                self.base_url + url,
                data=kwargs.get("data"),
                headers=kwargs.get("headers"),
                allow_redirects=kwargs.get("allow_redirects", False),
                timeout=self.timeout_s,
            )
            answer.status_code, answer.headers, answer.content = got.status_code, got.headers, got.content
        except requests.RequestException as error:
            answer.error = error
        yield answer


class _PlainAnswer:
    """A response as a step reads it: status (0: no answer), headers, body, and Locust's bookkeeping."""

    def __init__(self) -> None:
        self.status_code = 0
        self.headers: Any = {}
        self.content = b""
        self.error: Exception | None = None
        self.request_meta: dict[str, Any] = {"context": {}}

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def success(self) -> None:
        pass

    def failure(self, _why: str) -> None:
        pass


class NoAnswer:
    """In place of the response of a step that sent nothing (a value it needs was missing): status 0,
    no headers, no body."""

    status_code = 0
    headers: dict[str, str] = {}  # noqa: RUF012 - read only
    content = b""
    text = ""


@dataclass
class Outcome:
    """What one step did: its judged outcome, status, captures, and what was sent (for map check)."""

    step: str
    outcome: str
    status: int = 0
    captured: dict[str, Any] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)
    response: Any = None
    reason: str = ""
    before: list[Outcome] = field(default_factory=list)  # the steps of its `before`, run first

    @property
    def ok(self) -> bool:
        return self.outcome == data.OK


class CompiledStep:
    """A step's templates and captures, compiled."""

    def __init__(self, name: str, step: Step, portal_map: PortalMap) -> None:
        self.name, self.step = name, step
        self.method, self.label = step.method, step.label
        self.path = compile_template(step.path)
        self.headers = [(k, compile_template(v)) for k, v in step.headers.items()]
        self.query: Template | None = compile_tree(step.query) if step.query else None
        self.json: Template | None = compile_tree(step.json_) if step.json_ is not None else None
        self.form: Template | None = compile_tree(step.form) if step.form is not None else None
        self.raw: Template | None = compile_template(step.body) if step.body is not None else None
        self.parts = [
            (
                field_name,
                compile_template(p.filename) if p.filename else None,
                compile_tree(p.content) if p.content is not None else compile_tree(p.value),
                p.type,
            )
            for field_name, p in (step.multipart or {}).items()
        ]
        self.captures = [(k, compile_capture(c)) for k, c in step.capture.items()]
        self.reads_cookies = any(c.cookie for c in step.capture.values())
        self.ok, self.refusals = tuple(step.ok), tuple(step.refusals)
        self.unsafe = step.method != "GET"
        auth = portal_map.auth
        self.bearer = auth.bearer if step.auth and auth.kind == "bearer" else None
        self.csrf = auth.csrf if step.auth and self.unsafe else None
        self.when = dict(step.when)
        self.before = list(step.before)


_COMPILED: dict[int, tuple[PortalMap, dict[str, CompiledStep]]] = {}


def compiled(portal_map: PortalMap) -> dict[str, CompiledStep]:
    """The map's steps, compiled once per map object."""
    entry = _COMPILED.get(id(portal_map))
    if entry is None or entry[0] is not portal_map:
        entry = (portal_map, {n: CompiledStep(n, s, portal_map) for n, s in portal_map.steps.items()})
        _COMPILED[id(portal_map)] = entry
    return entry[1]


def multipart(parts: list[tuple[str, str | None, bytes | str, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body of files and plain fields, and its Content-Type."""
    boundary = "dvclab" + secrets.token_hex(8)
    chunks = []
    for name, filename, content, media_type in parts:
        if filename is None:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        else:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {media_type}\r\n\r\n"
            )
        body = content if isinstance(content, bytes) else str(content).encode()
        chunks.append(head.encode() + body + b"\r\n")
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class StepRunner:
    """Runs a map's steps for one client (a journey runner, or map check), keeping its values: test
    data set by the journey and every capture, the session's token and CSRF token among them."""

    def __init__(self, http: Any, portal_map: PortalMap, values: MutableMapping[str, Any] | None = None):
        self.http = http  # a locust FastHttpSession
        self.map = portal_map
        self.steps = compiled(portal_map)
        self.values: MutableMapping[str, Any] = {} if values is None else values
        self.extra_headers: dict[str, str] = {}  # the journey's client address, say
        self.label_prefix = ""  # "[C02] " for a security check's requests (kept out of the journeys' figures)
        self.expires_at = float("inf")  # when the session runs out (time.monotonic clock)

    def has(self, name: str) -> bool:
        return name in self.steps

    def forget_session(self) -> None:
        """A new login: drop the session's captures and cookies (a new browser)."""
        auth = self.map.auth
        for key in (auth.bearer.capture, auth.csrf.capture if auth.csrf else None, auth.expires_in):
            if key:
                self.values.pop(key, None)
        jar = getattr(self.http, "cookiejar", None)
        if jar is not None:
            jar.clear()
        self.expires_at = float("inf")

    def signed_in(self) -> bool:
        if self.map.auth.kind == "bearer":
            return self.values.get(self.map.auth.bearer.capture) is not None
        return bool(self.values.get("_signed_in"))

    def login(
        self,
        role: str,
        number: int = 0,
        context: dict[str, Any] | None = None,
        expect: tuple[int, ...] | None = None,
    ) -> Outcome:
        """Log in as account ``role`` (citizen ``number``); ``expect``: a check's expected statuses (a
        locked account's 429 is what it wants to see)."""
        account = self.map.accounts[role]  # type: ignore[index]
        self.forget_session()
        self.values["national_id"] = account.id.format(n=number)
        self.values["password"] = account.password
        outcome = self.run("login", context=context, expect=expect)
        if outcome.ok and self.map.auth.kind == "bearer" and not self.signed_in():
            outcome.outcome, outcome.reason = data.ERROR, f"no {self.map.auth.bearer.capture} captured"
        if outcome.ok:
            self.values["_signed_in"] = True
            lifetime = self.values.get(self.map.auth.expires_in) if self.map.auth.expires_in else None
            self.expires_at = data.token_expires_at({"expires_in": lifetime}, time.monotonic())
        return outcome

    def sign_out(self) -> None:
        self.forget_session()
        self.values.pop("_signed_in", None)

    def run(
        self,
        name: str,
        context: dict[str, Any] | None = None,
        also_refused: tuple[int, ...] = (),
        expect: tuple[int, ...] | None = None,
        **values: Any,
    ) -> Outcome:
        """Run step ``name`` (its ``before`` steps first); ``values`` add to the runner's values;
        ``also_refused``: statuses this call expects besides the step's own (an unknown code's 404);
        ``expect``: a security check's own expected statuses instead of the step's (below 400 a success,
        from 400 an expected refusal: a wrong password's 401 is what the check wants to see)."""
        if values:
            self.values.update(values)
        step = self.steps[name]
        before = []
        for earlier in step.before:
            first = self.run(earlier, context=context)
            before.append(first)
            context = None  # the intended start is charged to the journey's first request only
            if not first.ok:
                return Outcome(name, SKIPPED, reason=f"{earlier} did not succeed", before=before)
        for key, allowed in step.when.items():
            if self.values.get(key) not in allowed:
                return Outcome(name, SKIPPED, reason=f"{key} is {self.values.get(key)!r}")
        try:
            request = self._request(step)
        except MissingValue as missing:
            return Outcome(name, SKIPPED, reason=str(missing))
        outcome = self._send(step, request, context, also_refused, expect)
        outcome.before = before
        return outcome

    def _request(self, step: CompiledStep) -> dict[str, Any]:
        values = self.values
        headers = dict(self.extra_headers)
        if step.bearer is not None:
            token = values.get(step.bearer.capture)
            if token is not None:
                headers[step.bearer.header] = f"{step.bearer.prefix}{token}"
        csrf_field = None
        if step.csrf is not None and values.get(step.csrf.capture) is not None:
            if step.csrf.header:
                headers[step.csrf.header] = str(values[step.csrf.capture])
            else:
                csrf_field = (step.csrf.field, str(values[step.csrf.capture]))
        for key, template in step.headers:
            headers[key] = _text(template(values))
        request: dict[str, Any] = {"url": step.path(values), "headers": headers}
        if step.query is not None:
            query = {k: v for k, v in step.query(values).items() if v is not None}
            if query:
                request["url"] += "?" + urlencode(query)
        body: bytes | None = None
        if step.json is not None:
            body = json.dumps(step.json(values)).encode()
            headers.setdefault("Content-Type", "application/json")
        elif step.form is not None:
            fields = {k: _text(v) for k, v in step.form(values).items()}
            if csrf_field:
                fields[csrf_field[0]] = csrf_field[1]
            body = urlencode(fields).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif step.parts:
            parts = [(n, f(values) if f else None, c(values), t) for n, f, c, t in step.parts]
            if csrf_field:
                parts.insert(0, (csrf_field[0], None, csrf_field[1], ""))
            body, headers["Content-Type"] = multipart(parts)
        elif step.raw is not None:
            rendered = step.raw(values)
            body = rendered if isinstance(rendered, bytes) else str(rendered).encode()
        if step.step.sign is not None and body is not None:
            event_id = str(values.get("event_id") or f"evt_{secrets.token_hex(8)}")
            headers.update(data.sign_callback(step.step.sign.secret, event_id, body))
        request["data"] = body
        return request

    def _send(
        self,
        step: CompiledStep,
        request: dict[str, Any],
        context: dict[str, Any] | None,
        also_refused: tuple[int, ...] = (),
        expect: tuple[int, ...] | None = None,
    ) -> Outcome:
        if expect is None:
            ok, refusals = step.ok, step.refusals + also_refused
        else:
            ok, refusals = tuple(s for s in expect if s < 400), tuple(s for s in expect if s >= 400)
        with self.http.request(
            step.method,
            request["url"],
            name=self.label_prefix + step.label,
            data=request["data"],
            headers=request["headers"],
            catch_response=True,
            allow_redirects=step.step.follow_redirects,
            context=context or {},
        ) as response:
            status = response.status_code or 0
            outcome = data.classify(status, ok, refusals)
            if outcome == data.ERROR and status == 503:  # C06 may have cut the limit store off: see why
                start = response.request_meta.get("start_time") or time.time()
                if store_faults.injected_fault(start, time.time()):
                    outcome = data.DURING_STORE_FAULT
            response.request_meta["context"]["outcome"] = outcome
            if outcome == data.ERROR:  # no answer at all: name the error (a reset, a timeout)
                why = data.problem(response) if status else repr(getattr(response, "error", None))[:200]
                response.failure(f"HTTP {status} {why}")
            else:
                response.success()
        result = Outcome(step.name, outcome, status, sent=request, response=response)
        if outcome == data.OK and step.captures:
            answer = Answer(status, data.lower_headers(response), response.content or b"")
            if step.reads_cookies:
                answer.cookies = {c.name: c.value for c in getattr(self.http, "cookiejar", None) or ()}
            for key, extract in step.captures:
                value = extract(answer)
                result.captured[key] = value
                self.values[key] = value
        return result


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
