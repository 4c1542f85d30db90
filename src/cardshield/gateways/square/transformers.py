"""Square Payments and Refunds API bodies and response mapping (no I/O here).

Formats follow Square's API reference (developer.squareup.com/reference/square):

* ``CreatePayment`` ``POST /v2/payments``: ``source_id`` (a Web/In-App Payments SDK token,
  ``cnon:...``, or a card on file, ``ccof:...``), ``idempotency_key`` (at most 45
  characters, in the body), ``amount_money`` ``{amount, currency}``, ``autocomplete``
  (false holds an APPROVED payment for a later complete/cancel), ``location_id``,
  ``reference_id`` (at most 40 characters), ``customer_id`` (required with a card on file),
  ``verification_token`` (SCA / 3-D Secure result from the SDK's ``verifyBuyer``).
* ``Payment.status``: APPROVED, PENDING, COMPLETED, CANCELED, FAILED.
* ``RefundPayment`` ``POST /v2/refunds``; ``PaymentRefund.status``: PENDING, COMPLETED,
  REJECTED, FAILED.
* Errors: ``{"errors": [{"category", "code", "detail", "field"}]}``, with the failed
  ``payment`` (status FAILED) beside them when a card was declined; declines have the
  category ``PAYMENT_METHOD_ERROR`` (``REFUND_ERROR`` for refunds).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardshield.gateways.base import GatewayResult, GatewayStatus, Money
from cardshield.gateways.declines import Decline, DeclineCode
from cardshield.redaction import redact
from cardshield.redaction.scrub import scrub

MAX_IDEMPOTENCY_KEY = 45
MAX_REFERENCE_ID = 40

PAYMENT_STATUS: dict[str, GatewayStatus] = {
    "APPROVED": GatewayStatus.AUTHORIZED,
    "PENDING": GatewayStatus.PENDING,
    "COMPLETED": GatewayStatus.CAPTURED,
    "CANCELED": GatewayStatus.VOIDED,
    "FAILED": GatewayStatus.DECLINED,
}

REFUND_STATUS: dict[str, GatewayStatus] = {
    "PENDING": GatewayStatus.PENDING,
    "COMPLETED": GatewayStatus.REFUNDED,
    "REJECTED": GatewayStatus.FAILED,
    "FAILED": GatewayStatus.FAILED,
}

# Square ErrorCode -> unified decline code (declines and card-related refusals).
DECLINE_CODES: dict[str, DeclineCode] = {
    "GENERIC_DECLINE": DeclineCode.CARD_DECLINED,
    "CARD_DECLINED": DeclineCode.CARD_DECLINED,
    "CVV_FAILURE": DeclineCode.INCORRECT_CVC,
    "VERIFY_CVV_FAILURE": DeclineCode.INCORRECT_CVC,
    "ADDRESS_VERIFICATION_FAILURE": DeclineCode.CARD_DECLINED,
    "VERIFY_AVS_FAILURE": DeclineCode.CARD_DECLINED,
    "INVALID_ACCOUNT": DeclineCode.INCORRECT_NUMBER,
    "PAN_FAILURE": DeclineCode.INCORRECT_NUMBER,
    "INVALID_CARD": DeclineCode.INCORRECT_NUMBER,
    "INVALID_CARD_DATA": DeclineCode.CARD_DECLINED,
    "INSUFFICIENT_FUNDS": DeclineCode.INSUFFICIENT_FUNDS,
    "CARD_EXPIRED": DeclineCode.EXPIRED_CARD,
    "EXPIRATION_FAILURE": DeclineCode.EXPIRED_CARD,
    "INVALID_EXPIRATION": DeclineCode.EXPIRED_CARD,
    "INVALID_EXPIRATION_DATE": DeclineCode.EXPIRED_CARD,
    "INVALID_EXPIRATION_YEAR": DeclineCode.EXPIRED_CARD,
    "BAD_EXPIRATION": DeclineCode.EXPIRED_CARD,
    "TRANSACTION_LIMIT": DeclineCode.LIMIT_EXCEEDED,
    "PAYMENT_LIMIT_EXCEEDED": DeclineCode.LIMIT_EXCEEDED,
    "AMOUNT_TOO_HIGH": DeclineCode.LIMIT_EXCEEDED,
    "CARD_DECLINED_CALL_ISSUER": DeclineCode.DO_NOT_HONOR,
    "VOICE_FAILURE": DeclineCode.DO_NOT_HONOR,
    "CARD_DECLINED_VERIFICATION_REQUIRED": DeclineCode.AUTHENTICATION_REQUIRED,
    "CURRENCY_MISMATCH": DeclineCode.CURRENCY_NOT_SUPPORTED,
    "CARD_NOT_SUPPORTED": DeclineCode.CARD_DECLINED,
    "UNSUPPORTED_CARD_BRAND": DeclineCode.CARD_DECLINED,
    "CARDHOLDER_INSUFFICIENT_PERMISSIONS": DeclineCode.CARD_DECLINED,
    "INVALID_PIN": DeclineCode.CARD_DECLINED,
    "ALLOWABLE_PIN_TRIES_EXCEEDED": DeclineCode.CARD_DECLINED,
    "CHIP_INSERTION_REQUIRED": DeclineCode.CARD_DECLINED,
    "CARD_TOKEN_EXPIRED": DeclineCode.INVALID_REQUEST,
    "CARD_TOKEN_USED": DeclineCode.INVALID_REQUEST,
    "TEMPORARY_ERROR": DeclineCode.PROCESSING_ERROR,
    "REFUND_DECLINED": DeclineCode.CARD_DECLINED,
}

# Error categories that are answers about the card or the refund, not about our request.
DECLINE_CATEGORIES = frozenset({"PAYMENT_METHOD_ERROR", "REFUND_ERROR"})

# Identifiers kept verbatim in what we keep of a document (``scrub(..., verbatim=...)``).
REFERENCE_KEYS = frozenset({"id", "payment_id", "reference_id", "order_id", "location_id"})


@dataclass(frozen=True, slots=True)
class SourceAuthorizeRequest:
    """A Square payment from a payment token or a card on file (never a raw card)."""

    money: Money
    source_id: str  # "cnon:..." from the Web Payments SDK, or "ccof:..." (card on file)
    capture: bool  # False: autocomplete=false, complete or cancel later
    idempotency_key: str
    location_id: str  # empty: the connector's configured location
    reference: str  # our payment id -> reference_id
    customer_id: str | None = None  # required by Square with a card on file
    verification_token: str | None = None  # from the SDK's verifyBuyer (SCA)
    note: str | None = None


def idempotency_key(key: str, purpose: str = "") -> str:
    """A Square key (<= 45 characters) for ``key``: itself when it fits, else a digest.

    ``purpose`` derives a distinct, stable key for a second call made on behalf of the
    same operation (Square keys are unique per request).
    """
    if not purpose and len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    digest = hashlib.sha256(f"{key}\x1f{purpose}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")  # 43 characters


def money(m: Money) -> dict[str, Any]:
    return {"amount": m.amount, "currency": m.currency}


def payment_body(request: SourceAuthorizeRequest, location_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_id": request.source_id,
        "idempotency_key": idempotency_key(request.idempotency_key),
        "amount_money": money(request.money),
        "autocomplete": request.capture,
        "location_id": location_id,
        "reference_id": request.reference,
    }
    for name in ("customer_id", "verification_token", "note"):
        value = getattr(request, name)
        if value:
            body[name] = value
    return body


def refund_body(payment_id: str, amount: Money, key: str) -> dict[str, Any]:
    return {
        "idempotency_key": idempotency_key(key),
        "amount_money": money(amount),
        "payment_id": payment_id,
    }


def update_amount_body(amount: Money, key: str, version_token: str | None) -> dict[str, Any]:
    payment: dict[str, Any] = {"amount_money": money(amount)}
    if version_token:
        payment["version_token"] = version_token
    return {"idempotency_key": idempotency_key(key, "update-amount"), "payment": payment}


def _amount(document: Mapping[str, Any]) -> int | None:
    value = document.get("amount_money")
    return value.get("amount") if isinstance(value, Mapping) else None


def payment_result(payment: Mapping[str, Any], errors: Sequence[Any] = ()) -> GatewayResult:
    status = PAYMENT_STATUS.get(str(payment.get("status", "")), GatewayStatus.PENDING)
    decline = decline_from(errors) if status is GatewayStatus.DECLINED else None
    if status is GatewayStatus.DECLINED and decline is None:
        decline = Decline(DeclineCode.CARD_DECLINED, "FAILED")
    return GatewayResult(
        status=status,
        connector_reference=payment.get("id"),
        amount=_amount(payment),
        decline=decline,
        raw=scrub(
            {"payment": payment, **({"errors": list(errors)} if errors else {})},
            verbatim=REFERENCE_KEYS,
        ),
    )


def refund_result(refund: Mapping[str, Any]) -> GatewayResult:
    return GatewayResult(
        status=REFUND_STATUS.get(str(refund.get("status", "")), GatewayStatus.PENDING),
        connector_reference=refund.get("id"),
        amount=_amount(refund),
        raw=scrub({"refund": refund}, verbatim=REFERENCE_KEYS),
    )


def _errors(errors: Sequence[Any]) -> list[Mapping[str, Any]]:
    return [e for e in errors if isinstance(e, Mapping)]


def is_decline(errors: Sequence[Any]) -> bool:
    return any(e.get("category") in DECLINE_CATEGORIES for e in _errors(errors))


def decline_from(errors: Sequence[Any]) -> Decline | None:
    """The most specific decline in an errors array (Square may list GENERIC_DECLINE first
    and the actual reason, e.g. CVV_FAILURE, after it)."""
    declines = [e for e in _errors(errors) if e.get("category") in DECLINE_CATEGORIES]
    if not declines:
        return None
    specific = [
        e
        for e in declines
        if DECLINE_CODES.get(str(e.get("code"))) not in (None, DeclineCode.CARD_DECLINED)
    ]
    chosen = (specific or declines)[0]
    code = str(chosen.get("code", ""))
    return Decline(
        DECLINE_CODES.get(code, DeclineCode.CARD_DECLINED),
        code,
        redact(str(chosen.get("detail", ""))),
    )


def declined_result(data: Mapping[str, Any]) -> GatewayResult:
    """A decline answer: the errors, and the FAILED payment or refund when Square sent it."""
    errors = data.get("errors") or []
    payment = data.get("payment")
    refund = data.get("refund")
    document = (
        payment if isinstance(payment, Mapping) else refund if isinstance(refund, Mapping) else {}
    )
    return GatewayResult(
        status=GatewayStatus.DECLINED,
        connector_reference=document.get("id"),
        amount=_amount(document),
        decline=decline_from(errors),
        raw=scrub(data, verbatim=REFERENCE_KEYS),
    )


def error_codes(data: Mapping[str, Any]) -> set[str]:
    return {str(e.get("code")) for e in _errors(data.get("errors") or [])}


def error_summary(data: Mapping[str, Any], status_code: int) -> str:
    """A one-line description of a Square error body, safe to put in an exception."""
    parts = [
        f"{e.get('category', '?')} {e.get('code', '?')}: {redact(str(e.get('detail', '')))[:120]}"
        for e in _errors(data.get("errors") or [])[:3]
    ]
    return f"Square answered HTTP {status_code} ({'; '.join(parts) or 'no error details'})."
