"""The Adyen connector: Checkout API over httpx, raw card data, standard webhooks.

Calls (base URL ``https://checkout-test.adyen.com/v71`` by default; live accounts use
``https://{prefix}-checkout-live.adyenpayments.com/checkout/v71``):

==========  ===============================================  ===============================
authorize   ``POST /payments`` (raw card, manual capture)    ``additionalData.manualCapture``
sale        ``POST /payments`` (automatic capture)           the account's capture setting
verify      ``POST /payments`` with ``amount.value`` 0       zero-value authorization
capture     ``POST /payments/{pspReference}/captures``      outcome by CAPTURE webhook
void        ``POST /payments/{pspReference}/cancels``       outcome by CANCELLATION webhook
refund      ``POST /payments/{pspReference}/refunds``       outcome by REFUND webhook
==========  ===============================================  ===============================

Every request carries ``X-API-Key`` and an ``Idempotency-Key`` derived from ours (a digest
when ours is longer than Adyen's 64 characters), so every request may be retried (through
:class:`~cardshield.gateways.http.ProcessorClient`: backoff with jitter on timeouts,
dropped connections, 429 and 5xx): Adyen answers a repeated key with the first response
and never acts twice. A request without a key is retried only if it never left.

3-D Secure: ``returnUrl`` (the request's, or the ``return_url`` option) is sent, and native
3DS2 is not requested, so Adyen answers ``RedirectShopper`` with ``action.url`` (its own
page runs the 3DS2 flow and collects browser data); the result is ``REQUIRES_ACTION`` with
that URL. The shopper comes back to ``returnUrl``; the outcome arrives in the AUTHORISATION
webhook.

sync: Adyen has no "get payment" call. The documented ways to learn an unknown outcome are
(1) to send the identical request again with the same ``Idempotency-Key`` - Adyen returns
the first response - which this connector does itself while it still holds the card (the
retries in one ``authorize`` call), and (2) the webhooks, which Adyen delivers for every
payment and modification and retries until answered. A later :meth:`AdyenConnector.sync`
cannot replay (the CVC is gone by design), so it returns ``PENDING`` and the outcome comes
from :meth:`AdyenConnector.parse_webhook` (AUTHORISATION, CAPTURE, CANCELLATION, REFUND).

Options for :func:`build`:

* ``api_key`` (required): the web service user's API key.
* ``merchant_account``: used when a request names none.
* ``base_url`` (default the test endpoint above) or ``live_url_prefix`` for the live one.
* ``hmac_key``: the webhook's hex HMAC key (needed by :meth:`parse_webhook`).
* ``return_url``: default 3-D Secure return URL.
* ``timeout_s`` (default 30), ``max_attempts`` (3), ``backoff_base_s`` (0.25),
  ``backoff_max_s`` (4.0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError
from cardshield.gateways.adyen import transformers as tx
from cardshield.gateways.adyen import webhooks
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    InboundEvent,
)
from cardshield.gateways.http import ProcessorClient, RetryPolicy, status_error

TEST_BASE_URL = "https://checkout-test.adyen.com/v71"
# Worth another try for a request carrying an Idempotency-Key: rate limited, or Adyen failed.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LIVE_BASE_URL = "https://{prefix}-checkout-live.adyenpayments.com/checkout/v71"


class AdyenConnector:
    name = "adyen"

    def __init__(
        self,
        client: ProcessorClient,
        api_key: Secret[str],
        *,
        merchant_account: str | None = None,
        hmac_key: Secret[str] | None = None,
        return_url: str | None = None,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._merchant_account = merchant_account
        self._hmac_key = hmac_key
        self._return_url = return_url

    # -- the Connector protocol ---------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return self._pay(request, amount=request.money.amount, verify=False)

    def verify(self, request: AuthorizeRequest) -> GatewayResult:
        return self._pay(request, amount=0, verify=True)

    def capture(self, request: FollowUpRequest) -> GatewayResult:
        body = tx.capture_body(request, self._account(request.merchant_account))
        return self._modify(request, "captures", body)

    def void(self, request: FollowUpRequest) -> GatewayResult:
        body = tx.cancel_body(request, self._account(request.merchant_account))
        return self._modify(request, "cancels", body)

    def refund(self, request: FollowUpRequest) -> GatewayResult:
        body = tx.refund_body(request, self._account(request.merchant_account))
        return self._modify(request, "refunds", body)

    def sync(self, idempotency_key: str, connector_reference: str | None) -> GatewayResult:
        # No lookup call exists; see the module docstring. The webhook settles it.
        return GatewayResult(
            status=GatewayStatus.PENDING,
            connector_reference=connector_reference,
            raw={"sync": "adyen has no payment lookup; the outcome arrives by webhook"},
        )

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, url: str
    ) -> list[InboundEvent]:
        if self._hmac_key is None:
            raise ConfigError("The adyen connector needs hmac_key to verify webhooks.")
        return webhooks.parse(body, self._hmac_key)

    @staticmethod
    def acknowledge() -> tuple[int, str]:
        """The answer Adyen expects from the webhook endpoint: ``200 [accepted]``."""
        return webhooks.acknowledge()

    def close(self) -> None:
        self._client.close()

    # -- internals ----------------------------------------------------------------------

    def _account(self, requested: str) -> str:
        account = requested or self._merchant_account
        if not account:
            raise ConfigError("No Adyen merchant account: set merchant_account.")
        return account

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        headers = {"X-API-Key": self._api_key.reveal()}
        if idempotency_key:
            headers["Idempotency-Key"] = tx.idempotency_key(idempotency_key)
        return headers

    def _pay(self, request: AuthorizeRequest, *, amount: int, verify: bool) -> GatewayResult:
        body = tx.payment_body(
            request, self._account(request.merchant_account), self._return_url, amount=amount
        )
        try:
            response = self._post("/payments", body, request.idempotency_key)
        finally:
            body.clear()  # drop our reference to the plaintext card as soon as it is sent
        if response.status_code == 200:
            return tx.payment_result(self._json(response), capture=request.capture, verify=verify)
        if response.status_code == 422:
            declined = tx.validation_decline(self._json(response, strict=False))
            if declined is not None:
                return declined
        raise self._error(response)

    def _modify(self, request: FollowUpRequest, what: str, body: dict[str, Any]) -> GatewayResult:
        path = f"/payments/{request.connector_reference}/{what}"
        response = self._post(path, body, request.idempotency_key)
        if response.status_code in (200, 201):
            return tx.modification_result(self._json(response))
        raise self._error(response)

    def _post(self, path: str, body: Mapping[str, Any], key: str) -> httpx.Response:
        # With a key Adyen never acts twice on one request, so retrying is safe.
        return self._client.request(
            "POST",
            path,
            content=json.dumps(body),
            headers=self._headers(key),
            idempotent=bool(key),
        )

    @staticmethod
    def _json(response: httpx.Response, *, strict: bool = True) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            if not strict:
                return {}
            raise GatewayError("Adyen answered with a body that is not JSON.") from exc
        if not isinstance(data, dict):
            if not strict:
                return {}
            raise GatewayError("Adyen answered with an unexpected JSON document.")
        return data

    def _error(self, response: httpx.Response) -> GatewayError:
        """The exception for a non-success answer (already retried where that was safe):
        401/403, 429 and 5xx (outcome unknown for a POST) by the shared rules, the rest with
        Adyen's error code."""
        summary = tx.error_summary(self._json(response, strict=False), response.status_code)
        shared = status_error(response.status_code, mutating=True, detail=summary)
        return shared if shared is not None else GatewayError(summary)


