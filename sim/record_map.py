"""The column map: how a province's records (an event log or a dossier register) name what dvclab reads.

A YAML file, validated like a scenario: unknown keys get a "did you mean", each error names its field
path and the line of the map it is on. ``columns`` names the record's columns (for XES: attribute keys,
trace attributes as ``case:KEY``); only ``case``, ``activity`` and a timestamp (``complete`` or
``start``) are required, so a generic process-mining log (case, activity, timestamp, resource) maps too.
``activities`` says which of the record's activity names play which part of a dossier's journey; a log
without them is read as a plain sequence of work. The shipped map of the one-stop register format is
``scenarios/records/one-stop-register.yaml``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dvclab.catalog import Channel, Level
from dvclab.hints import did_you_mean, yaml_error
from dvclab.paths import shipped

REGISTER_MAP = ("records", "one-stop-register.yaml")


class RecordsError(ValueError):
    """Records or a map that cannot be read; the message names the file, row and column, and what was
    expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    case: str = Field(description="the dossier's identifier (receipt code)")
    activity: str
    start: str | None = Field(None, description="when the activity started")
    complete: str | None = Field(None, description="when it completed (the timestamp of a one-stamp log)")
    resource: str | None = Field(None, description="the officer, counter or system that did it")
    procedure_code: str | None = None
    procedure_name: str | None = None
    procedure_group: str | None = None
    level: str | None = None
    unit: str | None = None
    channel: str | None = None
    received_at: str | None = None
    due_at: str | None = None
    finished_at: str | None = None
    returned_at: str | None = None
    return_method: str | None = None
    paid_online: str | None = None
    supplement_requested: str | None = None

    def named(self) -> dict[str, str]:
        """Field -> the record's column, for the columns the map names."""
        return {field: column for field, column in self.model_dump().items() if column}


class Activities(_Strict):
    """The record's activity names for each part of the journey (any may stay empty)."""

    receive: list[str] = Field(default_factory=list, description="reception at a counter, the portal or post")
    examine: list[str] = Field(default_factory=list, description="an officer examines and drafts")
    rework: list[str] = Field(default_factory=list, description="examined again after a supplement")
    request_supplement: list[str] = Field(default_factory=list)
    receive_supplement: list[str] = Field(default_factory=list, description="the citizen's answer arrives")
    decide: list[str] = Field(default_factory=list, description="the result is signed and issued")
    return_result: list[str] = Field(default_factory=list)

    def role_of(self) -> dict[str, str]:
        return {name: role for role, names in self.model_dump().items() for name in names}


class RecordMap(_Strict):
    format: Literal["csv", "xlsx", "xes"] | None = Field(None, description="default: from the extension")
    sheet: str | None = Field(None, description="xlsx: the sheet to read (default: the first)")
    delimiter: str = ","
    timezone: str = Field("Asia/Ho_Chi_Minh", description="where naive timestamps were taken")
    timestamp_format: str | None = Field(None, description="strptime format; default ISO 8601")
    columns: Columns
    activities: Activities = Activities()
    channels: dict[str, Channel] = Field(default_factory=dict, description="record value -> channel")
    levels: dict[str, Level] = Field(default_factory=dict, description="record value -> level")
    true_values: list[str] = ["true", "1", "yes", "y", "có", "x"]
    # Set by load_map: where the file was (for messages).
    source: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; e.g. Asia/Ho_Chi_Minh or UTC") from None
        return name

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, text: str) -> str:
        if len(text) != 1:
            raise ValueError(f"a delimiter is one character, got {text!r}")
        return text

    @property
    def zone(self) -> dt.tzinfo:
        return ZoneInfo(self.timezone)

    def format_of(self, path: Path) -> str:
        if self.format:
            return self.format
        suffix = path.suffix.lower().lstrip(".")
        if suffix in ("csv", "xlsx", "xes"):
            return suffix
        if suffix in ("txt", "tsv"):
            return "csv"
        raise RecordsError(
            f"{path}: cannot tell the format from {path.suffix!r}; set format: csv|xlsx|xes in the map"
        )


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line (1-based) of the key at ``loc`` in the YAML, or of its nearest parent key that exists."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = RecordMap
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def load_map(path: str | Path | None = None) -> RecordMap:
    """Read and validate a column map (default: the shipped one-stop register map)."""
    path = Path(path) if path is not None else shipped(*REGISTER_MAP)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordsError(f"{path}: column map not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecordsError(f"{path}: cannot read the column map ({error})") from None
    try:
        data = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as bad:
        raise RecordsError(yaml_error(path, bad)) from None
    if not isinstance(data, dict):
        raise RecordsError(f"{path}: a column map is a mapping of fields, got {type(data).__name__}")
    data["source"] = str(path)
    try:
        return RecordMap.model_validate(data)
    except ValidationError as error:
        lines = [f"{path}: {error.error_count()} invalid field(s)"]
        for item in error.errors():
            loc = tuple(item["loc"])
            where = ".".join(str(part) for part in loc) or "(top level)"
            line = _line_of(root, loc)
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                parent = _model_at(loc[:-1])
                message = "unknown field"
                if parent is not None:
                    message += did_you_mean(str(loc[-1]), parent.model_fields)
                    message += (
                        f"; allowed: {', '.join(sorted(f for f in parent.model_fields if f != 'source'))}"
                    )
            elif item["type"] == "missing":
                message = "required"
            lines.append(f"  {path}:{line}: {where}: {message}" if line else f"  {where}: {message}")
        raise RecordsError("\n".join(lines)) from None
