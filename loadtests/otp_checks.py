"""Security check of SMS cost (C19, OWASP API4's paid-SMS example): gated bursts of phone-verification
codes, past the per-phone quota (many addresses, one victim's phone) and past the per-address quota (one
address, many phones), send no more SMS than the quotas; the excess gets 429.

The codes are asked for through the map's ``phone_code`` step. The quotas are read from the portal's
``RateLimit-Policy`` on a first code (the reference portal lists ``otp_phone`` and ``otp_ip``), else from
the map's ``limits.otp_per_phone`` / ``limits.otp_per_address``; the database counts the codes the
identity provider accepted to send.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load.map_steps import NoAnswer
from dvclab.load.security_checks import NOT_RUN_KEY, Observed, SecurityCheck, in_parts

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

ACCOUNT = 203  # a demo citizen of the checks' own
PER_PHONE, PER_ADDRESS = "otp_phone", "otp_ip"
EXCESS = 15  # codes asked for beyond each quota
MOST_REQUESTS = 300


def sms_figures(statuses: list[int], quota: int) -> Observed:
    """One burst: it holds when at most ``quota`` codes were sent (202), at least one was, and every
    other answer was 429."""
    counts = Counter(statuses)
    return {
        "quota": quota,
        "asked": len(statuses),
        "sent_202": counts[202],
        "refused_429": counts[429],
        "other": {str(s): n for s, n in counts.items() if s not in (202, 429)},
        "pass": 1 <= counts[202] <= quota and counts[202] + counts[429] == len(statuses),
    }


class SmsCost(SecurityCheck):
    id = "C19"
    name = "OTP/SMS cost"
    invariant = (
        "gated code requests past the per-phone quota (one phone, many addresses) and past the "
        "per-address quota (one address, many phones): SMS sent <= quota; the excess gets 429"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """Through the map's ``phone_code`` step, in a signed-in citizen's session (a twin per request:
        fresh connections spread over the portal's workers, each from the client address it is given)."""
        mine = client.signed_in(self.id, ACCOUNT)
        if mine is None:
            return {"error": "could not log in"}

        def phone() -> str:
            return f"09{client.rng.randrange(10**8):08d}"

        def ask(number: str, address: dict[str, str]) -> Any:
            steps = client.twin(mine, close=True)
            steps.extra_headers.update(address)
            outcome = steps.run("phone_code", expect=(202, 404, 429), phone=number)
            return outcome.response if outcome.response is not None else NoAnswer()

        first = ask(phone(), client.address(self.id))
        if first.status_code == 404:
            path = client.run.portal_map.steps["phone_code"].path
            return {NOT_RUN_KEY: f"the portal has no phone verification ({path} answered 404)"}
        if first.status_code != 202:
            return {"error": f"first code: HTTP {first.status_code}"}
        # Announced (RateLimit-Policy "otp_phone", "otp_ip"), else the map's; MissingLimit: "not run".
        by_phone = client.rate("phone_code", [first], PER_PHONE, "otp_per_phone")
        by_addr = client.rate("phone_code", [first], PER_ADDRESS, "otp_per_address")
        per_phone, per_address = by_phone.limit, by_addr.limit
        if max(per_phone, per_address) + EXCESS > MOST_REQUESTS:
            quotas = {PER_PHONE: per_phone, PER_ADDRESS: per_address}
            return {"error": f"quotas {quotas} are too large to probe (at most {MOST_REQUESTS} requests)"}
        victim = phone()
        spread = client.burst(
            per_phone + EXCESS,
            lambda i: ask(victim, {"X-Forwarded-For": f"10.249.{i // 250}.{i % 250 + 1}"}),
        )
        shared = client.address("C19b")
        numbers = [phone() for _ in range(per_address + EXCESS)]
        one_address = client.burst(len(numbers), lambda i: ask(numbers[i], shared))
        by_phone_fig = sms_figures([r.status_code if r is not None else 0 for r in spread], per_phone)
        by_addr_fig = sms_figures([r.status_code if r is not None else 0 for r in one_address], per_address)
        by_phone_fig["limit_from"], by_addr_fig["limit_from"] = by_phone.source, by_addr.source
        figures = in_parts(per_phone=by_phone_fig, per_address=by_addr_fig)
        return {**figures, "victim_phone": victim, "shared_address": shared.get("X-Forwarded-For")}

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        to_victim = db.codes_sent_to(observed["victim_phone"])
        from_address = db.codes_sent_from(observed["shared_address"])
        ok = to_victim <= observed["per_phone"]["quota"] and from_address <= observed["per_address"]["quota"]
        return ok, {"db_codes_to_victim_phone": to_victim, "db_codes_from_shared_address": from_address}


C19 = SmsCost()
