"""Drafting maps: from the reference portal's OpenAPI spec (its /openapi.json) and from a HAR recording of
a citizen's journey on the second portal, which `map check` accepts after the edits written out here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dvclab.load.map_draft import DraftError
from dvclab.load.map_draft_har import from_har
from dvclab.load.map_draft_openapi import from_openapi
from dvclab.load.portal_map import parse_map
from tests.load.conftest import dvclab
from tests.load.second_portal.browser import chromium, record_in_chromium
from tests.load.second_portal.har import record_citizen_journey
from tests.load.test_second_portal import second_portal  # noqa: F401 - the fixture

REFERENCE_STEPS = {
    "search", "detail", "login", "create", "upload", "submit", "pay", "callback", "track", "status", "rate",
    "statistics", "queue", "receive", "supplement", "decide", "return", "sync",
}  # fmt: skip


@pytest.fixture(scope="module")
def reference_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dvclab.portal.app import create_app
    from dvclab.portal.settings import Settings

    app = create_app(Settings(gateway_url="http://127.0.0.1:9", idp_url="http://127.0.0.1:9"), prepare=False)
    path = tmp_path_factory.mktemp("spec") / "openapi.json"
    path.write_text(json.dumps(app.openapi()), encoding="utf-8")
    return path


def test_openapi_draft_of_the_reference_portal_names_every_journey_step(reference_spec: Path) -> None:
    text = from_openapi(str(reference_spec), "ref")
    assert "not yet a valid map" not in text
    drafted = parse_map(yaml.safe_load(text))
    assert set(drafted.steps) == REFERENCE_STEPS
    assert drafted.auth.kind == "bearer" and drafted.auth.expires_in == "expires_in"
    steps = drafted.steps
    assert steps["upload"].path == "/api/v1/dossiers/{{ dossier }}/files" and steps["upload"].multipart
    assert steps["login"].json_ == {"national_id": "{{ national_id }}", "password": "{{ password }}"}
    assert steps["create"].headers == {"idempotency-key": "{{ idempotency_key }}"}
    assert steps["create"].capture["dossier"].json_ == "id" and steps["submit"].capture["receipt"].json_
    assert steps["queue"].capture["queue"].json_ == "items[].id"
    assert steps["sync"].query == {"cursor": "{{ cursor }}", "limit": "{{ limit }}"}
    assert steps["callback"].sign is not None and steps["callback"].sign.secret == "CHANGE-ME"
    assert "GET /api/v1/dossiers/{dossier_id}/files/{file_id}" in text  # left out, listed on top


def test_drafting_refuses_what_is_not_a_recording_or_a_spec(tmp_path: Path) -> None:
    (tmp_path / "x.har").write_text("{}", encoding="utf-8")
    with pytest.raises(DraftError, match="not a HAR recording"):
        from_har(tmp_path / "x.har")
    with pytest.raises(DraftError, match="no `paths`"):
        from_openapi(str(tmp_path / "x.har"))
    result = dvclab("load", "map", "from-openapi", "http://192.0.2.1/openapi.json", timeout=60)
    assert result.returncode == 2 and "only a loopback URL" in result.stderr


def _in_chromium(base: str, out: Path) -> Path:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pytest.importorskip("websocket", reason="websocket-client (a dev dependency) drives Chromium")
    return record_in_chromium(base, out)


@pytest.mark.slow
@pytest.mark.parametrize("recorder", [record_citizen_journey, _in_chromium], ids=["http-client", "chromium"])
def test_har_recording_of_the_second_portal_drafts_a_map_that_map_check_accepts(
    tmp_path: Path,
    second_portal: str,  # noqa: F811 - the fixture
    recorder: object,
) -> None:
    """Recorded by an HTTP client writing HAR, and by a real headless Chromium over the DevTools
    protocol (the login through the HTML form, the rest by the page's script): the same draft."""
    recording = recorder(second_portal, tmp_path / "journey.har")  # type: ignore[operator]
    out = tmp_path / "draft.yaml"
    result = dvclab(
        "load", "map", "from-har", str(recording), "--name", "second", "--out", str(out), timeout=60
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    # dropped: a stylesheet, and a CDN script (HTTP client) or the favicon (Chromium, which fetches it
    # on its own schedule: a CI run's recording ended before it, 1 dropped) -- whatever else was recorded
    entries = len(json.loads(recording.read_text(encoding="utf-8"))["log"]["entries"])
    assert "8 requests kept as steps" in text, text[:300]
    assert f"{entries - 8} static assets dropped, 0 requests to other hosts" in text, text[:300]
    assert entries - 8 >= (1 if recorder is _in_chromium else 2)  # the stylesheet at least
    draft = yaml.safe_load(text)
    # Detected: the cookie session, the CSRF token in the HTML forms (captured, sent as a field), the
    # credentials, and the values the portal handed out: the procedure's number, the dossier, the receipt.
    assert draft["auth"] == {
        "kind": "cookie",
        "session_cookie": "phien",
        "csrf": {"capture": "csrf", "field": "csrf_token"},
    }
    steps = draft["steps"]
    assert list(steps) == ["login_form", "login", "search", "detail", "create", "upload", "submit", "track"]
    assert steps["login"]["before"] == ["login_form"]
    assert steps["login_form"]["capture"]["csrf"] == {"css": "input[name=csrf_token]", "attr": "value"}
    assert steps["login"]["form"] == {"so_dinh_danh": "{{ national_id }}", "mat_khau": "{{ password }}"}
    assert steps["search"]["capture"] == {"procedure_code": {"json": "ket_qua[0].so"}}
    assert steps["create"]["form"]["thu_tuc"] == "{{ procedure_code }}"
    assert steps["create"]["capture"] == {"dossier": {"json": "ho_so.so"}}
    assert (
        steps["upload"]["path"] == "/ho-so/{{ dossier }}/tep"
        and "csrf_token" not in steps["upload"]["multipart"]
    )
    assert steps["track"]["path"] == "/tra-cuu/{{ receipt }}"

    # The documented edits: search for the procedure a journey picked (its catalog code) so that the
    # procedure mix reaches the portal's own numbers, say so, and file with the journey's delivery.
    steps["search"]["query"]["tu_khoa"] = "{{ catalog_code }}"
    draft["procedures"] = {"lookup": "search"}
    steps["create"]["form"]["nhan_ket_qua"] = "{{ delivery }}"
    draft["health"] = "/suc-khoe"
    out.write_text(yaml.safe_dump(draft, sort_keys=False, allow_unicode=True), encoding="utf-8")
    check = dvclab("load", "map", "check", str(out), "--host", second_portal, timeout=90)
    assert check.returncode == 0, check.stdout[-3000:]
    assert "0 failed, 0 not sent" in check.stdout and "captured receipt=BN" in check.stdout
    # What the recording did not show stays out, and the journeys needing it are named.
    assert "journey officer would be skipped: the map 'second' has no step 'queue', 'receive'" in check.stdout
