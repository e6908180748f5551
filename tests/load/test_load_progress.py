"""`dvclab load run` is not silent while Locust works: elapsed time against the profile's length."""

from __future__ import annotations

import time

from dvclab.load import cli


def _live(folder, **figures: float):
    """The master's live figures file, as locustfile._write_live writes it."""
    import json

    live = folder / "live.json"
    defaults = {"elapsed_s": 1.0, "requests": 80, "failures": 0, "offered_rps": 7.0, "achieved_rps": 7.0}
    defaults |= {"p95_ms": 100.0, "dropped": 0, "scheduled": 40}
    live.write_text(json.dumps(defaults | figures))
    return live


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


def test_progress_lines_carry_the_masters_live_figures(monkeypatch, capsys, tmp_path):
    figures = {"failures": 1, "offered_rps": 7.25, "achieved_rps": 6.5, "p95_ms": 143.2, "dropped": 2}
    live = _live(tmp_path, elapsed_s=12.0, **figures)
    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.05)
    with cli.Progress("load run smoke", 34.0, live):
        time.sleep(0.2)
    line = capsys.readouterr().err.splitlines()[0]
    assert line.startswith("dvclab load: load run smoke: ")
    assert line.endswith("of ~34 s, offered 7.2 rps, achieved 6.5 rps, p95 143 ms, failures 1, dropped 2/40")


def test_live_figures_before_the_master_wrote_any(tmp_path):
    assert cli.live_figures(tmp_path / "missing.json") == ""
    assert cli.live_figures(None) == ""
    (tmp_path / "half.json").write_text('{"offered_rps": 1')  # not the master's JSON: no figures
    assert cli.live_figures(tmp_path / "half.json") == ""


def test_the_schedule_clock_starts_with_the_master_not_the_command(monkeypatch, capsys, tmp_path):
    # Before the master writes its figures the portal is still starting: no seconds of the schedule pass.
    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.05)
    live = tmp_path / "live.json"
    with cli.Progress("load run smoke", 34.0, live):
        time.sleep(0.2)
    line = capsys.readouterr().err.splitlines()[0]
    assert "starting (" in line and "the portal and the load generator" in line and "of ~34 s" not in line


def test_past_the_schedule_the_line_says_what_the_run_still_does(monkeypatch, capsys, tmp_path):
    # The master is 40 s into a 34 s schedule: the security checks finish and the results are written.
    live = _live(tmp_path, elapsed_s=40.0)
    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.05)
    with cli.Progress("load run smoke", 34.0, live):
        time.sleep(0.2)
    line = capsys.readouterr().err.splitlines()[0]
    assert "the ~34 s schedule is done (40 s); finishing the security checks" in line
    assert "40 s of ~34 s" not in line
