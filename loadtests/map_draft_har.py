"""``dvclab load map from-har``: a draft map from a browser's HAR recording (see ``map_draft.py``).

Requests to the recording's main host are kept, static assets dropped; every value the portal handed
out (a JSON field, a hidden form input, an ``x-*`` header) that a later request sent back becomes a
capture on the step that answered it and a placeholder where it was sent; the session cookie, a bearer
token, a CSRF field or header, the credentials and a form page fetched for its token are recognised.
One module past 400 lines: these passes work on one list of drafted steps, in order, and read as one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from dvclab.load.map_draft import CAPTURE_NAMES, DraftError, guess_step, slug
from dvclab.load.portal_map import STEPS

STATIC_TYPES = {"stylesheet", "script", "image", "font", "media", "manifest", "texttrack", "ping"}
STATIC_EXTENSIONS = re.compile(
    r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|eot|otf|mp4|webm)$", re.I
)
STATIC_MIME = ("image/", "font/", "text/css", "application/javascript", "text/javascript", "video/", "audio/")
# Request headers a browser adds on its own: never part of a step.
BROWSER_HEADERS = {
    "host", "cookie", "user-agent", "accept", "accept-encoding", "accept-language", "content-length",
    "connection", "origin", "referer", "cache-control", "pragma", "upgrade-insecure-requests", "priority",
    "content-type", "dnt", "te", "if-none-match", "if-modified-since", "x-requested-with",
}  # fmt: skip
PASSWORD_FIELD = re.compile(r"pass|mat_?khau|mat-khau|secret", re.I)
ID_FIELD = re.compile(r"user|login|email|national|cccd|dinh_?danh|tai_?khoan|account|username|so_cmnd", re.I)
CSRF_NAME = re.compile(r"csrf|xsrf|_token|authenticity", re.I)


@dataclass
class Seen:
    """A value the portal handed out: where it came from, as a capture of a step."""

    value: str
    step: int
    capture: dict[str, Any]
    hint: str  # a name for it: the JSON key, the form field, the cookie


@dataclass
class Drafted:
    method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body_kind: str | None = None  # json, form, multipart, body
    body: Any = None
    status: int = 200
    html: bool = False
    name: str | None = None
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    uses: list[tuple[int, str]] = field(default_factory=list)  # (source step, capture name)
    csrf_field: str | None = None
    before: list[str] = field(default_factory=list)


MULTIPART_PART = re.compile(
    r'Content-Disposition: form-data; name="([^"]*)"(?:; filename="([^"]*)")?\r?\n'
    r"(?:Content-Type: ([^\r\n]*)\r?\n)?\r?\n(.*?)\r?\n--",
    re.S | re.I,
)


def _multipart_params(text: str) -> list[dict[str, Any]]:
    """A multipart body's parts as HAR params (a browser's HAR gives only the text for a multipart post)."""
    params = []
    for name, filename, content_type, value in MULTIPART_PART.findall(text):
        if filename:
            params.append(
                {
                    "name": name,
                    "fileName": filename,
                    "contentType": content_type or "application/octet-stream",
                }
            )
        else:
            params.append({"name": name, "value": value})
    return params


def _headers(pairs: list[dict[str, Any]]) -> dict[str, str]:
    return {str(h.get("name", "")): str(h.get("value", "")) for h in pairs or []}


def _browser_header(name: str) -> bool:
    """A header the browser adds by itself (fetch metadata, client hints, HTTP/2 pseudo-headers)."""
    lower = name.lower()
    return lower in BROWSER_HEADERS or lower.startswith(("sec-", ":"))


def _static(entry: dict[str, Any]) -> bool:
    if str(entry.get("_resourceType", "")).lower() in STATIC_TYPES:
        return True
    if STATIC_EXTENSIONS.search(urlsplit(entry["request"]["url"]).path):
        return True
    mime = str(entry.get("response", {}).get("content", {}).get("mimeType", "")).lower()
    return mime.startswith(STATIC_MIME)


def _response_text(entry: dict[str, Any]) -> str:
    content = entry.get("response", {}).get("content", {}) or {}
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        import base64

        try:
            text = base64.b64decode(text).decode("utf-8", "replace")
        except ValueError:
            text = ""
    return str(text)


def _json_leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _json_leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list) and value:
        return _json_leaves(value[0], f"{path}[0]")
    return [(path, value)]


def _handed_out(index: int, entry: dict[str, Any]) -> list[Seen]:
    """Values in an answer that a later request might send back."""
    seen: list[Seen] = []
    response = entry.get("response", {})
    text = _response_text(entry)
    mime = str(response.get("content", {}).get("mimeType", "")).lower()
    if "json" in mime or text[:1] in "{[":
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        for path, value in _json_leaves(body) if body is not None else []:
            if isinstance(value, bool) or value is None or isinstance(value, float):
                continue
            key = re.split(r"[.\[]", path.replace("[0]", ""))[-1] or "value"
            seen.append(Seen(str(value), index, {"json": path}, key))
    if "html" in mime or text.lstrip()[:1] == "<":
        from bs4 import BeautifulSoup

        for hidden in BeautifulSoup(text, "html.parser").select("input[type=hidden][name]"):
            value = hidden.get("value")
            if value:
                name = str(hidden["name"])
                seen.append(Seen(str(value), index, {"css": f"input[name={name}]", "attr": "value"}, name))
    for name, value in _headers(response.get("headers", [])).items():
        lower = name.lower()
        if lower == "set-cookie":
            cookie, _, rest = value.partition("=")
            seen.append(Seen(rest.split(";")[0], index, {"cookie": cookie.strip()}, cookie.strip()))
        elif lower.startswith("x-") or "token" in lower:
            seen.append(Seen(value, index, {"header": name}, lower.removeprefix("x-")))
    return [s for s in seen if len(s.value) >= 1]


def _worth_matching(value: str) -> bool:
    """Long enough not to match by chance; a number only as a whole path segment or field."""
    return len(value) >= 6 or value.isdigit()


def from_har(path: Path, name: str = "drafted") -> str:
    try:
        recording = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = recording["log"]["entries"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DraftError(f"{path}: not a HAR recording ({type(error).__name__}: {error})") from None
    kept = [e for e in entries if isinstance(e, dict) and "request" in e and not _static(e)]
    dropped_static = len(entries) - len(kept)
    if not kept:
        raise DraftError(f"{path}: no request left once static assets are dropped")
    origins = [
        f"{urlsplit(e['request']['url']).scheme}://{urlsplit(e['request']['url']).netloc}" for e in kept
    ]
    base = max(set(origins), key=origins.count)
    third_party = sum(o != base for o in origins)
    kept = [e for e, o in zip(kept, origins, strict=True) if o == base]

    drafted: list[Drafted] = []
    handed: list[Seen] = []
    cookies_sent: set[str] = set()
    notes: list[str] = []
    for entry in kept:
        request = entry["request"]
        url = urlsplit(request["url"])
        headers = _headers(request.get("headers", []))
        cookies_sent |= {
            c.split("=")[0].strip()
            for c in headers.get("Cookie", headers.get("cookie", "")).split(";")
            if "=" in c
        }
        step = Drafted(
            method=str(request.get("method", "GET")).upper(),
            path=url.path or "/",
            query={k: v for k, v in parse_qsl(url.query, keep_blank_values=True)},
            headers={k: v for k, v in headers.items() if not _browser_header(k)},
            status=int(entry.get("response", {}).get("status") or 200),
        )
        mime_out = str(entry.get("response", {}).get("content", {}).get("mimeType", "")).lower()
        step.html = "html" in mime_out
        post = request.get("postData") or {}
        mime = str(post.get("mimeType", "")).lower()
        if mime.startswith("multipart/"):
            step.body_kind, step.body = "multipart", {}
            for param in post.get("params") or _multipart_params(str(post.get("text", ""))):
                if param.get("fileName"):
                    step.body[param["name"]] = {
                        "filename": "{{ filename }}",
                        "content": "{{ document }}",
                        "type": param.get("contentType") or "application/octet-stream",
                    }
                else:
                    step.body[param["name"]] = {"value": param.get("value", "")}
        elif "x-www-form-urlencoded" in mime:
            pairs = post.get("params") or [
                {"name": k, "value": v} for k, v in parse_qsl(post.get("text", ""))
            ]
            step.body_kind, step.body = "form", {p["name"]: p.get("value", "") for p in pairs}
        elif "json" in mime:
            try:
                step.body_kind, step.body = "json", json.loads(post.get("text") or "null")
            except ValueError:
                step.body_kind, step.body = "body", post.get("text", "")
        elif post.get("text"):
            step.body_kind, step.body = "body", post["text"]
        index = len(drafted)
        _send_back(step, handed, drafted)
        drafted.append(step)
        handed.extend(_handed_out(index, entry))

    _credentials(drafted)
    auth = _auth(drafted, cookies_sent, handed)
    _name_steps(drafted)
    steps: dict[str, Any] = {}
    for i, step in enumerate(drafted):
        entry_map: dict[str, Any] = {"method": step.method, "path": step.path}
        if step.before:
            entry_map["before"] = step.before
        if step.headers:
            entry_map["headers"] = step.headers
        if step.query:
            entry_map["query"] = step.query
        if step.body_kind and (step.body or step.body_kind == "form"):
            entry_map[step.body_kind] = step.body
        if step.status != 200:
            entry_map["ok"] = [step.status]
        if 300 <= step.status < 400:
            notes.append(
                f"steps.{step.name}: answered {step.status} (a redirect): not followed, its captures see it"
            )
        if step.captures:
            entry_map["capture"] = step.captures
        steps[step.name or f"step_{i}"] = entry_map
    draft = {"name": slug(name).replace("_", "-"), "base_url": base, "auth": auth, "steps": steps}
    header = [
        f"# Drafted by `dvclab load map from-har {Path(path).name}`: {len(kept)} requests kept as steps,",
        f"# {dropped_static} static assets dropped, {third_party} requests to other hosts dropped.",
        "# Edit before a load run, then try it with `dvclab load map check MAP --host URL`:",
        "#  - rename steps_N_… to journey steps (" + ", ".join(STEPS) + ")",
        "#    or list them in a step's `before`; steps a journey does not need can go;",
        "#  - put test data where the recording has literal values: {{ catalog_code }} or {{ query }} in",
        "#    the search, {{ procedure_code }} where a procedure is chosen, {{ delivery }}, {{ note }},",
        "#    {{ score }}, {{ outcome }}, {{ reason }}, {{ channel }}, {{ cursor }} and {{ limit }};",
        "#  - journeys read these captures: create → dossier, submit → receipt, status → status,",
        "#    queue → queue (the ids), sync → next_cursor and count; add `refusals` (409, 429) where",
        "#    the portal refuses on purpose.",
        *[f"#  - {note}" for note in notes],
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(draft, sort_keys=False, allow_unicode=True, width=110)


def _capture_name(seen: Seen) -> str:
    if CSRF_NAME.search(seen.hint):
        return "csrf"
    name = slug(seen.hint)
    return "session" if "cookie" in seen.capture else name


def _send_back(step: Drafted, handed: list[Seen], drafted: list[Drafted]) -> None:
    """Replace values the portal handed out earlier with placeholders; capture them at their source."""

    def find(value: str) -> Seen | None:
        if not _worth_matching(value):
            return None
        candidates = [s for s in reversed(handed) if s.value == value and "cookie" not in s.capture]
        # A value several answers carry (a small number): the source already sent back wins, as the
        # dossier id beats the upload's file count of 1.
        used = [s for s in candidates if s.capture in drafted[s.step].captures.values()]
        return (used or candidates or [None])[0]

    def placeholder(seen: Seen) -> str:
        source = drafted[seen.step]
        seen_name = next((n for n, c in source.captures.items() if c == seen.capture), None)
        if seen_name is None:
            # Unique over the draft (two `so` ids from two steps are two values), except the CSRF token,
            # one value that several pages hand out in turn.
            name = _capture_name(seen)
            taken = {n for d in drafted for n in d.captures} - {"csrf"}
            seen_name, n = name, 2
            while seen_name in taken:
                seen_name, n = f"{name}_{n}", n + 1
            source.captures[seen_name] = dict(seen.capture)
        step.uses.append((seen.step, seen_name))
        return "{{ " + seen_name + " }}"

    segments = step.path.split("/")
    for i, segment in enumerate(segments):
        seen = find(segment)
        if seen is not None:
            segments[i] = placeholder(seen)
    step.path = "/".join(segments)
    for key, value in list(step.query.items()):
        seen = find(str(value))
        if seen is not None:
            step.query[key] = placeholder(seen)
    for key, value in list(step.headers.items()):
        bearer = value[7:] if value.lower().startswith("bearer ") else None
        seen = find(bearer or value)
        if seen is not None:
            step.headers[key] = ("Bearer " if bearer else "") + placeholder(seen)
    if step.body_kind in ("form", "json") and isinstance(step.body, dict):
        for key, value in list(step.body.items()):
            seen = find(str(value)) if isinstance(value, str | int) and not isinstance(value, bool) else None
            if seen is not None:
                text = placeholder(seen)
                if CSRF_NAME.search(key) and "css" in seen.capture:
                    step.csrf_field = key
                step.body[key] = text
    if step.body_kind == "multipart":
        for key, part in list(step.body.items()):
            seen = find(str(part.get("value", ""))) if "value" in part else None
            if seen is not None:
                if CSRF_NAME.search(key):
                    step.csrf_field = key
                part["value"] = placeholder(seen)


def _credentials(drafted: list[Drafted]) -> None:
    for step in drafted:
        body = step.body if step.body_kind in ("form", "json") and isinstance(step.body, dict) else {}
        if any(PASSWORD_FIELD.search(k) for k in body):
            for key in step.body:
                if PASSWORD_FIELD.search(key):
                    step.body[key] = "{{ password }}"
                elif ID_FIELD.search(key):
                    step.body[key] = "{{ national_id }}"
            step.name = "login"


def _auth(drafted: list[Drafted], cookies_sent: set[str], handed: list[Seen]) -> dict[str, Any]:
    auth: dict[str, Any] = {"kind": "none"}
    for step in drafted:
        for key, value in list(step.headers.items()):
            match = re.fullmatch(r"Bearer {{ (\w+) }}", value)
            if key.lower() == "authorization" and match:
                auth = {"kind": "bearer", "bearer": {"capture": match.group(1)}}
                del step.headers[key]
            elif CSRF_NAME.search(key) and re.fullmatch(r"{{ (\w+) }}", value):
                auth["csrf"] = {"capture": value[3:-3], "header": key}
                del step.headers[key]
    session = [s.hint for s in handed if "cookie" in s.capture and s.hint in cookies_sent]
    if auth["kind"] == "none" and session:
        auth = {"kind": "cookie", "session_cookie": session[-1]}
    fields = [s for s in drafted if s.csrf_field]
    if fields:
        field_name = fields[0].csrf_field
        auth["csrf"] = {"capture": "csrf", "field": field_name}
        for step in fields:
            target = step.body if step.body_kind == "form" else None
            if target is not None:
                target.pop(step.csrf_field, None)
            elif step.body_kind == "multipart":
                step.body.pop(step.csrf_field, None)
    return auth


def _name_steps(drafted: list[Drafted]) -> None:
    taken = {s.name for s in drafted if s.name}
    for i, step in enumerate(drafted):
        if step.name:
            continue
        guess = guess_step(step.method, step.path, "", taken) or _by_shape(drafted, i)
        if guess in taken:
            guess = None
        if guess:
            taken.add(guess)
        step.name = guess or f"step_{i}_{slug(step.method + step.path)}"
    # A page fetched for the CSRF token a form post sends: that post's `before`.
    for i, step in enumerate(drafted):
        for source, capture in step.uses:
            page = drafted[source]
            if capture == "csrf" and page.method == "GET" and page.html and source == i - 1:
                if page.name and not page.name.startswith("step_"):
                    continue
                page.name = f"{step.name}_form"
                step.before = [page.name]
    # Captures the journeys read by name.
    for step in drafted:
        wanted = CAPTURE_NAMES.get(step.name or "")
        if wanted and wanted not in step.captures and len(step.captures) == 1:
            _rename(drafted, step, next(iter(step.captures)), wanted)


def _by_shape(drafted: list[Drafted], i: int) -> str | None:
    """Steps no keyword names, by what they do: a query whose answer names what a later post files
    (search), the page of that (detail), a post whose answer names later paths (create)."""
    step = drafted[i]
    used_later = _uses_of(drafted, i)
    if step.method == "GET" and step.query and "{{" not in step.path and used_later:
        return "search"
    sources = {src for src, _ in step.uses}
    if step.method == "GET" and any(drafted[src].name == "search" for src in sources):
        return "detail"
    if (
        step.method == "POST"
        and "{{" not in step.path
        and any("{{ " + name + " }}" in drafted[j].path for j, name in used_later)
    ):
        return "create"
    if step.body_kind == "multipart":
        return "upload"
    return None


def _rename(drafted: list[Drafted], source: Drafted, old: str, new: str) -> None:
    """Rename the capture ``old`` of ``source`` to ``new``, wherever later steps send it."""
    source.captures = {(new if k == old else k): v for k, v in source.captures.items()}
    before, after = "{{ " + old + " }}", "{{ " + new + " }}"

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(before, after)
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    for step in drafted:
        step.path, step.query, step.headers = swap(step.path), swap(step.query), swap(step.headers)
        step.body = swap(step.body)
        step.uses = [
            (src, new if (name == old and drafted[src] is source) else name) for src, name in step.uses
        ]


def _uses_of(drafted: list[Drafted], source: int) -> list[tuple[int, str]]:
    return [(i, name) for i, s in enumerate(drafted) for src, name in s.uses if src == source]
