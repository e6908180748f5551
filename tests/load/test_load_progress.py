"""`dvclab load run` is not silent while Locust works: elapsed time against the profile's length."""

from __future__ import annotations

import time

from dvclab.load import cli


def test_progress_lines_on_a_log(monkeypatch, capsys):
    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.05)
    with cli.Progress("load run smoke", 34.0):
        time.sleep(0.3)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) >= 2
    assert all(
        line.startswith("dvclab load: load run smoke: ") and line.endswith("of ~34 s") for line in lines
    )


def test_progress_stops_with_the_run(monkeypatch, capsys):
    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.05)
    with cli.Progress("load run smoke", 34.0) as progress:
        pass
    assert not progress.thread.is_alive()
    time.sleep(0.15)
    capsys.readouterr()
    time.sleep(0.15)
    assert capsys.readouterr().err == ""
