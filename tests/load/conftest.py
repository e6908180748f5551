"""Fixtures for the load-test suite: a stub portal on loopback (frozen or stopped on demand), a small
simulation run, and profile files written on the fly. Every test is bounded in time and traffic."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class StubPortal:
    """Answers /healthz, /api/v1/statistics and /api/v1/track/{code} (404), and can freeze: every API
    answer waits until ``frozen_until`` (health checks never wait)."""

    def __init__(self) -> None:
        self.frozen_until = 0.0
        self.requests = 0
        self.first_request: float | None = None
        self.freeze_after: float | None = None
        self.freeze_for = 0.0
        self.status = 200  # what the API answers (500: a broken portal that still passes /healthz)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path != "/healthz":
                    stub.requests += 1
                    now = time.time()
                    if stub.first_request is None:
                        stub.first_request = now
                        if stub.freeze_after is not None:
                            stub.frozen_until = now + stub.freeze_after + stub.freeze_for
                    start = stub.frozen_until - stub.freeze_for
                    if start <= now < stub.frozen_until:
                        time.sleep(stub.frozen_until - now)
                status = 404 if self.path.startswith("/api/v1/track/") else 200
                if self.path != "/healthz" and stub.status != 200:
                    status = stub.status
                body = json.dumps({"status": "ok"} if status == 200 else {"title": "Not found"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubPortal:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_portal() -> Iterator[StubPortal]:
    with StubPortal() as stub:
        yield stub


def write_profile(folder: Path, **fields: object) -> Path:
    path = folder / f"{fields.get('name', 'test')}.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-day, 1-replication simulation run (~10 s), for forecast shapes and the sim mix."""
    out = tmp_path_factory.mktemp("sim")
    subprocess.run(
        [
            str(BIN / "dvclab"),
            "sim",
            "run",
            "scenarios/sim/nam-dinh-2024.yaml",
            "--replications",
            "1",
            "--horizon-days",
            "2",
            "--out",
            str(out),
            "--no-report",
        ],
        cwd=REPO,
        check=True,
        timeout=120,
        capture_output=True,
    )
    return next(out.glob("*/*/arrivals_by_hour.csv")).parent


def dvclab(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dvclab"), *args], cwd=REPO, text=True, capture_output=True, timeout=timeout
    )
