"""The workbench's results folders, written atomically like ``sim.results``: staged in a hidden
``.<id>.partial`` folder beside the target and renamed into place last, so a reader (or ``dvclab
check``) never sees half a run. A run interrupted with Ctrl-C is still written, marked ``partial``.

Every folder also holds ``results.xlsx``: its CSV tables as one Excel workbook (``sim.workbook``), with
headers in the report's language.

Layout: ``<out>/<scenario>/<id>/`` for a run (the ``sim.results`` files plus ``report.html``);
``<out>/compare/<base>/<id>/``, ``<out>/sweep/<scenario>/<id>/`` and ``<out>/plan/<scenario>/<id>/`` for
the others (no ``kpis.json`` there: ``dvclab check`` reads single runs only).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dvclab.catalog import Procedure
from dvclab.files import fill_folder
from dvclab.sim.experiment import Experiment
from dvclab.sim.results import _write_all, new_run_id, versions
from dvclab.sim.scenario import resolved_dict
from dvclab.sim.workbook import WORKBOOK_FILE, folder_csv_files, report_lang, workbook_bytes

REPORT_FILE = "report.html"
# a run folder's tables (written by ``sim.results``), in the workbook's sheet order
RUN_TABLES = [
    "kpis.csv",
    "overdue_top_procedures.csv",
    "backlog_by_day.csv",
    "replications.csv",
    "arrivals_by_hour.csv",
]


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_run(
    experiment: Experiment,
    catalog: list[Procedure],
    out_root: Path,
    command: list[str],
    report: Callable[[], str] | None,
    lang: str | None = None,
    extra_files: Mapping[str, Callable[[Path], list[str]]] | None = None,
) -> Path:
    """``sim.results``' files, the manifest marked partial or not, the HTML report and the workbook
    (in ``lang``; by default the report's language, else the scenario's). ``extra_files`` maps a manifest
    key to a function that writes files into the folder and returns their names: they arrive with the
    rest in the one rename, so no reader sees the run without them."""
    run_id = new_run_id()

    def fill(folder: Path) -> None:
        _write_all(experiment, catalog, folder, run_id, command)
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.update(_partial_fields(experiment))
        page = None
        if report is not None:
            page = report()
            manifest["report"] = REPORT_FILE
            (folder / REPORT_FILE).write_text(page, encoding="utf-8")
        words = lang or report_lang(page, experiment.scenario.lang)
        (folder / WORKBOOK_FILE).write_bytes(workbook_bytes(folder_csv_files(folder, RUN_TABLES), words))
        manifest["workbook"] = WORKBOOK_FILE
        for key, write in (extra_files or {}).items():
            manifest[key] = write(folder)
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")

    return fill_folder(out_root / experiment.scenario.name / run_id, fill)


def _partial_fields(experiment: Experiment) -> dict[str, Any]:
    return {
        "partial": experiment.partial,
        "replications_requested": experiment.requested or experiment.replications,
        "replication_ids": experiment.replication_ids,
    }


def write_study(
    out_root: Path,
    kind: str,
    name: str,
    experiments: list[Experiment],
    files: dict[str, str],
    command: list[str],
    partial: bool,
    extra: dict[str, Any] | None = None,
    lang: str | None = None,
) -> Path:
    """A comparison, sweep or plan: its manifest (every scenario resolved), its files, report and the
    workbook of its CSV files (in ``lang``; by default the report's language, else the scenario's)."""
    run_id = new_run_id()
    manifest = {
        "kind": f"sim-{kind}",
        "run_id": run_id,
        "partial": partial,
        "scenarios": [
            {
                "name": e.scenario.name,
                "scenario_file": e.scenario.source,
                "scenario": resolved_dict(e.scenario),
                **_partial_fields(e),
            }
            for e in experiments
        ],
        "seed": experiments[0].scenario.run.seed if experiments else None,
        "horizon_days": experiments[0].scenario.run.horizon_days if experiments else None,
        "command": command,
        "versions": versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    if REPORT_FILE in files:
        manifest["report"] = REPORT_FILE
    fallback = experiments[0].scenario.lang if experiments else "en"
    words = lang or report_lang(files.get(REPORT_FILE), fallback)
    tables = {name: content for name, content in files.items() if name.endswith(".csv")}
    workbook = workbook_bytes(tables, words) if tables else None
    if workbook is not None:
        manifest["workbook"] = WORKBOOK_FILE

    def fill(folder: Path) -> None:
        (folder / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        for file_name, content in files.items():
            (folder / file_name).write_text(content, encoding="utf-8")
        if workbook is not None:
            (folder / WORKBOOK_FILE).write_bytes(workbook)

    return fill_folder(out_root / kind / name / run_id, fill)
