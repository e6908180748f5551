"""Templates and captures of a portal map, compiled once: no Locust here, so tests use them directly.

A template is a string with ``{{ name }}`` or ``{{ name.field }}`` placeholders, filled from the
journey's test data and earlier captures. A string that is one placeholder and nothing else keeps the
value's type (a numeric dossier id stays a number in a JSON body, a document stays bytes). A capture
takes one value from an answer: JMESPath on its JSON, a regex or a CSS selector on its text, a header, a
cookie.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*}}")
LOOSE = re.compile(r"{{(.*?)}}")


class MissingValue(KeyError):
    """A template names a value the journey has not got (no such test data, or a capture not taken)."""

    def __str__(self) -> str:
        return f"no value for {{{{ {self.args[0]} }}}}"


def placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)


def lookup(values: Mapping[str, Any], name: str) -> Any:
    head, *rest = name.split(".")
    try:
        value = values[head]
    except KeyError:
        raise MissingValue(name) from None
    for part in rest:
        if isinstance(value, Mapping):
            if part not in value:
                raise MissingValue(name)
            value = value[part]
        else:
            try:
                value = getattr(value, part)
            except AttributeError:
                raise MissingValue(name) from None
    if value is None:  # a capture that found nothing: the step cannot be sent
        raise MissingValue(name)
    return value


Template = Callable[[Mapping[str, Any]], Any]


def compile_template(text: str) -> Template:
    """A function of the values; raises ValueError for a malformed placeholder."""
    for loose in LOOSE.findall(text):
        if not PLACEHOLDER.fullmatch("{{" + loose + "}}"):
            raise ValueError(f"{{{{{loose}}}}} in {text!r} is not a placeholder like {{{{ dossier }}}}")
    names = PLACEHOLDER.findall(text)
    if not names:
        return lambda _values: text
    whole = PLACEHOLDER.fullmatch(text)
    if whole:
        name = whole.group(1)
        return lambda values: lookup(values, name)
    pieces = PLACEHOLDER.split(text)  # literal, name, literal, name, ..., literal

    def render(values: Mapping[str, Any]) -> str:
        out = []
        for i, piece in enumerate(pieces):
            out.append(_text(lookup(values, piece)) if i % 2 else piece)
        return "".join(out)

    return render


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def compile_tree(value: Any) -> Template:
    """A JSON-like structure whose strings (keys too) are templates."""
    if isinstance(value, str):
        return compile_template(value)
    if isinstance(value, dict):
        items = [(compile_template(str(k)), compile_tree(v)) for k, v in value.items()]
        return lambda values: {k(values): v(values) for k, v in items}
    if isinstance(value, list):
        elements = [compile_tree(v) for v in value]
        return lambda values: [e(values) for e in elements]
    return lambda _values: value


# --- captures ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What a capture reads of a response: status, lower-case headers, body, the session's cookies."""

    status: int
    headers: dict[str, str]
    content: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    @cached_property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @cached_property
    def json(self) -> Any:
        try:
            return json.loads(self.content or b"null")
        except ValueError:
            return None

    @cached_property
    def html(self) -> Any:
        from bs4 import BeautifulSoup

        return BeautifulSoup(self.text, "html.parser")


Extractor = Callable[[Answer], Any]


def compile_capture(capture: Any) -> Extractor:
    """``capture`` is a :class:`dvclab.load.portal_map.Capture`; the function returns None when the
    answer does not hold the value (its ``default`` then)."""
    default = capture.default
    if capture.json_ is not None:
        import jmespath

        expression = jmespath.compile(capture.json_)

        def from_json(answer: Answer) -> Any:
            found = expression.search(answer.json) if answer.json is not None else None
            return default if found is None else found

        return from_json
    if capture.regex is not None:
        pattern = re.compile(capture.regex)

        def from_regex(answer: Answer) -> Any:
            match = pattern.search(answer.text)
            if match is None:
                return default
            return match.group(1) if pattern.groups else match.group(0)

        return from_regex
    if capture.css is not None:
        selector, attr = capture.css, capture.attr

        def from_css(answer: Answer) -> Any:
            element = answer.html.select_one(selector)
            if element is None:
                return default
            found = element.get(attr) if attr else element.get_text(strip=True)
            return default if found is None else found

        return from_css
    if capture.header is not None:
        name = capture.header.lower()
        return lambda answer: answer.headers.get(name, default)
    cookie = capture.cookie
    return lambda answer: answer.cookies.get(cookie, default)
