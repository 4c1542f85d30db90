"""Stripe connector: the REST API over httpx (docs.stripe.com/api).

Why httpx and not the ``stripe`` package: the connector must control the exact bytes that
carry card data (one form body, never logged, never kept in an exception), its retry
policy and its error translation; the REST API is small and stable for these calls.

Calls (form-encoded, ``Authorization: Bearer <secret key>``, ``Stripe-Version`` pinned):

======== ==================================================================================
authorize POST /v1/payment_intents  amount, currency, capture_method=manual|automatic,
          confirm=true, payment_method_types[]=card, payment_method_data[card][...],
          return_url, metadata[cardshield_key|cardshield_reference]
capture   POST /v1/payment_intents/{id}/capture  amount_to_capture
void      POST /v1/payment_intents/{id}/cancel
refund    POST /v1/refunds  payment_intent, amount, metadata
verify    POST /v1/setup_intents  confirm=true with the card: Stripe checks the card with
          the issuer (a $0 or reversed small authorization, its choice) and charges nothing
sync      GET /v1/payment_intents/{id} (or /v1/setup_intents/{id}, /v1/refunds/{id}); for a
          payment intent also GET /v1/refunds?payment_intent={id}, matched on
          metadata[cardshield_key], so a refund whose answer was lost is found; with no
          reference, GET /v1/payment_intents/search?query=metadata['cardshield_key']:'<key>'
======== ==================================================================================

Every POST carries ``Idempotency-Key`` (our key; Stripe keeps the first response for at
least 24 h and replays it, errors included), so every call is idempotent and may be
retried: on connection failures, timeouts, 409 (a concurrent request with the same key),
429 and 5xx, honouring ``Stripe-Should-Retry`` when Stripe sends it.

Sync without a reference relies on Stripe's search, which Stripe documents as eventually
consistent (searchable "in less than a minute" normally, longer during outages). A miss is
therefore answered as ``PENDING`` with ``raw["found"] = False``, never as "did not
happen": the payment service decides when an operation is old enough for a miss to count.

Sending raw card numbers requires Stripe to have enabled raw card data APIs on the
account; otherwise Stripe answers ``invalid_request_error`` and authorize returns FAILED.

Options for ``build``:

``api_key`` (required)       secret or restricted key, ``sk_...`` / ``rk_...``
``api_version``              ``Stripe-Version`` header, default :data:`API_VERSION`
``base_url``                 default ``https://api.stripe.com``
``timeout``                  seconds per attempt, default 30
``max_retries``              extra attempts for retryable failures, default 2
``retry_base_delay_s``       backoff base, default 0.5
``webhook_secret(s)``        endpoint signing secret(s) ``whsec_...``; several during rotation
``webhook_tolerance_s``      default 300
``clock``                    ``() -> float`` unix time, for webhook timestamps (tests)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    InboundEvent,
)
from cardshield.gateways.http import (
    ProcessorClient,
    ProcessorOutcomeUnknown,
    RetryPolicy,
    safe_text,
    status_error,
)
from cardshield.gateways.stripe import transformers as tx
from cardshield.gateways.stripe.webhooks import parse_events, verify_signature

API_VERSION = "2024-06-20"
DEFAULT_BASE_URL = "https://api.stripe.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _should_retry(response: httpx.Response) -> bool | None:
    hint = response.headers.get("Stripe-Should-Retry")
    return None if hint is None else hint.strip().lower() == "true"


class StripeConnector:
    name = "stripe"

    def __init__(
        self,
        client: ProcessorClient,
        *,
        webhook_secrets: Sequence[Secret[str]] = (),
        webhook_tolerance_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._webhook_secrets = tuple(webhook_secrets)
        self._tolerance = webhook_tolerance_s
        self._clock = clock

    # -- operations -------------------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        form = tx.payment_intent_form(request)
        return self._post("/v1/payment_intents", form, request.idempotency_key)

    def verify(self, request: AuthorizeRequest) -> GatewayResult:
        form = tx.setup_intent_form(request)
        return self._post("/v1/setup_intents", form, request.idempotency_key)

    def capture(self, request: FollowUpRequest) -> GatewayResult:
        path = f"/v1/payment_intents/{_seg(request.connector_reference)}/capture"
        return self._post(path, tx.capture_form(request.money), request.idempotency_key)

    def void(self, request: FollowUpRequest) -> GatewayResult:
        path = f"/v1/payment_intents/{_seg(request.connector_reference)}/cancel"
        return self._post(path, tx.cancel_form(), request.idempotency_key)

    def refund(self, request: FollowUpRequest) -> GatewayResult:
        form = tx.refund_form(
            request.connector_reference, request.money, request.idempotency_key, request.reference
        )
        return self._post("/v1/refunds", form, request.idempotency_key)

    def sync(self, idempotency_key: str, connector_reference: str | None) -> GatewayResult:
        ref = connector_reference
        if ref is None:
            found = self._get(
                "/v1/payment_intents/search", {"query": tx.search_query(idempotency_key)}
            )
            data = found.get("data") or []
            if not data:
                return GatewayResult(status=GatewayStatus.PENDING, raw={"found": False})
            return tx.intent_result(data[0])
        if ref.startswith("re_"):
            return tx.refund_result(self._get(f"/v1/refunds/{_seg(ref)}"))
        if ref.startswith("seti_"):
            return tx.intent_result(self._get(f"/v1/setup_intents/{_seg(ref)}"))
        # A payment intent: the operation may be one of its refunds, found by our key.
        refunds = self._get("/v1/refunds", {"payment_intent": ref, "limit": "100"})
        for refund in refunds.get("data") or []:
            if (refund.get("metadata") or {}).get(tx.KEY_FIELD) == idempotency_key:
                return tx.refund_result(refund)
        return tx.intent_result(self._get(f"/v1/payment_intents/{_seg(ref)}"))

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, url: str
    ) -> list[InboundEvent]:
        header = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        verify_signature(
            header,
            body,
            [s.reveal() for s in self._webhook_secrets],
            now=self._clock(),
            tolerance_s=self._tolerance,
        )
        return parse_events(body)

    # -- transport ----------------------------------------------------------------------

    def _post(self, path: str, form: list[tuple[str, str]], key: str) -> GatewayResult:
        response = self._client.request(
            "POST",
            path,
            idempotent=True,  # Stripe replays the first answer for a repeated Idempotency-Key
            content=tx.encode(form),
            headers={**FORM, "Idempotency-Key": key},
        )
        body = _json(response)
        if response.status_code == 200:
            return tx.result_for(body)
        result = tx.error_result(response.status_code, body)
        if result is not None:
            return result
        raise _error(response, body, mutating=True)

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = self._client.request("GET", path, idempotent=True, params=params)
        body = _json(response)
        if response.status_code == 200:
            return body
        raise _error(response, body, mutating=False)


def _seg(value: str) -> str:
    """An id as one URL path segment (ids are ours to trust only this far)."""
    return quote(value, safe="")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response, body: Mapping[str, Any], *, mutating: bool) -> GatewayError:
    error = body.get("error") if isinstance(body.get("error"), Mapping) else {}
    detail = str(error.get("message") or "") if isinstance(error, Mapping) else ""
    if isinstance(error, Mapping) and error.get("type") == "idempotency_error":
        # Our key was reused with other parameters: the first request may have succeeded.
        return ProcessorOutcomeUnknown(
            "Stripe refused a reused idempotency key with different parameters."
        )
    err = status_error(response.status_code, mutating=mutating, detail=detail)
    if err is not None:
        return err
    return GatewayError(
        f"Stripe answered HTTP {response.status_code}: {safe_text(detail) or 'no message'}"
    )


def build(options: Mapping[str, Any]) -> StripeConnector:
    api_key = options.get("api_key")
    if not isinstance(api_key, str) or not api_key.startswith(("sk_", "rk_")):
        raise ConfigError("stripe: api_key must be a secret (sk_...) or restricted (rk_...) key")
    secrets = options.get("webhook_secrets") or (
        [options["webhook_secret"]] if options.get("webhook_secret") else []
    )
    policy = RetryPolicy(
        retries=int(options.get("max_retries", 2)),
        base_delay_s=float(options.get("retry_base_delay_s", 0.5)),
    )
    client = ProcessorClient(
        str(options.get("base_url", DEFAULT_BASE_URL)),
        headers={
            "Authorization": f"Bearer {api_key}",
            "Stripe-Version": str(options.get("api_version", API_VERSION)),
            "Accept": "application/json",
        },
        timeout=float(options.get("timeout", 30.0)),
        policy=policy,
        retry_hint=_should_retry,
    )
    return StripeConnector(
        client,
        webhook_secrets=[Secret(str(s)) for s in secrets],
        webhook_tolerance_s=int(options.get("webhook_tolerance_s", 300)),
        clock=options.get("clock", time.time),
    )
