"""The assumptions a scenario file marks as estimates (EST) or to be checked (VERIFY), quoted as written.

The report's "data and assumptions" table shows each marked key with its value and its comment exactly as
the file has them (a flow list over several lines, a block of staffing figures, a comment continued on the
next line), never a re-serialised form: the reader can find the line in the file and argue with it.
PyYAML's composer gives each key's and value's position in the text; comments are read from the lines.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

MARK = re.compile(r"\b(EST|VERIFY)\b")


@dataclass(frozen=True)
class Assumption:
    file: str  # the scenario file's name (a what-if lists its own and then its parent's)
    path: str  # dotted, as the CLI's --set and the changes table name it
    value: str  # the value as written (several lines for a block or a wrapped list)
    comment: str  # the comment beside the key, its continuation lines and the comment right above it

    def as_row(self) -> tuple[str, str, str, str]:
        return self.file, self.path, self.value, self.comment


def comment_of(line: str) -> tuple[int, str] | None:
    """The column and text of a line's comment: a ``#`` at the start or after a blank, outside quotes."""
    quote = ""
    for column, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (column == 0 or line[column - 1] in " \t"):
            return column, line[column + 1 :].strip()
    return None


def _only_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _comments_beside(lines: list[str], key: yaml.Node, value: yaml.Node) -> list[str]:
    """The comment on the key's line (or, for a scalar or list over several lines, on its last line) and
    the comment-only lines below it that continue it in the same column."""
    block = isinstance(value, yaml.MappingNode | yaml.SequenceNode) and not value.flow_style
    literal = isinstance(value, yaml.ScalarNode) and value.style in ("|", ">")
    # a block's or a literal's end mark is on the line of what follows it
    last = key.start_mark.line if block or literal else value.end_mark.line
    found: list[str] = []
    for number in dict.fromkeys((key.start_mark.line, last)):
        comment = comment_of(lines[number]) if number < len(lines) else None
        if comment is None:
            continue
        column, words = comment
        found.append(words)
        below = number + 1
        while below < len(lines) and _only_comment(lines[below]):
            more = comment_of(lines[below])
            if more is None or more[0] != column:
                break
            found.append(more[1])
            below += 1
    return found


def _comments_above(lines: list[str], key: yaml.Node, first_key_line: int) -> list[str]:
    """Comment-only lines right above the key at its indentation (a blank line in between, or the file's
    header before its first key, notes no key)."""
    found: list[str] = []
    above = key.start_mark.line - 1
    while above > first_key_line - 1 and _only_comment(lines[above]):
        comment = comment_of(lines[above])
        if comment is None or comment[0] != key.start_mark.column:
            break
        found.insert(0, comment[1])
        above -= 1
    return found


def _as_written(text: str, lines: list[str], value: yaml.Node) -> str:
    if (
        isinstance(value, yaml.MappingNode | yaml.SequenceNode)
        and not value.flow_style
        or (isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"))
    ):
        # a block: its lines from the first entry to the last, at their relative indentation
        # (its end mark is where the next token starts: the lines indented less belong to what follows)
        block = [line for line in lines[value.start_mark.line : value.end_mark.line + 1] if line.strip()]
        indent = value.start_mark.column
        block = [line for line in block if len(line) - len(line.lstrip()) >= indent]
        return textwrap.dedent("\n".join(block)).rstrip()
    written = text[value.start_mark.index : value.end_mark.index]
    return textwrap.dedent(" " * value.start_mark.column + written).strip()


def _walk(node: yaml.Node, prefix: str = "") -> list[tuple[str, yaml.Node, yaml.Node]]:
    """Every key of the block mappings, dotted (a flow mapping ``{a: 1}`` is one value, as written)."""
    entries = []
    if isinstance(node, yaml.MappingNode) and not node.flow_style:
        for key, value in node.value:
            path = f"{prefix}{key.value}"
            entries.append((path, key, value))
            entries += _walk(value, path + ".")
    return entries


def marked_in_file(path: Path) -> tuple[list[Assumption], Path | None]:
    """The marked keys of one scenario file, in file order, and the file it extends (if any)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    root = yaml.compose(text)
    entries = _walk(root) if root is not None else []
    first_key_line = min((key.start_mark.line for _, key, _ in entries), default=0)
    found: list[Assumption] = []
    parent = None
    for dotted, key, value in entries:
        if dotted == "extends" and isinstance(value, yaml.ScalarNode):
            parent = path.parent / value.value
        if any(dotted.startswith(marked.path + ".") for marked in found):
            continue  # inside a block already quoted whole
        comments = _comments_above(lines, key, first_key_line) + _comments_beside(lines, key, value)
        if any(MARK.search(words) for words in comments):
            found.append(Assumption(path.name, dotted, _as_written(text, lines, value), " ".join(comments)))
    return found, parent


def estimated_parameters(source: str) -> list[tuple[str, str, str, str]]:
    """(file, parameter, value, note) for every key a scenario file (and what it extends) marks EST or
    VERIFY in a comment beside it, continued below it, or on the lines right above it."""
    rows: list[tuple[str, str, str, str]] = []
    path: Path | None = Path(source) if source else None
    seen: set[Path] = set()
    while path is not None and path.is_file() and path not in seen:
        seen.add(path)
        found, parent = marked_in_file(path)
        rows += [assumption.as_row() for assumption in found]
        path = parent.resolve() if parent else None
    return rows
