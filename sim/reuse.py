"""Reusing finished runs: ``compare``, ``sweep`` and ``plan`` take a matching run instead of simulating again.

A run is keyed by everything that decides its numbers: the resolved scenario (after ``extends``; its name,
description, language and file location do not count), the content of every data file it references
(the catalog, and any other ``.csv``/``.yaml``/``.json`` path a scenario field names), the replications
asked for (a count, or the ``--replications auto`` rule) and the model's version (dvclab's version, numpy's
and SimPy's, and a hash of the simulation's source files, so any change to the model never reuses). The
seed, horizon and warm-up are scenario fields, hence in the key. The key goes into every complete run's
manifest (``run_key``) with the replications' outputs beside it (``outputs.npz``: arrays and JSON only,
read without unpickling); a partial (interrupted) run gets no key and is never reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from dvclab.sim.experiment import Experiment
from dvclab.sim.kpis import ReplicationOutput, UnitFigures
from dvclab.sim.observe import ObservedOutput
from dvclab.sim.scenario import Scenario, resolved_dict

OUTPUTS_FILE = "outputs.npz"
# Fields that name or document a scenario (or locate it) without changing what it simulates.
_NOT_IN_KEY = ("name", "description", "lang", "source", "catalog")
_DATA_SUFFIXES = (".csv", ".yaml", ".yml", ".json", ".xlsx")
# The shared modules the model's numbers depend on, beside the sim package itself.
_SHARED_MODEL_FILES = ("catalog.py", "deadlines.py")
_OUTPUT_CLASSES: dict[str, type[ReplicationOutput]] = {
    cls.__name__: cls for cls in (ReplicationOutput, ObservedOutput)
}
# Plain dataclasses of JSON values an output may carry (rebuilt by name when a run is reused).
_FIELD_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (UnitFigures,)}
# The parts of a ``--replications auto`` record that are the request (the rest is what it found).
_RULE_REQUEST = ("method", "kpis", "precision", "cap", "minimum", "look_ahead", "absolute")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def model_version() -> dict[str, str]:
    """dvclab's, numpy's and SimPy's versions and a hash of the model's source files."""
    import dvclab
    import dvclab.sim

    digest = hashlib.sha256()
    sim = Path(dvclab.sim.__file__).parent
    shared = Path(dvclab.__file__).parent
    for path in [*sorted(sim.glob("*.py")), *(shared / name for name in _SHARED_MODEL_FILES)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    found = {"source_sha256": digest.hexdigest()}
    for package in ("dvclab", "numpy", "simpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def data_files(scenario: Scenario) -> dict[str, str]:
    """Content hashes of the files the scenario reads: its catalog and any data path a field names."""
    found = {"catalog": _file_hash(scenario.catalog_path())}
    base = Path(scenario.source).parent if scenario.source else Path.cwd()
    for where, value in _strings(resolved_dict(scenario)):
        if where in _NOT_IN_KEY or not value.lower().endswith(_DATA_SUFFIXES):
            continue
        path = Path(value) if Path(value).is_absolute() else base / value
        found[where] = _file_hash(path.resolve())
    return found


def _file_hash(path: Path) -> str:
    try:
        return _sha256(path.read_bytes())
    except OSError:
        return "missing"


def _strings(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [item for key, value in data.items() for item in _strings(value, f"{prefix}{key}.")]
    if isinstance(data, list):
        return [item for k, value in enumerate(data) for item in _strings(value, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), data)] if isinstance(data, str) else []


def run_key(scenario: Scenario, replications: int | dict[str, Any]) -> dict[str, Any]:
    """The key of a run of ``scenario`` asked for ``replications`` (a count, or the auto rule)."""
    simulated = {k: v for k, v in resolved_dict(scenario).items() if k not in _NOT_IN_KEY}
    simulated["run"] = {k: v for k, v in simulated["run"].items() if k != "replications"}
    parts = {
        "scenario": simulated,
        "data": data_files(scenario),
        "replications": replications,
        "model": model_version(),
    }
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return {"hash": _sha256(text.encode()), **parts}


def request_of(experiment: Experiment) -> int | dict[str, Any]:
    """What the experiment was asked to run: its count, or its ``--replications auto`` rule."""
    if experiment.rule is not None:
        return {k: experiment.rule[k] for k in _RULE_REQUEST if k in experiment.rule}
    return experiment.requested or experiment.replications


def key_of(experiment: Experiment) -> dict[str, Any]:
    return run_key(experiment.scenario, request_of(experiment))


# -- the outputs beside the manifest ------------------------------------------------------------------
def save_outputs(experiment: Experiment, folder: Path) -> str | None:
    """Every replication's outputs as ``outputs.npz`` (arrays, and the rest as JSON); the file name, or
    None when an output holds something else (the run is then not reusable)."""
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for index, output in enumerate(experiment.outputs):
        cls = type(output).__name__
        if cls not in _OUTPUT_CLASSES:
            return None
        fields: dict[str, Any] = {}
        for name, value in vars(output).items():
            if isinstance(value, np.ndarray):
                arrays[f"{index}.{name}"] = value
                fields[name] = {"array": True}
            elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
                # series by pool or unit (``backlog_by_unit_day``): one array each
                for position, series in enumerate(value.values()):
                    arrays[f"{index}.{name}.{position}"] = series
                fields[name] = {"arrays": list(value)}
            elif value is None or isinstance(value, dict | list | int | float | str | bool):
                fields[name] = {"json": value}
            elif type(value).__name__ in _FIELD_CLASSES:
                fields[name] = {"json": dataclasses.asdict(value), "class": type(value).__name__}
            else:
                return None
        meta.append({"class": cls, "fields": fields})
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez_compressed(folder / OUTPUTS_FILE, **arrays)  # type: ignore[arg-type]
    return OUTPUTS_FILE


def load_outputs(path: Path) -> list[ReplicationOutput]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        outputs = []
        for index, entry in enumerate(meta):
            fields = {
                name: data[f"{index}.{name}"]
                if "array" in spec
                else {key: data[f"{index}.{name}.{k}"] for k, key in enumerate(spec["arrays"])}
                if "arrays" in spec
                else _rebuilt(spec)
                for name, spec in entry["fields"].items()
            }
            outputs.append(_OUTPUT_CLASSES[entry["class"]](**fields))
    return outputs


def _rebuilt(spec: dict[str, Any]) -> Any:
    cls = spec.get("class")
    return _FIELD_CLASSES[cls](**spec["json"]) if cls else spec["json"]


# -- finding and reusing a run ------------------------------------------------------------------------
def find_run(out_root: Path, key: dict[str, Any]) -> Path | None:
    """The newest complete run folder under ``out_root`` with this key and its outputs, or None."""
    if not out_root.is_dir():
        return None
    manifests = sorted(out_root.glob("*/*/manifest.json"), key=lambda p: p.parent.name, reverse=True)
    for path in manifests:
        folder = path.parent
        if folder.name.startswith(".") or folder.parent.name.startswith("."):
            continue  # a run still being written
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found = manifest.get("run_key") if isinstance(manifest, dict) else None
        if (
            manifest.get("kind") == "sim"
            and not manifest.get("partial")
            and isinstance(found, dict)
            and found.get("hash") == key["hash"]
            and (folder / OUTPUTS_FILE).is_file()
        ):
            return folder
    return None


def reuse_run(
    out_root: Path, scenario: Scenario, replications: int | dict[str, Any]
) -> tuple[Experiment, Path] | None:
    """A finished run of ``scenario`` (as asked) loaded as an experiment named as ``scenario``, and its
    folder; None when there is none (or its outputs no longer read)."""
    folder = find_run(out_root, run_key(scenario, replications))
    if folder is None:
        return None
    try:
        outputs = load_outputs(folder / OUTPUTS_FILE)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    rule = manifest.get("replication_rule")
    rule = rule if isinstance(rule, dict) and rule.get("method") != "fixed" else None
    n = len(outputs)
    pinned = scenario if scenario.run.replications == n else _with_count(scenario, n)
    return Experiment(pinned, outputs, requested=n, rule=rule), folder


def _with_count(scenario: Scenario, n: int) -> Scenario:
    return scenario.model_copy(update={"run": scenario.run.model_copy(update={"replications": n})})