def _secret(value: Any, name: str) -> Secret[str]:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value:
        return Secret(value)
    raise ConfigError(f"The adyen connector needs {name}.")


def _base_url(options: Mapping[str, Any]) -> str:
    if options.get("base_url"):
        return str(options["base_url"]).rstrip("/")
    prefix = options.get("live_url_prefix")
    if prefix:
        return LIVE_BASE_URL.format(prefix=prefix)
    return TEST_BASE_URL


def build(options: Mapping[str, Any]) -> AdyenConnector:
    """Build the connector from its options (see the module docstring)."""
    policy = RetryPolicy(
        retries=max(0, int(options.get("max_attempts", 3)) - 1),
        base_delay_s=float(options.get("backoff_base_s", 0.25)),
        max_delay_s=float(options.get("backoff_max_s", 4.0)),
    )
    client = ProcessorClient(
        _base_url(options),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=float(options.get("timeout_s", 30.0)),
        policy=policy,
        retry_statuses=RETRY_STATUSES,
    )
    hmac_key = options.get("hmac_key")
    return AdyenConnector(
        client,
        _secret(options.get("api_key"), "api_key"),
        merchant_account=options.get("merchant_account") or None,
        hmac_key=_secret(hmac_key, "hmac_key") if hmac_key else None,
        return_url=options.get("return_url") or None,
    )
