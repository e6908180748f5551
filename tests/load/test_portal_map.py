"""Portal maps: the schema's errors name the field, templates keep types, captures read every source, and
the step runner sends what the map says (auth, CSRF, bodies) and keeps what it captures. No swarm: the
step runner gets a fake Locust client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from dvclab.load.map_steps import SKIPPED, StepRunner
from dvclab.load.map_templates import Answer, MissingValue, compile_capture, compile_template, compile_tree
from dvclab.load.portal_map import Capture, MapError, load_map, map_names, parse_map

SECOND = Path(__file__).parent / "second_portal" / "map.yaml"


def minimal(**steps: Any) -> dict[str, Any]:
    base = {"login": {"method": "POST", "path": "/login", "capture": {"token": {"json": "t"}}}}
    return {"name": "m", "steps": base | steps}


# --- the schema --------------------------------------------------------------------------------------


def test_shipped_reference_map_has_every_journey_step_and_runs_every_journey() -> None:
    reference = load_map("reference")
    assert "reference" in map_names()
    assert reference.reference_api and reference.skipped_journeys() == {}
    assert reference.steps["upload"].label == "POST /api/v1/dossiers/{id}/files"  # names kept for the gate
    assert reference.steps["search"].label == "GET /api/v1/procedures"


def test_second_portal_map_is_valid_and_complete() -> None:
    second = load_map(SECOND)
    assert second.auth.kind == "cookie" and second.auth.csrf and second.auth.csrf.field == "csrf_token"
    assert second.skipped_journeys() == {} and not second.reference_api
    assert second.steps["receive"].label == "POST /can-bo/ho-so/{dossier}/tiep-nhan"  # derived name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"steps": {"serch": {"method": "GET", "path": "/s"}}},
            "steps.serch: unknown step (did you mean 'search' or 'search_page'?)",
        ),
        (
            {"steps": {"search": {"method": "GET", "path": "/s", "qeury": {}}}},
            "steps.search.qeury: unknown field 'qeury' (did you mean 'query'?); allowed: method, path",
        ),
        ({"steps": {"search": {"method": "FETCH", "path": "/s"}}}, "steps.search.method"),
        ({"steps": {"create": {"method": "POST", "path": "/d"}}}, "steps.create.capture: needs 'dossier'"),
        (
            {
                "steps": {
                    "track": {"method": "GET", "path": "/t", "capture": {"x": {"json": "a", "regex": "b"}}}
                }
            },
            "exactly one source",
        ),
        (
            {"steps": {"track": {"method": "GET", "path": "/t", "capture": {"x": {"json": "a[?"}}}}},
            "not a JMESPath expression",
        ),
        (
            {"steps": {"track": {"method": "GET", "path": "/t", "capture": {"x": {"css": "input[name="}}}}},
            "css:",
        ),
        (
            {"steps": {"track": {"method": "POST", "path": "/t", "json": {}, "form": {}}}},
            "one body at most, got json and form",
        ),
        ({"steps": {"track": {"method": "GET", "path": "/t/{{ a b }}"}}}, "is not a placeholder"),
        (
            {"steps": {"login": {"method": "POST", "path": "/l", "before": ["form_page"]}}},
            "before: no step 'form_page'",
        ),
        ({"auth": {"kind": "jwt"}}, "auth.kind"),
    ],
)
def test_bad_maps_are_refused_with_the_field_path(change: dict[str, Any], message: str) -> None:
    raw = minimal()
    for key, value in change.items():
        raw[key] = raw[key] | value if isinstance(raw.get(key), dict) else value
    with pytest.raises(MapError) as error:
        parse_map(raw, "my.yaml")
    assert str(error.value).startswith("my.yaml: ") and message in str(error.value), str(error.value)


def test_a_missing_map_name_suggests_the_shipped_one() -> None:
    with pytest.raises(MapError, match="did you mean 'reference'"):
        load_map("referense")


def test_journeys_lacking_a_step_are_skipped_with_the_reason() -> None:
    tracker_only = parse_map(
        {
            "name": "t",
            "auth": {"kind": "none"},
            "steps": {"track": {"method": "GET", "path": "/t/{{ receipt }}"}},
        }
    )
    skipped = tracker_only.skipped_journeys()
    assert set(skipped) == {"citizen_online", "assisted", "officer", "sync"}
    assert skipped["officer"] == "the map 't' has no step 'login', 'queue', 'receive'"


# --- templates and captures --------------------------------------------------------------------------


def test_a_whole_placeholder_keeps_the_type_and_text_is_filled_in() -> None:
    values = {"dossier": 42, "doc": b"%PDF", "proc": {"code": "X-1"}}
    assert compile_template("{{ dossier }}")(values) == 42
    assert compile_template("{{doc}}")(values) == b"%PDF"
    assert compile_template("/d/{{ dossier }}/p/{{ proc.code }}")(values) == "/d/42/p/X-1"
    assert compile_tree({"a": ["{{ dossier }}", 1], "{{ proc.code }}": None})(values) == {
        "a": [42, 1],
        "X-1": None,
    }
    with pytest.raises(MissingValue, match="no value for {{ receipt }}"):
        compile_template("/t/{{ receipt }}")(values)
    with pytest.raises(MissingValue):  # a capture that found nothing is not sent as "None"
        compile_template("/t/{{ receipt }}")({"receipt": None})


def test_captures_from_json_regex_css_header_and_cookie() -> None:
    html = b'<form><input type="hidden" name="csrf_token" value="abc"></form><span class="fee">4000</span>'
    answer = Answer(200, {"x-csrf-token": "hdr"}, b'{"items": [{"id": 3}, {"id": 5}], "n": 0}', {"sid": "c1"})
    page = Answer(200, {}, html)
    take = lambda **source: compile_capture(Capture(**source))  # noqa: E731
    assert take(json="items[].id")(answer) == [3, 5]
    assert take(json="n")(answer) == 0  # a falsy value is a value
    assert take(json="missing", default=[])(answer) == []
    assert take(regex=r'"id": (\d+)')(answer) == "3"
    assert take(css="input[name=csrf_token]", attr="value")(page) == "abc"
    assert take(css="span.fee")(page) == "4000"
    assert take(css="div.none")(page) is None
    assert take(header="X-CSRF-Token")(answer) == "hdr"
    assert take(cookie="sid")(answer) == "c1"


# --- the step runner ---------------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status_code, self.content, self.headers = status, body, headers or {}
        self.request_meta: dict[str, Any] = {"context": {}}
        self.failed: str | None = None

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def success(self) -> None:
        pass

    def failure(self, why: str) -> None:
        self.failed = why


class FakeClient:
    """Answers from a table of (method, path) -> (status, body); records what was sent."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, bytes]]) -> None:
        self.answers, self.sent = answers, []
        self.cookiejar: list[Any] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.sent.append({"method": method, "url": url, **kwargs})
        status, body = self.answers.get((method, url.split("?")[0]), (404, b"{}"))
        response = FakeResponse(status, body)
        response.request_meta["context"] = kwargs.get("context") or {}
        return response


