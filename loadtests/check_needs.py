"""What a security check needs of the portal map, and where its limits come from.

Each check declares (``check_registry.NEEDS``) the map steps its probe sends, the limits it judges
against, whether it needs the portal's database as ground truth, and, for the checks not yet bound to
map steps, why they need the reference portal's own API. Before a probe runs, :func:`unmet` says what is
missing (the check is then "not run: <reason>", never pass and never fail).

A limit is read, in this order: from the portal's own answer to the step (``RateLimit-Policy`` in the
structured form of draft-ietf-httpapi-ratelimit-headers or its older ``30;w=60`` form,
``RateLimit-Limit``, ``X-RateLimit-Limit``, with the window from ``w=``, ``RateLimit-Window`` or
``X-RateLimit-Window``); else from the profile's ``limits:`` when the portal is the reference one the
profile sets up; else from the map's ``limits:``. A limit found nowhere is :class:`MissingLimit`, whose
message names the field to declare. No Locust here: the registry imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dvclab.load import data
from dvclab.load.portal_map import placeholders_of

if TYPE_CHECKING:
    from dvclab.load.portal_map import PortalMap
    from dvclab.load.profiles import Profile

# Ground truth: none (the answers decide), confirms (the database adds figures when given), required
# (the invariant is about stored state: without the database the check cannot be judged).
Truth = Literal["none", "confirms", "required"]
NO_PROXY = "many client addresses need the generator to be a trusted proxy (forwarded_clients: true)"
NO_TRUTH = "no database ground truth (give --db-url URL, read-only, of the portal's database)"

# What a value a check sets stands for, in a reason it is "not run" (the portal takes no ...).
SENT_VALUES = {
    "idempotency_key": "idempotency key on new dossiers (an Idempotency-Key header, say)",
    "payment_ref": "payment reference in its gateway's callback",
    "amount": "amount in its gateway's callback",
}

# Limits read from the map (or the profile) only: no portal announces them in its headers.
VALUE_LIMITS = (
    "lockout_threshold",
    "lockout_window",
    "max_file_bytes",
    "max_files_per_dossier",
    "max_page_size",
)


@dataclass(frozen=True)
class Needs:
    """A check's declaration: map steps, limits (``rate:<step>`` for a step's rate limit, announced or
    declared; ``drafts_per_citizen`` / ``drafts_per_address`` for flow quotas; or a name of
    :data:`VALUE_LIMITS`), ground truth, many client addresses, and the reason it is bound to the
    reference API only (empty when it runs from the map's steps)."""

    steps: tuple[str, ...] = ()
    captures: tuple[tuple[str, str], ...] = ()  # (step, capture) the check reads
    sends: tuple[tuple[str, str], ...] = ()  # (step, value) the step's request must carry: the check sets it
    signs: tuple[str, ...] = ()  # steps the test must sign (the gateway's callback: `sign` in the map)
    limits: tuple[str, ...] = ()
    truth: Truth = "none"
    many_addresses: bool = False
    reference_only: str = ""


class MissingLimit(Exception):
    """A limit a check judges against that neither the portal's answers nor the map declare."""


def where_to_declare(limit: str) -> str:
    """The map field that declares ``limit``."""
    if limit.startswith("rate:"):
        return f"limits.rate_limits.{limit[5:]} ({{limit, window}})"
    if limit.startswith(("drafts_", "otp_")):
        return f"limits.{limit} ({{limit, window}})"
    return f"limits.{limit}"


def missing(limit: str, announced: bool) -> MissingLimit:
    what = f"no rate limit for step '{limit[5:]}'" if limit.startswith("rate:") else f"no {limit}"
    heard = " (the portal's answers announce none)" if announced else ""
    return MissingLimit(f"{what}{heard}: declare {where_to_declare(limit)} in the portal map")


def unmet(needs: Needs, portal_map: PortalMap, profile: Profile) -> str:
    """Why a check cannot run on this map and profile ("" when it can); rate limits and quotas are
    resolved during the probe (the portal may announce them)."""
    if needs.reference_only and not portal_map.reference_api:
        return f"not bound to the portal map {portal_map.name!r}: {needs.reference_only}"
    lacking = [s for s in needs.steps if not portal_map.has(s)]
    if lacking:
        return f"the portal map {portal_map.name!r} has no step {', '.join(map(repr, lacking))}"
    for step, capture in needs.captures:
        if capture not in portal_map.steps[step].capture:
            return f"the portal map's {step} step captures no '{capture}' (add it to steps.{step}.capture)"
    for step, value in needs.sends:
        if value not in placeholders_of(portal_map.steps[step]):
            what = SENT_VALUES.get(value, f"{{{{ {value} }}}}")
            return f"the portal map's {step} step sends no {{{{ {value} }}}}: the portal takes no {what}"
    for step in needs.signs:
        if portal_map.steps[step].sign is None:
            return (
                f"the portal map's {step} step is not signed: the test cannot sign the gateway's "
                f"callback (give steps.{step}.sign)"
            )
    if needs.many_addresses and not profile.forwarded_clients:
        return NO_PROXY
    for limit in needs.limits:
        if limit in VALUE_LIMITS:
            try:
                value_limit(portal_map, profile, limit)
            except MissingLimit as error:
                return str(error)
    return ""


def profile_overrides(portal_map: PortalMap, profile: Profile) -> Mapping[str, Any]:
    """The limits the profile sets explicitly, which hold for the reference portal it sets up (the
    embedded portal gets the same settings); another map's portal has its own, in its map."""
    if not portal_map.reference_api:
        return {}
    return {k: getattr(profile.limits, k) for k in profile.limits.model_fields_set}


def value_limit(portal_map: PortalMap, profile: Profile, name: str) -> Any:
    """A limit no portal announces (T, the lock's length, upload bounds): the profile's, else the map's."""
    overrides = profile_overrides(portal_map, profile)
    if name in overrides:
        return overrides[name]
    value = getattr(portal_map.limits, name, None)
    if value is None:
        raise missing(name, announced=False)
    return value


def announced(headers: Mapping[str, str], policy: str | None = None) -> tuple[int | None, float | None]:
    """(limit, window in seconds) a portal's answer announces, from lower-case ``headers``; ``policy``
    picks one named policy of a structured ``RateLimit-Policy`` (the reference portal names them)."""
    limit: int | None = None
    window: float | None = None
    for item in _items(headers.get("ratelimit-policy", "")):
        name, params = item
        if policy is not None and name is not None and name != policy:
            continue
        quota = params.get("q", params.get(""))
        if quota is not None:
            limit, window = int(quota), params.get("w")
            break
    if limit is None:
        for key in ("ratelimit-limit", "x-ratelimit-limit"):
            value = headers.get(key, "").split(",")[0].split(";")[0].strip()
            if value.isdigit():
                limit = int(value)
                break
    if window is None:
        for key in ("ratelimit-window", "x-ratelimit-window"):
            value = headers.get(key, "").strip()
            if value.isdigit():
                window = int(value)
                break
    return limit, (float(window) if window is not None else None)


def _items(value: str) -> list[tuple[str | None, dict[str, int]]]:
    """``"a";q=60;w=3600, "b";q=5`` → [("a", {q: 60, w: 3600}), ("b", {q: 5})]; ``30;w=60`` (an older
    draft: the quota first, unnamed) → [(None, {"": 30, "w": 60})]."""
    found = []
    for raw in value.split(","):
        head, *params = [p.strip() for p in raw.split(";")]
        if not head:
            continue
        values = {k: int(v) for k, _, v in (p.partition("=") for p in params) if v.isdigit()}
        if head.isdigit():
            found.append((None, {"": int(head), **values}))
        else:
            found.append((head.strip('"'), values))
    return found


ANNOUNCED = "announced by the portal"


@dataclass
class RateFound:
    limit: int
    window_s: float
    source: str  # "announced by the portal", "the map", "the profile"

    def shown(self) -> dict[str, Any]:
        return {"L": self.limit, "window_s": self.window_s, "limit_from": self.source}


def rate_limit(
    portal_map: PortalMap,
    step: str,
    responses: Iterable[Any],
    policy: str | None = None,
    quota: str | None = None,
) -> RateFound:
    """A step's rate limit: announced on one of ``responses`` (the window too, or the map's), else the
    map's ``limits.rate_limits.<step>`` (or ``limits.<quota>``, a flow quota such as drafts_per_citizen);
    :class:`MissingLimit` naming the field."""
    if quota is not None:
        declared = getattr(portal_map.limits, quota)
    else:
        declared = portal_map.limits.rate_limits.get(step)
    field = quota or f"rate:{step}"
    heard: int | None = None
    for response in responses:
        if response is None:
            continue
        limit, window = announced(data.lower_headers(response), policy)
        if limit is None:
            continue
        heard = limit
        window = window or (declared.window if declared is not None else None)
        if window:
            return RateFound(limit, window, ANNOUNCED)
    if declared is not None:
        return RateFound(declared.limit, declared.window, "the map")
    if heard is not None:
        raise MissingLimit(
            f"step '{step}' announces a limit of {heard} but no window: declare "
            f"{where_to_declare(field)} in the portal map"
        )
    raise missing(field, announced=False)
