"""HTTP clients for the third parties: the payment gateway and the national identity provider.

Every call is bounded in time; any timeout, connection error or 5xx becomes 503 + Retry-After for
the portal's client, raised *before* the portal writes anything that depends on the answer.
"""

from __future__ import annotations

from typing import Any

import httpx

from dvclab.portal.errors import Unavailable


class Upstream:
    def __init__(self, name: str, base_url: str, timeout_s: float) -> None:
        self.name = name
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(0.5, timeout_s)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            trust_env=False,  # loopback services: never route through a proxy from the environment
        )

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the {self.name} is not answering; retry shortly", 5) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable(f"the {self.name} is unavailable; retry shortly", 5)
        return response

    async def close(self) -> None:
        await self.client.aclose()


class IdentityProvider(Upstream):
    """The national identity provider (VNeID-like): confirms a citizen's identity is active."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__("identity provider", base_url, timeout_s)

    async def citizen(self, national_id: str) -> dict[str, Any] | None:
        response = await self.call("GET", f"/v1/citizens/{national_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable("the identity provider gave an unexpected answer", 5)
        try:
            return dict(response.json())
        except (ValueError, TypeError):  # not a JSON object: a broken dependency is a 503, never a 500
            raise Unavailable("the identity provider gave an unexpected answer", 5) from None


class PaymentGateway(Upstream):
    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__("payment gateway", base_url, timeout_s)

    async def create_payment(self, order_id: str, amount_vnd: int) -> dict[str, Any]:
        # The key is derived from the order, so a retry after a lost answer finds the same payment.
        response = await self.call(
            "POST",
            "/v1/payments",
            headers={"Idempotency-Key": f"order-{order_id}"},
            json={"order_id": order_id, "amount_vnd": amount_vnd, "currency": "VND"},
        )
        if response.status_code not in (200, 201):
            raise Unavailable("the payment gateway refused the payment request", 5)
        try:
            body = dict(response.json())
        except (ValueError, TypeError):
            raise Unavailable("the payment gateway gave an unexpected answer", 5) from None
        if not isinstance(body.get("payment_ref"), str) or not isinstance(body.get("checkout_url"), str):
            raise Unavailable("the payment gateway gave an unexpected answer", 5)
        return body
