"""A HAR recording made by a real headless Chromium over the DevTools protocol: the citizen logs in through
the second portal's HTML form, then the page's script searches, files, attaches a PDF, submits and
tracks, as a vendor's single-page front end would. Network events become HAR 1.2 entries, as the
developer tools' "Save all as HAR" writes them (static assets included: the draft must drop them).

Chromium comes from the distribution (`apt-get install chromium`); the test is skipped without it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from dvclab.processes import free_port

JOURNEY_JS = """
(async () => {
  const csrf = () => document.querySelector('input[name=csrf_token]').value;
  const found = await (await fetch('/thu-tuc?tu_khoa=X-CT-0002')).json();
  const number = found.ket_qua[0].so;
  await fetch('/thu-tuc/' + number);
  const created = await (await fetch('/ho-so', {method: 'POST',
      body: new URLSearchParams({thu_tuc: number, nhan_ket_qua: 'electronic', csrf_token: csrf()})})).json();
  const dossier = created.ho_so.so;
  const form = new FormData();
  form.append('csrf_token', csrf());
  form.append('tai_lieu', new Blob(['%PDF-1.7\\n1 0 obj << >> endobj\\n%%EOF'], {type: 'application/pdf'}),
              'don.pdf');
  await fetch('/ho-so/' + dossier + '/tep', {method: 'POST', body: form});
  const receipt = await (await fetch('/ho-so/' + dossier + '/nop', {method: 'POST',
      body: new URLSearchParams({csrf_token: csrf()})})).json();
  await fetch('/tra-cuu/' + receipt.bien_nhan);
  return receipt.bien_nhan;
})()
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class DevTools:
    """One page's DevTools connection: commands with their answers, events kept in order."""

    def __init__(self, url: str) -> None:
        import websocket  # websocket-client: a dev dependency, for this test only

        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, timeout_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        seen = len(self.events)
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(method)

    def close(self) -> None:
        self.socket.close()


def _headers(pairs: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": k, "value": str(v)} for k, v in pairs.items()]


def keep_bodies(tools: DevTools, bodies: dict[str, dict[str, Any]]) -> None:
    """Fetch the bodies of the answers so far, before a navigation evicts the page's ones."""
    for event in list(tools.events):
        rid = event.get("params", {}).get("requestId")
        if event.get("method") == "Network.loadingFinished" and rid not in bodies:
            try:
                bodies[rid] = tools.call("Network.getResponseBody", requestId=rid)
            except RuntimeError:
                bodies[rid] = {"body": ""}


def _entries(tools: DevTools, bodies: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    requests: dict[str, dict[str, Any]] = {}
    for event in list(tools.events):
        params, method = event.get("params", {}), event.get("method")
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            requests[rid] = {"request": params["request"], "type": params.get("type", ""), "extra": {}}
        elif method == "Network.requestWillBeSentExtraInfo" and rid in requests:
            requests[rid]["extra"] = params.get("headers", {})  # with the Cookie header the page cannot see
        elif method == "Network.responseReceived" and rid in requests:
            requests[rid]["response"] = params["response"]
        elif method == "Network.responseReceivedExtraInfo" and rid in requests:
            requests[rid]["response_extra"] = params.get("headers", {})  # with Set-Cookie
    entries = []
    for rid, seen in requests.items():
        if "response" not in seen:
            continue
        request, response = seen["request"], seen["response"]
        body = bodies.get(rid, {"body": ""})
        entry: dict[str, Any] = {
            "_resourceType": seen["type"].lower(),
            "request": {
                "method": request["method"],
                "url": request["url"],
                "headers": _headers({**request.get("headers", {}), **seen["extra"]}),
            },
            "response": {
                "status": response["status"],
                "headers": _headers({**response.get("headers", {}), **seen.get("response_extra", {})}),
                "content": {
                    "mimeType": response.get("mimeType", ""),
                    "text": body.get("body", ""),
                    **({"encoding": "base64"} if body.get("base64Encoded") else {}),
                },
            },
        }
        if request.get("hasPostData"):
            try:
                text = tools.call("Network.getRequestPostData", requestId=rid).get("postData", "")
            except RuntimeError:
                text = request.get("postData", "")
            content_type = next(
                (v for k, v in request.get("headers", {}).items() if k.lower() == "content-type"), ""
            )
            entry["request"]["postData"] = {"mimeType": content_type, "text": text}
        entries.append(entry)
    return entries


def record_in_chromium(base: str, out: Path) -> Path:
    """Drive headless Chromium through the citizen's journey on ``base``; write the HAR to ``out``."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    port = free_port()
    profile = tempfile.mkdtemp(prefix="dvclab-chromium-")
    process = subprocess.Popen(  # noqa: S603 - the distribution's browser, on loopback
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        targets: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not targets:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as answer:  # noqa: S310
                    targets = [t for t in json.load(answer) if t.get("type") == "page"]
            except OSError:
                time.sleep(0.3)
        if not targets:
            raise TimeoutError("chromium did not open its DevTools port")
        tools = DevTools(targets[0]["webSocketDebuggerUrl"])
        try:
            tools.call("Network.enable")
            tools.call("Page.enable")
            tools.call("Page.navigate", url=f"{base}/dang-nhap")
            tools.wait_for("Page.loadEventFired")
            bodies: dict[str, dict[str, Any]] = {}
            keep_bodies(tools, bodies)  # the login form's CSRF token, before the form leaves the page
            fill = (
                "document.querySelector('input[name=so_dinh_danh]').value = '036090000042';"
                "document.querySelector('input[name=mat_khau]').value = 'Citizen@2024';"
                "document.querySelector('form').submit();"
            )
            tools.call("Runtime.evaluate", expression=fill)
            tools.wait_for("Page.loadEventFired")
            done = tools.call(
                "Runtime.evaluate", expression=JOURNEY_JS, awaitPromise=True, returnByValue=True
            )
            receipt = done.get("result", {}).get("value")
            if not receipt:
                raise RuntimeError(f"the journey in the browser did not finish: {done}")
            time.sleep(0.3)  # the last response's loadingFinished
            tools.call("Runtime.evaluate", expression="1")  # drain events that arrived meanwhile
            keep_bodies(tools, bodies)
            entries = _entries(tools, bodies)
        finally:
            tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)
    recording = {
        "log": {"version": "1.2", "creator": {"name": "chromium via dvclab tests"}, "entries": entries}
    }
    out.write_text(json.dumps(recording, ensure_ascii=False, indent=1), encoding="utf-8")
    return out
