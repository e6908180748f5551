"""Portal maps (``scenarios/load/maps/*.yaml``): how a portal's own API says each journey step, as data.

A map gives the portal's base URL and health path, its authentication (a bearer token taken from a
capture, or a cookie session; a CSRF token sent as a header or a form field; when a token runs out), its
test accounts and procedure codes, and for each step (catalog search, detail, login, create, upload,
submit, pay, the gateway's callback, track, rate, the officer's queue and transitions, the sync feed)
the request (method, path template, headers, query, a JSON / form / multipart / raw body), what to
capture from the answer (JMESPath on JSON, a regex or a CSS selector on HTML, a header, a cookie) and
which statuses count as success or as an expected refusal. Journeys (``users.py``) are compositions of
these steps; a journey whose required steps a map lacks is skipped and reported as such.

A bad map is rejected with the field path and what is allowed (``MapError``, exit 2 in the CLI), like
the load profiles.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dvclab.hints import did_you_mean
from dvclab.load.map_templates import compile_template, placeholders
from dvclab.load.yaml_files import read_yaml, validated
from dvclab.paths import shipped

MAP_DIR = shipped("load", "maps")
DEFAULT_MAP = "reference"

# The steps journeys are composed of (a map may define others, run through a step's `before`).
STEPS = (
    "search",  # catalog search (may capture procedure_code: the portal's own code for the procedure)
    "detail",  # one procedure's page
    "login",  # an account's login (citizen, officer, sync): opens the session
    "create",  # a new dossier for a procedure: captures `dossier`
    "upload",  # one document attached to the dossier
    "submit",  # captures `receipt`, the receipt code the citizen tracks with
    "pay",  # opens the payment (the gateway answers the portal on its own)
    "callback",  # the payment gateway's signed callback (where the test can sign it)
    "track",  # anonymous tracking by receipt code
    "status",  # the citizen reads their dossier: captures `status`
    "rate",  # the citizen rates the service once the dossier is decided
    "statistics",  # public statistics
    "queue",  # the officer's work queue: captures `queue`, the dossier ids in it
    "receive",
    "supplement",
    "decide",
    "return",
    "sync",  # the national portal's status-change feed: captures `next_cursor` and `count`
)
# Steps only the security checks use (no journey needs them): a map that lacks one leaves the checks
# that need it "not run", saying so.
CHECK_STEPS = (
    "logout",  # ends the session (C20: the old token or cookie must stop working)
    "search_page",  # the catalog search, paged (C12): query, page, page_size; captures `items`
    "dossier_list",  # a citizen's own dossiers, paged (C12): page, page_size; captures `items`
    "phone_code",  # asks for a phone-verification code by SMS (C19): {{ phone }}
)
# The test data a check step's request must carry (the check varies it): a step that ignores it would
# send the same request every time and the check would judge nothing.
CHECK_STEP_VALUES = {
    "search_page": ("query", "page", "page_size"),
    "dossier_list": ("page", "page_size"),
    "phone_code": ("phone",),
}
# What a journey reads from a step's captures: the step is useless to it without them.
REQUIRED_CAPTURES = {
    "create": ("dossier",),
    "submit": ("receipt",),
    "status": ("status",),
    "queue": ("queue",),
    "sync": ("next_cursor",),
    "search_page": ("items",),  # how many records the page holds (C12: a huge page must be capped)
    "dossier_list": ("items",),
}
# Steps each journey cannot do without; its other steps are left out when the map lacks them.
JOURNEY_STEPS = {
    "citizen_online": ("login", "create", "submit"),
    "assisted": ("login", "create", "submit"),
    "officer": ("login", "queue", "receive"),
    "tracker": ("track",),
    "sync": ("login", "sync"),
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class MapError(ValueError):
    """A portal map that cannot be used; the message names the file, the field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class Capture(_Strict):
    """One value taken from an answer: exactly one source."""

    json_: str | None = Field(default=None, alias="json")  # a JMESPath expression on the JSON body
    regex: str | None = None  # on the body text: the first group (or the whole match)
    css: str | None = None  # a CSS selector on an HTML body: the first match's `attr`, or its text
    attr: str | None = None
    header: str | None = None
    cookie: str | None = None
    default: Any = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        sources = [k for k in ("json_", "regex", "css", "header", "cookie") if getattr(self, k) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one source: json, regex, css, header or cookie")
        if self.attr is not None and self.css is None:
            raise ValueError("attr goes with css")
        if self.json_ is not None:
            import jmespath

            try:
                jmespath.compile(self.json_)
            except jmespath.exceptions.JMESPathError as bad:
                raise ValueError(f"json: not a JMESPath expression: {bad}") from None
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as bad:
                raise ValueError(f"regex: {bad}") from None
        if self.css is not None:
            import soupsieve

            try:
                soupsieve.compile(self.css)
            except soupsieve.SelectorSyntaxError as bad:
                raise ValueError(f"css: {str(bad).splitlines()[0]}") from None
        return self

    @property
    def source(self) -> str:
        return next(k.rstrip("_") for k in ("json_", "regex", "css", "header", "cookie") if getattr(self, k))


class Part(_Strict):
    """One multipart field: a file (``filename``, ``content``, ``type``) or a plain value."""

    value: Any = None
    filename: str | None = None
    content: str | None = None  # a template; bytes come from test data such as {{ document }}
    type: str = "application/octet-stream"

    @model_validator(mode="after")
    def _file_or_value(self) -> Part:
        if (self.content is None) == (self.value is None):
            raise ValueError("give either value, or content (and filename) for a file")
        return self


class Signing(_Strict):
    """How the test signs a gateway callback: Standard Webhooks (HMAC-SHA256 over id.timestamp.body)."""

    kind: Literal["standard-webhooks"] = "standard-webhooks"
    secret: str = "dvclab-dev-gateway-secret"  # noqa: S105 - the reference portal's documented test value


class Step(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    name: str | None = None  # as reported in summary.json; default "<METHOD> <path with {placeholders}>"
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    json_: Any = Field(default=None, alias="json")
    form: dict[str, Any] | None = None
    multipart: dict[str, Part] | None = None
    body: str | None = None  # raw, with a Content-Type header of your own
    sign: Signing | None = None
    auth: bool = True  # send the session's credentials (bearer token, CSRF token)
    ok: list[int] = Field(default_factory=lambda: [200])
    refusals: list[int] = Field(default_factory=list)  # expected refusals: never failures
    capture: dict[str, Capture] = Field(default_factory=dict)
    when: dict[str, list[Any]] = Field(default_factory=dict)  # run only if each capture has one of these
    before: list[str] = Field(default_factory=list)  # steps to run first (a form page for its CSRF token)
    follow_redirects: bool = False

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_body(self) -> Step:
        bodies = [k for k in ("json_", "form", "multipart", "body") if getattr(self, k) is not None]
        if len(bodies) > 1:
            raise ValueError(f"one body at most, got {' and '.join(b.rstrip('_') for b in bodies)}")
        if self.sign is not None and self.json_ is None and self.body is None:
            raise ValueError("sign needs a json or raw body to sign")
        for status in (*self.ok, *self.refusals):
            if not 100 <= status <= 599:
                raise ValueError(f"status {status} is not an HTTP status")
        return self

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {PLACEHOLDER_RE.sub(_brace, self.path)}"


PLACEHOLDER_RE = re.compile(r"{{\s*([^}]*?)\s*}}")


def placeholders_of(step: Step) -> list[str]:
    """The values a step's request names (path, query, headers, bodies), by their first name part."""
    texts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, Part):
            collect([value.value, value.filename, value.content])

    collect([step.path, step.headers, step.query, step.json_, step.form, step.body])
    collect(list((step.multipart or {}).values()))
    return [m.split(".")[0].split("|")[0].strip() for t in texts for m in PLACEHOLDER_RE.findall(t)]


def _brace(match: re.Match[str]) -> str:
    return "{" + match.group(1).split(".")[-1].split("|")[0].strip() + "}"


class Bearer(_Strict):
    capture: str = "token"
    header: str = "Authorization"
    prefix: str = "Bearer "


class Csrf(_Strict):
    """Where the session's CSRF token (a capture of some step) goes on unsafe requests."""

    capture: str = "csrf"
    header: str | None = None  # e.g. X-CSRF-Token
    field: str | None = None  # a form or multipart field, e.g. csrf_token

    @model_validator(mode="after")
    def _somewhere(self) -> Csrf:
        if (self.header is None) == (self.field is None):
            raise ValueError("send the CSRF token as a header or as a form field (one of them)")
        return self


class Auth(_Strict):
    kind: Literal["bearer", "cookie", "none"] = "bearer"
    bearer: Bearer = Field(default_factory=Bearer)
    session_cookie: str | None = None  # cookie sessions: the cookie that carries the session (informative)
    csrf: Csrf | None = None
    expires_in: str | None = None  # a capture of the login step: the session's lifetime in seconds


class Account(_Strict):
    id: str  # a format string; citizens are numbered: "03609{n:07d}"
    password: str


def _reference_accounts() -> dict[str, Account]:
    return {
        "citizen": Account(id="03609{n:07d}", password="Citizen@2024"),  # noqa: S106 - demo accounts
        "officer": Account(id="036080000001", password="Officer@2024"),  # noqa: S106
        "sync": Account(id="036070000001", password="Sync@2024"),  # noqa: S106
    }


class Procedures(_Strict):
    """The portal's own procedure codes: the catalog's code unless the table maps it; or, with
    ``lookup: search``, what the catalog search step captures as ``procedure_code`` (a journey that has
    not searched searches first, for ``{{ catalog_code }}``). With ``only_mapped``, procedures missing
    from the table are left out of the mix."""

    codes: dict[str, str | int] = Field(default_factory=dict)
    only_mapped: bool = False
    lookup: Literal["table", "search"] = "table"


def _seconds(value: Any) -> float:
    """Seconds, or a duration like "15m" or "1h30m" (the gate's syntax)."""
    from dvclab.gate.rules import parse_duration

    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value)


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]


