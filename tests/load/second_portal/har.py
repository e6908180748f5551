"""A HAR recording of a citizen's journey on the second portal, made by an HTTP client that writes what
a browser's developer tools would (HAR 1.2: requests with headers and post data, responses with their
content), plus the page's static assets and a third-party script, which a draft must drop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx


def _entry(response: httpx.Response, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    request = response.request
    body = request.read().decode("utf-8", "replace")
    entry: dict[str, Any] = {
        "startedDateTime": "2026-12-02T06:00:00.000Z",
        "time": 5,
        "request": {
            "method": request.method,
            "url": str(request.url),
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in request.headers.items()],
            "queryString": [{"name": k, "value": v} for k, v in request.url.params.items()],
        },
        "response": {
            "status": response.status_code,
            "headers": [{"name": k, "value": v} for k, v in response.headers.multi_items()],
            "content": {"mimeType": response.headers.get("content-type", ""), "text": response.text},
        },
    }
    if request.method != "GET":
        post = {"mimeType": request.headers.get("content-type", ""), "text": body}
        if params is not None:
            post["params"] = params
        entry["request"]["postData"] = post
    return entry


def _asset(url: str, mime: str, kind: str) -> dict[str, Any]:
    return {
        "_resourceType": kind,
        "request": {"method": "GET", "url": url, "headers": []},
        "response": {"status": 200, "headers": [], "content": {"mimeType": mime, "text": ""}},
    }


def record_citizen_journey(base: str, out: Path) -> Path:
    """Log in, find a procedure, file, attach, submit, track: each request recorded."""
    entries: list[dict[str, Any]] = []
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        page = client.get("/dang-nhap")
        entries += [_entry(page), _asset(f"{base}/static/site.css", "text/css", "stylesheet")]
        entries.append(_asset("https://cdn.example.net/analytics.js", "application/javascript", "script"))
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        login = client.post(
            "/dang-nhap",
            data={"so_dinh_danh": "036090000042", "mat_khau": "Citizen@2024", "csrf_token": csrf},
        )
        entries.append(_entry(login))
        csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        found = client.get("/thu-tuc", params={"tu_khoa": "X-CT-0002"})
        entries.append(_entry(found))
        number = found.json()["ket_qua"][0]["so"]
        entries.append(_entry(client.get(f"/thu-tuc/{number}")))
        created = client.post(
            "/ho-so", data={"thu_tuc": str(number), "nhan_ket_qua": "electronic", "csrf_token": csrf}
        )
        entries.append(_entry(created))
        dossier = created.json()["ho_so"]["so"]
        pdf = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF"
        upload = client.post(
            f"/ho-so/{dossier}/tep",
            data={"csrf_token": csrf},
            files={"tai_lieu": ("don.pdf", pdf, "application/pdf")},
        )
        params = [
            {"name": "csrf_token", "value": csrf},
            {"name": "tai_lieu", "fileName": "don.pdf", "contentType": "application/pdf"},
        ]
        entries.append(_entry(upload, params))
        submitted = client.post(f"/ho-so/{dossier}/nop", data={"csrf_token": csrf})
        entries.append(_entry(submitted))
        entries.append(_entry(client.get(f"/tra-cuu/{submitted.json()['bien_nhan']}")))
    recording = {
        "log": {"version": "1.2", "creator": {"name": "dvclab tests", "version": "1"}, "entries": entries}
    }
    out.write_text(json.dumps(recording, ensure_ascii=False, indent=1), encoding="utf-8")
    return out
