"""The Square connector: Payments and Refunds APIs over httpx, payment tokens only.

**No raw card path.** Square's Payments API takes no card number: ``CreatePayment`` needs a
``source_id`` that is a single-use payment token from Square's Web Payments SDK or
In-App Payments SDK (``cnon:...``) or a card on file (``ccof:...``, made by the Cards API
from such a token). Square's guide says so directly ("You cannot use the payment card
details provided by a buyer in the CreatePayment endpoint ... use the Web Payments SDK or
In-App Payments SDK to collect the card details"; developer.squareup.com/docs/payments-api/
take-payments/card-payments), and no server-side endpoint accepts a PAN. So the protocol's
raw-card :meth:`SquareConnector.authorize` and :meth:`SquareConnector.verify` raise
:class:`UnsupportedByConnector` (``unsupported_by_connector``) before any network call,
and card payments go through :meth:`SquareConnector.authorize_source` with a token the
browser got from Square's SDK (which also runs buyer verification / 3-D Secure and hands
over a ``verification_token``). Capture, void, refund, sync and webhooks work on Square
payment ids like any connector.

Calls (``https://connect.squareupsandbox.com`` or ``https://connect.squareup.com``), each
with ``Authorization: Bearer <access token>`` and ``Square-Version``:

================  ==============================================================
authorize_source  ``POST /v2/payments`` (``autocomplete`` false unless a sale)
capture           ``GET /v2/payments/{id}``, ``PUT /v2/payments/{id}`` to lower the
                  amount for a partial capture, ``POST /v2/payments/{id}/complete``
void              ``POST /v2/payments/{id}/cancel``
refund            ``POST /v2/refunds``
sync              ``GET /v2/payments/{id}``
recover           ``POST /v2/payments/cancel`` (cancel by idempotency key)
================  ==============================================================

Idempotency: Square takes the key in the body (``idempotency_key``, at most 45 characters;
longer keys of ours become a stable digest), and answers a repeat with the first result,
so create, update and refund are retried (through
:class:`~cardshield.gateways.http.ProcessorClient`: backoff with jitter on timeouts,
dropped connections, 429 and 5xx). Complete and cancel take no key; they are state
transitions of one payment, and a repeat after a lost answer is refused as already done
(``DELAYED_TRANSACTION_CAPTURED`` / ``_CANCELED``), which the connector reads back with a
GET - so they are retried too. Square has no lookup by idempotency key: after a timeout
with no payment id, send the same ``authorize_source`` again (same key: Square returns the
first payment) or call :meth:`SquareConnector.cancel_by_idempotency_key`.

Options for :func:`build`: ``access_token`` (required), ``location_id`` (default location),
``environment`` (``sandbox``, the default, or ``production``) or ``base_url``,
``square_version`` (default ``2025-01-23``), ``signature_key`` and ``notification_url``
(webhooks), ``timeout_s`` (30), ``max_attempts`` (3), ``backoff_base_s`` (0.25),
``backoff_max_s`` (4.0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError, InvalidRequestError
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    InboundEvent,
)
from cardshield.gateways.http import ProcessorClient, RetryPolicy, status_error
from cardshield.gateways.square import transformers as tx
from cardshield.gateways.square import webhooks
from cardshield.gateways.square.transformers import SourceAuthorizeRequest
from cardshield.redaction import contains_card_data
from cardshield.redaction.scrub import scrub

BASE_URLS = {
    "sandbox": "https://connect.squareupsandbox.com",
    "production": "https://connect.squareup.com",
}
DEFAULT_SQUARE_VERSION = "2025-01-23"
# Worth another try for an idempotent request: rate limited, or Square failed.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class UnsupportedByConnector(InvalidRequestError):
    """The configured processor cannot do what was asked (here: take raw card data)."""

    code = "unsupported_by_connector"
    default_message = "The configured payment processor does not support this operation."


RAW_CARD_MESSAGE = (
    "Square does not accept raw card data: pay with a Square Web Payments SDK token or a "
    "card on file (authorize_source)."
)


class SquareConnector:
    name = "square"

    def __init__(
        self,
        client: ProcessorClient,
        access_token: Secret[str],
        *,
        square_version: str = DEFAULT_SQUARE_VERSION,
        location_id: str | None = None,
        signature_key: Secret[str] | None = None,
        notification_url: str | None = None,
    ) -> None:
        self._client = client
        self._token = access_token
        self._version = square_version
        self._location_id = location_id
        self._signature_key = signature_key
        self._notification_url = notification_url

    # -- the Connector protocol ---------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        raise UnsupportedByConnector(RAW_CARD_MESSAGE)

    def verify(self, request: AuthorizeRequest) -> GatewayResult:
        raise UnsupportedByConnector(RAW_CARD_MESSAGE)

    def capture(self, request: FollowUpRequest) -> GatewayResult:
        payment_id = request.connector_reference
        payment = self._get_payment(payment_id)
        if payment.get("status") != "APPROVED":
            # Already completed (a retried capture), canceled or failed: report it as it is.
            return tx.payment_result(payment)
        approved = payment.get("amount_money") or {}
        if approved.get("amount") != request.money.amount:
            # A partial capture: Square completes the whole approved amount, so lower it first.
            body = tx.update_amount_body(
                request.money, request.idempotency_key, payment.get("version_token")
            )
            updated = self._send("PUT", f"/v2/payments/{payment_id}", body, idempotent=True)
            if not updated.is_success:
                return self._payment_answer(updated)
        response = self._send("POST", f"/v2/payments/{payment_id}/complete", {}, idempotent=True)
        return self._payment_answer(
            response, done="DELAYED_TRANSACTION_CAPTURED", payment_id=payment_id
        )

    def void(self, request: FollowUpRequest) -> GatewayResult:
        payment_id = request.connector_reference
        response = self._send("POST", f"/v2/payments/{payment_id}/cancel", {}, idempotent=True)
        return self._payment_answer(
            response, done="DELAYED_TRANSACTION_CANCELED", payment_id=payment_id
        )

    def refund(self, request: FollowUpRequest) -> GatewayResult:
        body = tx.refund_body(request.connector_reference, request.money, request.idempotency_key)
        response = self._send("POST", "/v2/refunds", body, idempotent=True)
        data = self._json(response, strict=response.is_success)
        if response.is_success and isinstance(data.get("refund"), Mapping):
            return tx.refund_result(data["refund"])
        if response.is_client_error and tx.is_decline(data.get("errors") or []):
            return tx.declined_result(data)
        raise self._error(response, data)

    def sync(self, idempotency_key: str, connector_reference: str | None) -> GatewayResult:
        if not connector_reference:
            raise UnsupportedByConnector(
                "Square cannot look a payment up by idempotency key: repeat the payment "
                "request with the same key, or cancel it with cancel_by_idempotency_key."
            )
        return tx.payment_result(self._get_payment(connector_reference))

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, url: str
    ) -> list[InboundEvent]:
        if self._signature_key is None:
            raise ConfigError("The square connector needs signature_key to verify webhooks.")
        return webhooks.parse(headers, body, self._notification_url or url, self._signature_key)

    # -- Square's own flow --------------------------------------------------------------

    def authorize_source(self, request: SourceAuthorizeRequest) -> GatewayResult:
        """Create a payment from an SDK payment token or a card on file."""
        if contains_card_data(request.source_id):
            raise UnsupportedByConnector(RAW_CARD_MESSAGE, param="source_id")
        if len(request.reference) > tx.MAX_REFERENCE_ID:
            raise InvalidRequestError(
                f"Square reference_id holds at most {tx.MAX_REFERENCE_ID} characters.",
                param="reference",
            )
        body = tx.payment_body(request, self._location(request.location_id))
        return self._payment_answer(self._send("POST", "/v2/payments", body, idempotent=True))

    def cancel_by_idempotency_key(self, idempotency_key: str) -> GatewayResult:
        """Void a payment whose create call got no answer (Square's documented recovery)."""
        body = {"idempotency_key": tx.idempotency_key(idempotency_key)}
        response = self._send("POST", "/v2/payments/cancel", body, idempotent=True)
        if response.is_success:
            raw = scrub(self._json(response), verbatim=tx.REFERENCE_KEYS)
            return GatewayResult(status=GatewayStatus.VOIDED, raw=raw)
        raise self._error(response, self._json(response, strict=False))

    def close(self) -> None:
        self._client.close()

    # -- internals ----------------------------------------------------------------------

    def _location(self, requested: str) -> str:
        location = requested or self._location_id
        if not location:
            raise ConfigError("No Square location: set location_id.")
        return location

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, *, idempotent: bool
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {self._token.reveal()}",
            "Square-Version": self._version,
        }
        return self._client.request(
            method,
            path,
            content=None if body is None else json.dumps(body),
            headers=headers,
            idempotent=idempotent,
        )

    def _get_payment(self, payment_id: str) -> Mapping[str, Any]:
        response = self._send("GET", f"/v2/payments/{payment_id}", None, idempotent=True)
        data = self._json(response, strict=response.is_success)
        payment = data.get("payment")
        if response.is_success and isinstance(payment, Mapping):
            return payment
        raise self._error(response, data)

    def _payment_answer(
        self, response: httpx.Response, *, done: str | None = None, payment_id: str = ""
    ) -> GatewayResult:
        data = self._json(response, strict=response.is_success)
        payment = data.get("payment")
        if response.is_success and isinstance(payment, Mapping):
            return tx.payment_result(payment)
        if response.is_client_error:
            if tx.is_decline(data.get("errors") or []):
                return tx.declined_result(data)
            if done is not None and done in tx.error_codes(data):
                return tx.payment_result(self._get_payment(payment_id))
        raise self._error(response, data)

    @staticmethod
    def _json(response: httpx.Response, *, strict: bool = True) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            if not strict:
                return {}
            raise GatewayError("Square answered with a body that is not JSON.") from exc
        if isinstance(data, dict):
            return data
        if strict:
            raise GatewayError("Square answered with an unexpected JSON document.")
        return {}

    @staticmethod
    def _error(response: httpx.Response, data: Mapping[str, Any]) -> GatewayError:
        """401/403, 429 and 5xx (outcome unknown for a mutating call) by the shared rules,
        the rest with Square's error codes."""
        summary = tx.error_summary(data, response.status_code)
        mutating = response.request.method != "GET"
        shared = status_error(response.status_code, mutating=mutating, detail=summary)
        return shared if shared is not None else GatewayError(summary)