def test_bearer_login_then_a_json_step_with_captures_and_the_token() -> None:
    reference = load_map("reference")
    client = FakeClient(
        {
            ("POST", "/api/v1/auth/login"): (200, b'{"access_token": "T1", "expires_in": 900}'),
            ("POST", "/api/v1/dossiers"): (201, b'{"id": 17}'),
            ("POST", "/api/v1/dossiers/17/submit"): (201, b'{"receipt_code": "HSABC"}'),
        }
    )
    steps = StepRunner(client, reference)
    assert steps.login("citizen", 7).ok and steps.signed_in()
    assert json.loads(client.sent[0]["data"]) == {"national_id": "036090000007", "password": "Citizen@2024"}
    created = steps.run(
        "create", procedure_code="X-1", delivery="electronic", note="", idempotency_key="k" * 10
    )
    assert created.ok and created.captured == {"dossier": 17}
    sent = client.sent[1]
    assert sent["headers"]["Authorization"] == "Bearer T1" and sent["headers"]["Idempotency-Key"] == "k" * 10
    assert json.loads(sent["data"])["procedure_code"] == "X-1" and sent["name"] == "POST /api/v1/dossiers"
    assert steps.run("submit").captured == {"receipt": "HSABC"}
    assert client.sent[2]["url"] == "/api/v1/dossiers/17/submit"


def test_expected_refusals_and_failures_are_told_apart() -> None:
    reference = load_map("reference")
    client = FakeClient({("GET", "/api/v1/track/HSX"): (429, b"{}")})
    steps = StepRunner(client, reference, {"receipt": "HSX"})
    assert steps.run("track").outcome == "refused"
    client.answers[("GET", "/api/v1/track/HSX")] = (404, b"{}")
    assert steps.run("track").outcome == "error"
    assert steps.run("track", also_refused=(404,)).outcome == "refused"  # an unknown code, on purpose