class RateLimit(_Strict):
    """A step's rate limit, as the portal enforces it: ``limit`` requests per ``window`` per key."""

    limit: int = Field(ge=1)
    window: Seconds
    per: Literal["address", "account"] = "address"  # what the portal counts by


class MapLimits(_Strict):
    """The limits the portal enforces, for the security checks that judge them. A limit the portal
    announces in its answers (RateLimit-Policy, RateLimit-Limit, X-RateLimit-Limit) is read from there
    first; one it does not announce is read from here; a check whose limit is in neither is "not run",
    naming the field to add."""

    lockout_threshold: int | None = Field(default=None, ge=1)  # T: wrong passwords before an account locks
    lockout_window: Seconds | None = None  # how long the lock lasts
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict)  # by step name (track, login, create)
    max_file_bytes: int | None = Field(default=None, ge=1)  # one upload's largest size
    max_files_per_dossier: int | None = Field(default=None, ge=1)
    drafts_per_citizen: RateLimit | None = None  # new dossiers (flow quotas, C21)
    drafts_per_address: RateLimit | None = None
    max_page_size: int | None = Field(default=None, ge=1)  # the most records a paged list answers (C12)
    otp_per_phone: RateLimit | None = None  # phone-verification codes per phone number (C19)
    otp_per_address: RateLimit | None = None  # ... per client address, whatever the phone


