"""A second portal, shaped unlike the reference one (tests/load/second_portal/: Vietnamese paths and
fields, form posts, a cookie session, a CSRF token from an HTML form, numeric ids, HTML answers), driven
from its map alone: `map check` walks every step, and the smoke profile runs and passes the gate, its
security checks bound to the map's steps and limits."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dvclab.processes import free_port, start_group, stop_group
from tests.load.conftest import REPO, dvclab

SECOND = Path(__file__).parent / "second_portal"
MAP = SECOND / "map.yaml"


def _wait(url: str, timeout_s: float = 30.0) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/suc-khoe", timeout=1) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the second portal did not start at {url}")


@pytest.fixture
def second_portal(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start_group(
        [sys.executable, "-m", "tests.load.second_portal.app", "--port", str(port)],
        log=tmp_path / "second-portal.log",
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url)
        yield url
    finally:
        stop_group(process)


def test_map_check_refuses_a_host_off_this_machine() -> None:
    result = dvclab("load", "map", "check", str(MAP), "--host", "http://192.0.2.10:8000", timeout=60)
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "Traceback" not in result.stderr


def test_map_check_names_a_bad_map_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  serch: {method: GET, path: /s}\n", encoding="utf-8")
    result = dvclab("load", "map", "check", str(bad), "--host", "http://127.0.0.1:9", timeout=60)
    assert result.returncode == 2
    assert "steps.serch: unknown step (did you mean 'search' or 'search_page'?)" in result.stderr


@pytest.mark.slow
def test_map_check_walks_every_step_of_the_second_portal(second_portal: str) -> None:
    result = dvclab("load", "map", "check", str(MAP), "--host", second_portal, timeout=90)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    # the 20 journey steps, and the check steps it has: C12's paged search, C20's logout
    assert "22 steps sent, 0 failed, 0 not sent" in out
    assert "[search_page] as citizen: ok" in out
    assert "[login_form] as citizen: ok" in out and "captured csrf=" in out
    assert "captured procedure_code=" in out and "captured fee=" in out  # JSON search, HTML page
    assert "captured status=da_tra_ket_qua" in out  # the officer took the citizen's own dossier through
    assert "[supplement] as officer: expected refusal" in out  # already returned: 409, as the map says
    assert "body so_dinh_danh=036090000001&mat_khau=" in out  # what was sent is shown


@pytest.mark.slow
@pytest.mark.serial  # a 30 s load run gated on dropped journeys
def test_smoke_profile_and_gate_run_against_the_second_portal_from_its_map(
    tmp_path: Path, second_portal: str
) -> None:
    thresholds = SECOND / "thresholds.yaml"
    # The smoke profile, but with the sync journey's share raised from 5% to 15%: at 5% its ~3 starts of
    # the 30 s schedule can all be dropped on a busy machine, leaving the feed's endpoint never called.
    profile = (REPO / "scenarios" / "load" / "smoke.yaml").read_text(encoding="utf-8")
    assert "  tracker: 0.15\n  sync: 0.05\n" in profile
    profile = profile.replace("  tracker: 0.15\n  sync: 0.05\n", "  tracker: 0.05\n  sync: 0.15\n")
    (tmp_path / "smoke.yaml").write_text(profile, encoding="utf-8")
    run = dvclab(
        *("load", "run", str(tmp_path / "smoke.yaml"), "--host", second_portal, "--map", str(MAP)),
        *("--thresholds", str(thresholds), "--results", str(tmp_path / "load")),
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    folder = Path(run.stdout.strip().splitlines()[-1])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["portal_map"] == "second-portal" and "skipped_journeys" not in summary
    endpoints = summary["endpoints"]
    for name in (
        "GET /thu-tuc",
        "POST /dang-nhap",
        "GET /dang-nhap",
        "POST /ho-so",
        "POST /ho-so/{dossier}/nop",
    ):
        assert endpoints[name]["requests"] > 0, name
    assert (
        endpoints["GET /can-bo/hang-cho"]["requests"] > 0
        and endpoints["GET /dong-bo/thay-doi"]["requests"] > 0
    )
    assert summary["total"]["failures"] == 0 and summary["total"]["requests"] >= 200
    assert not any(name.startswith("/api/v1") or "/api/" in name for name in endpoints)  # nothing reference

    security = {c["id"]: c for c in json.loads((folder / "security.json").read_text())}
    assert security["C07"]["verdict"] == "pass"  # judged on every answer, whatever the API
    # The checks bound to the map ran from its steps, with real verdicts and their figures.
    ported = {"C01", "C02", "C03", "C05", "C08", "C10", "C11", "C12", "C13", "C15", "C18", "C20", "L01"}
    assert {i: c["verdict"] for i, c in security.items() if i in ported} == dict.fromkeys(ported, "pass")
    observed = {i: security[i]["observed"] for i in ported}
    # T from the map; the tracking limit announced (X-RateLimit-Limit), its window from the map
    assert observed["C02"]["T"] == 5 and observed["C02"]["statuses"]["401"] == 5
    assert observed["C01"]["limit_from"] == "announced by the portal" and observed["C01"]["window_s"] == 10
    assert observed["C01"]["served"] <= observed["C01"]["allowed"] == 30 < observed["C01"]["sent"]
    assert observed["C10"]["statuses"] == [201, 413, 413] and observed["C10"]["file_count"] == 1
    assert observed["C11"]["statuses"] == {"201": 10, "422": 5}  # 10 files per dossier, from the map
    assert set(observed["C13"]["answers"]) == {"404"} and observed["C13"]["probes"] >= 4
    assert observed["C20"]["logout"]["2xx_after_grace"] == 0 and observed["C20"]["new_token_at_login"]
    assert observed["C15"]["receipt_code_bits"] == 80.0
    assert observed["L01"]["missing_from_sync_feed"] == [] and observed["L01"]["tracked_back"] == "10 of 10"
    # Its paged catalog search (so_luong <= 50 from the map): the abuse refused, deep pages no dearer
    catalog = observed["C12"]["catalog"]
    assert observed["C12"]["max_page_size"] == 50 and "dossiers" not in observed["C12"]
    assert {k: catalog[k]["status"] for k in ("huge_page_size", "deep_page", "long_query")} == dict.fromkeys(
        ("huge_page_size", "deep_page", "long_query"), 422
    )
    assert catalog["depth"]["deep_page"] == 1000 and catalog["depth"]["samples_each"] == 40
    # Its "pay" (no gateway): one transaction per dossier at the catalog's fee, whatever the burst
    assert observed["C18"]["intents_named"] == 1 and observed["C18"]["statuses"].get("201") == 1
    # What the map cannot give: "not run", saying why, never pass and never fail.
    unbound = {i: c["reason"] for i, c in security.items() if c["verdict"] == "not run"}
    assert set(unbound) == {"C14", "C16", "C17", "C19", "C21"}
    assert unbound["C21"].startswith("no drafts_per_citizen: declare limits.drafts_per_citizen")
    assert unbound["C19"] == "the portal map 'second-portal' has no step 'phone_code'"
    assert unbound["C14"].startswith("the portal map's create step sends no {{ idempotency_key }}")
    assert unbound["C16"] == unbound["C17"] == "the portal map 'second-portal' has no step 'callback'"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["portal_map"].endswith("map.yaml") and manifest["host"] == second_portal

    check = dvclab(
        "check",
        str(folder),
        *(
            "--thresholds",
            str(thresholds),
            "--junit",
            str(tmp_path / "j.xml"),
            "--summary",
            str(tmp_path / "s.md"),
        ),
    )
    assert check.returncode == 0, check.stdout[-3000:]
