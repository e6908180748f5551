"""``dvclab load map from-openapi``: a draft map from a portal's OpenAPI spec (see ``map_draft.py``):
operations that look like journey steps, their parameters and body fields mapped to the test data, and
the captures the journeys read taken from the success answers' schemas.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dvclab.load.map_draft import DraftError, guess_step, slug
from dvclab.load.portal_map import MapError, parse_map

# Path and query parameters, body fields and response fields, by the name of the test data or capture.
PARAMETERS = {
    "code": "procedure_code", "procedure_code": "procedure_code", "dossier_id": "dossier", "id": "dossier",
    "receipt_code": "receipt", "q": "query", "cursor": "cursor", "limit": "limit",
}  # fmt: skip
BODY_FIELDS = {
    "national_id": "national_id", "username": "national_id", "password": "password",
    "procedure_code": "procedure_code", "delivery": "delivery", "note": "note", "score": "score",
    "comment": "comment", "outcome": "outcome", "reason": "reason", "channel": "channel",
}  # fmt: skip
RESPONSE_CAPTURES = {
    "login": {"access_token": ("token", "access_token"), "expires_in": ("expires_in", "expires_in")},
    "create": {"id": ("dossier", "id")},
    "submit": {"receipt_code": ("receipt", "receipt_code")},
    "status": {"status": ("status", "status")},
    "queue": {"items": ("queue", "items[].id")},
    "sync": {"next_cursor": ("next_cursor", "next_cursor"), "items": ("count", "length(items)")},
    "pay": {"gateway_ref": ("payment_ref", "gateway_ref"), "amount_vnd": ("amount", "amount_vnd")},
}


def _load_spec(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        from dvclab.load.runner import is_loopback
        from dvclab.processes import open_loopback

        if not is_loopback(source):
            raise DraftError(f"{source}: only a loopback URL is fetched; save the spec to a file otherwise")
        try:
            with open_loopback(source, 10.0) as response:
                text = response.read().decode("utf-8")
        except OSError as error:
            raise DraftError(f"{source}: cannot fetch the spec: {error}") from None
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise DraftError(f"{source}: cannot read the spec: {error}") from None
    try:
        spec = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as error:
        raise DraftError(f"{source}: not JSON or YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise DraftError(f"{source}: not an OpenAPI spec (no `paths`)")
    return spec


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node


def _properties(spec: dict[str, Any], schema: Any) -> dict[str, Any]:
    schema = _resolve(spec, schema)
    props: dict[str, Any] = {}
    for part in (schema.get("allOf") or []) if isinstance(schema, dict) else []:
        props |= _properties(spec, part)
    return props | (schema.get("properties", {}) if isinstance(schema, dict) else {})


def from_openapi(source: str, name: str = "drafted") -> str:
    spec = _load_spec(source)
    operations = []
    for path, item in spec["paths"].items():
        for method, op in (item or {}).items():
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE") and isinstance(op, dict):
                operations.append((method.upper(), str(path), op))
    taken: set[str] = set()
    steps: dict[str, Any] = {}
    left: list[str] = []
    named = []
    for method, path, op in operations:
        summary = f"{op.get('summary', '')} {op.get('operationId', '')}"
        step = guess_step(method, path, summary, taken)
        params = [p for p in (op.get("parameters") or []) if isinstance(p, dict)]
        has_path_param = "{" in path
        if (
            step is None
            and method == "POST"
            and not has_path_param
            and re.search(r"dossier|ho-so|application", path)
        ):
            step = "create" if "create" not in taken else None
        if step is None and method == "GET" and re.search(r"procedure|thu-tuc|catalog|service", path):
            step = "detail" if has_path_param else "search"
            step = None if step in taken else step
        if step is None and method == "GET" and has_path_param and re.search(r"dossier|ho-so", path):
            step = "status" if "status" not in taken else None
        if step is None:
            left.append(f"{method} {path}  {op.get('summary', '')}".rstrip())
            continue
        taken.add(step)
        named.append((step, method, path, op, params))
    for step, method, path, op, params in named:
        drafted: dict[str, Any] = {"method": method}
        drafted["path"] = re.sub(
            r"{(\w+)}", lambda m: "{{ " + PARAMETERS.get(m.group(1), m.group(1)) + " }}", path
        )
        query = {}
        for param in (_resolve(spec, p) for p in params):
            if param.get("in") == "query" and (param.get("required") or param.get("name") in PARAMETERS):
                query[param["name"]] = "{{ " + PARAMETERS.get(param["name"], param["name"]) + " }}"
            if (
                param.get("in") == "header"
                and param.get("required")
                and not param["name"].lower().startswith("webhook-")
            ):
                drafted.setdefault("headers", {})[param["name"]] = "{{ " + slug(param["name"]) + " }}"
        if query:
            drafted["query"] = query
        content = ((_resolve(spec, op.get("requestBody")) or {}).get("content")) or {}
        if "application/json" in content:
            props = _properties(spec, content["application/json"].get("schema"))
            drafted["json"] = {k: "{{ " + BODY_FIELDS.get(k, k) + " }}" for k in props}
        elif "multipart/form-data" in content:
            props = _properties(spec, content["multipart/form-data"].get("schema"))
            drafted["multipart"] = {
                k: {"filename": "{{ filename }}", "content": "{{ document }}", "type": "application/pdf"}
                for k in props
            }
        elif "application/x-www-form-urlencoded" in content:
            props = _properties(spec, content["application/x-www-form-urlencoded"].get("schema"))
            drafted["form"] = {k: "{{ " + BODY_FIELDS.get(k, k) + " }}" for k in props}
        if step == "callback":
            drafted["auth"] = False
            drafted["sign"] = {"kind": "standard-webhooks", "secret": "CHANGE-ME"}
            event = {"payment_ref": "{{ payment_ref }}", "amount_vnd": "{{ amount }}", "currency": "VND"}
            drafted["json"] = {"type": "payment.succeeded", "data": event}
        codes = sorted(
            int(c) for c in (op.get("responses") or {}) if str(c).isdigit() and 200 <= int(c) < 300
        )
        if codes and codes != [200]:
            drafted["ok"] = codes
        captures = {}
        wanted = RESPONSE_CAPTURES.get(step, {})
        for code in codes[:1]:
            answer = _resolve(spec, (op.get("responses") or {}).get(str(code)))
            schema = ((answer or {}).get("content") or {}).get("application/json", {}).get("schema")
            for prop in _properties(spec, schema):
                if prop in wanted:
                    capture_name, expression = wanted[prop]
                    captures[capture_name] = {"json": expression}
        if captures:
            drafted["capture"] = captures
        steps[step] = drafted
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    bearer = any(
        str(s.get("scheme", "")).lower() == "bearer" for s in schemes.values() if isinstance(s, dict)
    )
    if "login" in steps and "token" in steps["login"].get("capture", {}):
        bearer = True
    auth: dict[str, Any] = {"kind": "bearer"} if bearer else {"kind": "cookie"}
    if bearer and "expires_in" in steps.get("login", {}).get("capture", {}):
        auth["expires_in"] = "expires_in"
    servers = spec.get("servers") or []
    draft: dict[str, Any] = {"name": slug(name).replace("_", "-")}
    if servers and str(servers[0].get("url", "")).startswith("http"):
        draft["base_url"] = servers[0]["url"]
    draft |= {"auth": auth, "steps": steps}
    title = (spec.get("info") or {}).get("title", "the spec")
    header = [
        f"# Drafted by `dvclab load map from-openapi` from {title}: {len(steps)} of {len(operations)}",
        "# operations look like journey steps. Check the step names, the test data in {{ }} and the",
        "# captures, add `refusals` where the portal refuses on purpose (409, 429), then run",
        "# `dvclab load map check MAP --host URL`. Operations left out:",
        *[f"#   {line}" for line in left],
    ]
    text = "\n".join(header) + "\n" + yaml.safe_dump(draft, sort_keys=False, allow_unicode=True, width=110)
    try:
        parse_map(yaml.safe_load(text), "draft")
    except MapError as error:  # say so on top: the draft still helps, the engineer fixes it
        text = (
            "# The draft is not yet a valid map:\n"
            + "".join(f"#   {line}\n" for line in str(error).splitlines())
            + text
        )
    return text