class DatabaseQueries(_Strict):
    """How the portal's database answers the checks' ground-truth questions (``--db-url``): SQL by the
    names of ``ground_truth.QUERIES``, with their parameters. The reference portal's are built in."""

    queries: dict[str, str] = Field(default_factory=dict)

    @field_validator("queries", mode="after")
    @classmethod
    def _known(cls, queries: dict[str, str]) -> dict[str, str]:
        from dvclab.load.ground_truth import QUERIES

        unknown = [n for n in queries if n not in QUERIES]
        if unknown:
            name = unknown[0]
            raise ValueError(
                f"unknown query '{name}'{did_you_mean(name, QUERIES)}; known: {', '.join(QUERIES)}"
            )
        return queries


class PortalMap(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    health: str = Field(default="/healthz", pattern=r"^/")
    # The portal is the reference one: its database schema is the built-in ground truth, a profile's own
    # `limits:` hold for it, and a check declared reference-only (none is today) runs only then.
    reference_api: bool = False
    auth: Auth = Field(default_factory=Auth)
    accounts: dict[Literal["citizen", "officer", "sync"], Account] = Field(
        default_factory=_reference_accounts
    )
    procedures: Procedures = Field(default_factory=Procedures)
    limits: MapLimits = Field(default_factory=MapLimits)
    ground_truth: DatabaseQueries = Field(default_factory=DatabaseQueries)
    steps: dict[str, Step]

    @field_validator("accounts", mode="after")
    @classmethod
    def _all_roles(cls, accounts: dict[str, Account]) -> dict[str, Account]:
        return {**_reference_accounts(), **accounts}

    @model_validator(mode="after")
    def _consistent(self) -> PortalMap:
        problems = []
        for name, step in self.steps.items():
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                problems.append(f"steps.{name}: a step name is lower_snake_case")
            for needed in REQUIRED_CAPTURES.get(name, ()):
                if needed not in step.capture:
                    problems.append(f"steps.{name}.capture: needs '{needed}' (journeys read it)")
            for earlier in step.before:
                if earlier not in self.steps:
                    problems.append(
                        f"steps.{name}.before: no step '{earlier}'{did_you_mean(earlier, self.steps)}"
                    )
                elif earlier in STEPS:
                    problems.append(f"steps.{name}.before: '{earlier}' is a journey step, not a preparation")
        for name, needed in CHECK_STEP_VALUES.items():
            step = self.steps.get(name)
            said = set(placeholders_of(step)) if step is not None else set(needed)
            for value in needed:
                if value not in said:
                    problems.append(
                        f"steps.{name}: its request must carry {{{{ {value} }}}} (the check varies it; "
                        "in the path, query, headers or body)"
                    )
        referenced = {b for s in self.steps.values() for b in s.before}
        for name in self.steps:
            if name not in STEPS and name not in CHECK_STEPS and name not in referenced:
                problems.append(
                    f"steps.{name}: unknown step{did_you_mean(name, (*STEPS, *CHECK_STEPS))}; journey "
                    f"steps: {', '.join(STEPS)}; check steps: {', '.join(CHECK_STEPS)} (another step "
                    "must be named in some step's `before`)"
                )
        for name in self.limits.rate_limits:
            if name not in self.steps:
                problems.append(
                    f"limits.rate_limits.{name}: the map has no step '{name}'{did_you_mean(name, self.steps)}"
                    " (a rate limit is declared for a step the checks send)"
                )
        if self.procedures.lookup == "search":
            search = self.steps.get("search")
            if search is None or "procedure_code" not in search.capture:
                problems.append("procedures.lookup: search needs a search step capturing 'procedure_code'")
        login = self.steps.get("login")
        if login is not None and self.auth.kind == "bearer" and self.auth.bearer.capture not in login.capture:
            problems.append(f"steps.login.capture: needs '{self.auth.bearer.capture}' (auth.bearer.capture)")
        if problems:
            raise ValueError("\n".join(problems))  # one line each, every one with its field path
        return self

    def has(self, step: str) -> bool:
        return step in self.steps

    def missing(self, journey: str) -> list[str]:
        return [s for s in JOURNEY_STEPS[journey] if s not in self.steps]

    def skipped_journeys(self) -> dict[str, str]:
        """Journeys this map cannot run, with the reason."""
        reasons = {}
        for journey in JOURNEY_STEPS:
            lacking = self.missing(journey)
            if lacking:
                reasons[journey] = f"the map {self.name!r} has no step {', '.join(map(repr, lacking))}"
        return reasons

    def portal_code(self, catalog_code: str) -> str | int | None:
        code = self.procedures.codes.get(catalog_code)
        if code is None and self.procedures.only_mapped:
            return None
        return catalog_code if code is None else code


def step_placeholders(step: Step) -> set[str]:
    """Every top-level name a step's templates read (test data or captures)."""
    texts: list[str] = [step.path, *step.headers.values()]
    texts += [v for v in step.query.values() if isinstance(v, str)]
    if step.body:
        texts.append(step.body)
    for source in (step.json_, step.form):
        texts += _strings(source)
    for part in (step.multipart or {}).values():
        texts += [t for t in (part.content, part.filename, part.value) if isinstance(t, str)]
    return {name.split(".")[0] for text in texts for name in placeholders(text)}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _format_errors(path: Path | str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        where = ".".join(loc) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            model = _model_at(item["loc"][:-1])
            allowed = [f.alias or k for k, f in model.model_fields.items()] if model else []
            message = f"unknown field '{loc[-1]}'{did_you_mean(loc[-1], allowed)}"
            if allowed:
                message += f"; allowed: {', '.join(allowed)}"
        elif item["type"] == "literal_error":
            choices = re.findall(r"'([^']*)'", str(item.get("ctx", {}).get("expected", "")))
            message += f" (got {item.get('input')!r}){did_you_mean(str(item.get('input')), choices)}"
        if where == "(top level)" and message.startswith(("steps.", "procedures.", "auth.", "limits.")):
            lines += [f"{path}: {line}" for line in message.splitlines()]
            continue
        lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)


# Fields that hold a mapping of named models: the model of each entry (to list its allowed fields).
_ENTRIES: dict[tuple[type[BaseModel], str], type[BaseModel]] = {}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model at a validation-error location, to list its allowed fields (steps.<name> is a Step)."""
    model: Any = PortalMap
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        entry = _ENTRIES.get((model, str(part)))
        if entry is not None:
            if not parts:
                return None
            parts.pop(0)  # the entry's name
            model = entry
            continue
        field = {(f.alias or k): f for k, f in getattr(model, "model_fields", {}).items()}.get(str(part))
        if field is None:
            return None
        inner = getattr(field.annotation, "__args__", (field.annotation,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return None
    return model


_ENTRIES.update(
    {
        (PortalMap, "steps"): Step,
        (PortalMap, "accounts"): Account,
        (Step, "capture"): Capture,
        (Step, "multipart"): Part,
        (MapLimits, "rate_limits"): RateLimit,
    }
)


def map_names() -> list[str]:
    return sorted(p.stem for p in MAP_DIR.glob("*.yaml"))


def resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return MAP_DIR / f"{name_or_path}.yaml"


def load_map(name_or_path: str | Path = DEFAULT_MAP) -> PortalMap:
    path = resolve(name_or_path)
    listing = f"shipped maps: {', '.join(map_names())}"
    raw = read_yaml(name_or_path, path, MAP_DIR, map_names(), "portal map", listing, MapError)
    return parse_map(raw, path)


def parse_map(raw: Any, path: Path | str = "<map>") -> PortalMap:
    portal_map = validated(raw, PortalMap, path, "portal map", MapError, _format_errors)
    for name, step in portal_map.steps.items():  # compile every template now: errors name the step
        try:
            for text in (step.path, *step.headers.values()):
                compile_template(text)
        except ValueError as bad:
            raise MapError(f"{path}: steps.{name}: {bad}") from None
    return portal_map