def _secret(value: Any, name: str) -> Secret[str]:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value:
        return Secret(value)
    raise ConfigError(f"The square connector needs {name}.")


def build(options: Mapping[str, Any]) -> SquareConnector:
    """Build the connector from its options (see the module docstring)."""
    if options.get("base_url"):
        base_url = str(options["base_url"]).rstrip("/")
    else:
        environment = str(options.get("environment", "sandbox"))
        if environment not in BASE_URLS:
            raise ConfigError("Square environment must be 'sandbox' or 'production'.")
        base_url = BASE_URLS[environment]
    policy = RetryPolicy(
        retries=max(0, int(options.get("max_attempts", 3)) - 1),
        base_delay_s=float(options.get("backoff_base_s", 0.25)),
        max_delay_s=float(options.get("backoff_max_s", 4.0)),
    )
    client = ProcessorClient(
        base_url,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=float(options.get("timeout_s", 30.0)),
        policy=policy,
        retry_statuses=RETRY_STATUSES,
    )
    signature_key = options.get("signature_key")
    return SquareConnector(
        client,
        _secret(options.get("access_token"), "access_token"),
        square_version=str(options.get("square_version") or DEFAULT_SQUARE_VERSION),
        location_id=options.get("location_id") or None,
        signature_key=_secret(signature_key, "signature_key") if signature_key else None,
        notification_url=options.get("notification_url") or None,
    )
