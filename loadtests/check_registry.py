"""The security checks a load run can select, in the order their probes run and security.json lists them,
and what each needs of the portal map (``NEEDS``).

Everything else is derived from the check objects: the ids a profile may name (``CHECK_IDS``), each
check's name and invariant, which ones the attacker probes. A check is added by writing its class in a
``*_checks.py`` module, placing its object here and declaring its needs. Cheap to import (no Locust, no
gevent): profiles validate against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dvclab.load import (
    auth_checks,
    dossier_checks,
    enumeration_checks,
    login_abuse_checks,
    otp_checks,
    payment_checks,
    quota_checks,
    rate_checks,
    run_checks,
    search_checks,
    session_checks,
    store_checks,
    upload_checks,
)
from dvclab.load.check_needs import Needs, unmet
from dvclab.load.security_checks import SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.portal_map import PortalMap
    from dvclab.load.profiles import Profile


class UnknownCheck(ValueError):
    """A security check id that no check carries."""


def _in_order(checks: tuple[SecurityCheck, ...]) -> tuple[SecurityCheck, ...]:
    """The registry as given, refused (at import: a programming error) with a duplicate id or a check
    placed before one whose probe it reads."""
    placed: set[str] = set()
    for check in checks:
        if check.id in placed:
            raise TypeError(f"security check {check.id} is registered twice")
        early = [needed for needed in check.after if needed not in placed]
        if early:
            raise TypeError(f"security check {check.id} must run after {', '.join(early)}")
        placed.add(check.id)
    return checks


CHECKS: tuple[SecurityCheck, ...] = _in_order(
    (
        rate_checks.C01,
        rate_checks.C15,
        auth_checks.C02,
        auth_checks.C03,
        login_abuse_checks.C04,
        auth_checks.C05,
        store_checks.C06,
        session_checks.C20,
        rate_checks.C08,  # reads the 429s of C01 and C15
        upload_checks.C10,
        upload_checks.C11,
        search_checks.C12,
        dossier_checks.C13,
        dossier_checks.C14,
        quota_checks.C21,
        otp_checks.C19,
        payment_checks.C18,
        payment_checks.C16,
        payment_checks.C17,
        login_abuse_checks.C22,  # the flood late: it slows whatever runs beside it
        enumeration_checks.C09,  # the longest probe (4,000 timed logins), after every other
        run_checks.C07,  # judged from the whole run, after it
        run_checks.L01,
    )
)
BY_ID: dict[str, SecurityCheck] = {check.id: check for check in CHECKS}

LOGIN = ("login",)
T = ("lockout_threshold",)
FILED = ("login", "create", "upload", "submit")  # a dossier filed through the map's steps
PAID = (("pay", "payment_ref"), ("pay", "amount"))  # what the pay step captures: the callback sends them
CALLBACK = (("callback", "payment_ref"), ("callback", "amount"))
# What each check needs: map steps (and what they capture, send, sign), limits (announced by the portal
# or declared in the map's `limits:`), many client addresses, database ground truth. A check that ran
# only on a portal speaking the reference API would say why in `reference_only`; none does now.
NEEDS: dict[str, Needs] = {
    "C01": Needs(steps=("track",), limits=("rate:track",)),
    "C15": Needs(steps=("track",), limits=("rate:track",)),
    "C02": Needs(steps=LOGIN, limits=T, truth="confirms"),
    "C03": Needs(steps=LOGIN, limits=T, truth="confirms"),
    "C04": Needs(steps=LOGIN, limits=(*T, "rate:login"), truth="confirms", many_addresses=True),
    "C05": Needs(steps=LOGIN, limits=T, truth="confirms"),
    "C06": Needs(steps=LOGIN, limits=T, truth="confirms"),
    "C20": Needs(steps=("login", "create", "status", "logout"), limits=T, truth="confirms"),
    "C08": Needs(steps=("track",), limits=("rate:track",)),
    "C10": Needs(steps=("login", "create", "upload", "status"), limits=("max_file_bytes",), truth="confirms"),
    "C11": Needs(
        steps=("login", "create", "upload", "status"), limits=("max_files_per_dossier",), truth="confirms"
    ),
    "C12": Needs(steps=("search_page",), limits=("max_page_size",)),  # and dossier_list when the map has it
    "C13": Needs(steps=("login", "create", "status"), truth="confirms"),
    "C14": Needs(steps=FILED, sends=(("create", "idempotency_key"),), truth="confirms"),
    "C21": Needs(
        steps=("login", "create"), limits=("drafts_per_citizen", "drafts_per_address"), truth="confirms"
    ),
    "C19": Needs(
        steps=("login", "phone_code"),
        limits=("otp_per_phone", "otp_per_address"),  # announced (RateLimit-Policy) or the map's
        many_addresses=True,
        truth="confirms",
    ),
    "C18": Needs(steps=(*FILED, "pay"), captures=PAID, truth="confirms"),
    # 1 payment row, paid: stored state
    "C16": Needs(
        steps=(*FILED, "pay", "callback"),
        captures=PAID,
        sends=CALLBACK,
        signs=("callback",),
        truth="required",
    ),
    # forged events never recorded: stored state
    "C17": Needs(
        steps=(*FILED, "pay", "callback"),
        captures=PAID,
        sends=CALLBACK,
        signs=("callback",),
        truth="required",
    ),
    "C22": Needs(steps=LOGIN, many_addresses=True),
    "C09": Needs(steps=LOGIN, limits=T, many_addresses=True),
    "C07": Needs(),  # every answer of the run, whatever the API
    "L01": Needs(steps=("login", "sync", "track"), captures=(("sync", "receipts"),), truth="confirms"),
}
if set(NEEDS) != set(BY_ID):  # a programming error, at import
    raise TypeError(f"NEEDS and CHECKS differ: {sorted(set(NEEDS) ^ set(BY_ID))}")


def cannot_run(check: SecurityCheck, portal_map: PortalMap, profile: Profile) -> str:
    """Why ``check`` cannot run against this map and profile ("" when it can): a step, a limit, many
    client addresses, or the reference API missing."""
    return unmet(NEEDS[check.id], portal_map, profile)


CHECK_IDS: tuple[str, ...] = tuple(sorted(BY_ID))  # what a profile's security.checks may name


def by_id(check_id: str) -> SecurityCheck:
    try:
        return BY_ID[check_id]
    except KeyError:
        raise UnknownCheck(f"unknown security check {check_id!r}; known: {', '.join(CHECK_IDS)}") from None


def known_id(check_id: str) -> str:
    """A profile's check id, refused with the known ids when no check carries it (a pydantic validator)."""
    return by_id(check_id).id


def selected(check_ids: Iterable[str]) -> list[SecurityCheck]:
    """The checks named, in the registry's order (whatever order the profile lists them in)."""
    wanted = set(check_ids)
    return [check for check in CHECKS if check.id in wanted]


def probed(check_ids: Iterable[str]) -> list[SecurityCheck]:
    """The checks named that the attacker probes, in the order it runs them."""
    return [check for check in selected(check_ids) if check.probed]