def test_cookie_session_csrf_from_an_html_form_goes_back_as_a_form_field() -> None:
    second = load_map(SECOND)
    form = b'<form><input type="hidden" name="csrf_token" value="PRE"></form>'
    after = b'<p>Xin chao</p><form><input type="hidden" name="csrf_token" value="POST1"></form>'
    client = FakeClient(
        {
            ("GET", "/dang-nhap"): (200, form),
            ("POST", "/dang-nhap"): (200, after),
            ("POST", "/ho-so"): (201, b'{"ho_so": {"so": 9}}'),
            ("POST", "/ho-so/9/tep"): (201, b"{}"),
        }
    )
    steps = StepRunner(client, second)
    outcome = steps.login("citizen", 3)
    assert outcome.ok and [b.step for b in outcome.before] == ["login_form"]
    login = parse_qs(client.sent[1]["data"].decode())
    assert login == {"so_dinh_danh": ["036090000003"], "mat_khau": ["Citizen@2024"], "csrf_token": ["PRE"]}
    assert "Authorization" not in client.sent[1]["headers"]
    created = steps.run("create", procedure_code=12, delivery="counter", note="n")
    assert created.captured == {"dossier": 9}
    assert parse_qs(client.sent[2]["data"].decode())["csrf_token"] == ["POST1"]  # the rotated token
    upload = steps.run("upload", filename="a.pdf", document=b"%PDF-1.7 x")
    assert upload.ok
    body, content_type = client.sent[3]["data"], client.sent[3]["headers"]["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'name="csrf_token"\r\n\r\nPOST1' in body and b'filename="a.pdf"' in body and b"%PDF-1.7 x" in body


def test_a_step_whose_values_are_missing_or_whose_condition_fails_is_not_sent() -> None:
    reference = load_map("reference")
    client = FakeClient({})
    steps = StepRunner(client, reference)
    assert steps.run("submit").outcome == SKIPPED and "{{ dossier }}" in steps.run("submit").reason
    steps.values.update(dossier=1, status="submitted", score=5, comment="")
    assert steps.run("rate").outcome == SKIPPED  # only once decided
    assert client.sent == []


def test_a_signed_callback_carries_standard_webhooks_headers() -> None:
    reference = load_map("reference")
    client = FakeClient({("POST", "/api/v1/payments/callback"): (200, b"{}")})
    steps = StepRunner(client, reference, {"payment_ref": "PAY1", "amount": 4000, "token": "T"})
    assert steps.run("callback").ok
    sent = client.sent[0]
    assert sent["headers"]["webhook-signature"].startswith("v1,") and "Authorization" not in sent["headers"]
    assert json.loads(sent["data"])["data"] == {"payment_ref": "PAY1", "amount_vnd": 4000, "currency": "VND"}


def test_a_run_leaves_out_the_journeys_its_map_cannot_run_and_reports_them() -> None:
    from dvclab.load import data, harness
    from dvclab.load.profiles import load_profile
    from dvclab.load.shapes import build_segments, expected_starts

    reference = load_map("reference")
    raw = reference.model_dump(by_alias=True, exclude_none=True)
    for step in ("queue", "receive", "sync"):
        del raw["steps"][step]
    no_back_office = parse_map(raw)
    profile = load_profile("smoke")
    segments = build_segments(profile)
    run = harness.Run(profile, segments, data.ProcedureMix.from_catalog(), no_back_office)
    assert set(run.skipped_journeys) == {"officer", "sync"}
    # The others keep their own rates: nothing of the officers' share moves to the citizens.
    for journey in ("citizen_online", "assisted", "tracker"):
        assert expected_starts(run.segments, journey) == pytest.approx(expected_starts(segments, journey))
    assert expected_starts(run.segments, "officer") == 0
    assert run.summary(elapsed=1.0, percentiles=False)["skipped_journeys"]["officer"].endswith(
        "'queue', 'receive'"
    )


def test_a_map_table_maps_catalog_codes_and_can_restrict_the_mix() -> None:
    from dvclab.load import data, harness
    from dvclab.load.profiles import load_profile
    from dvclab.load.shapes import build_segments

    raw = load_map("reference").model_dump(by_alias=True, exclude_none=True)
    raw["procedures"] = {"codes": {"X-CT-0001": 101, "X-CT-0002": 102}, "only_mapped": True}
    mapped = parse_map(raw)
    profile = load_profile("smoke")
    run = harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog(), mapped)
    assert {p.code for p in run.procedures.procedures} == {"X-CT-0001", "X-CT-0002"}
    assert run.portal_code(run.procedures.procedures[0], {}) == 101
    assert (
        run.portal_code(run.procedures.procedures[0], {"procedure_code": 7}) == 7
    )  # a search's capture wins
