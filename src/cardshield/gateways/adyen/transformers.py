"""Adyen Checkout API request bodies and response mapping (no I/O here).

Formats follow Adyen's Checkout API reference (v71) and guides:

* ``POST /payments`` with raw card fields in ``paymentMethod`` (``type: scheme``, ``number``,
  ``expiryMonth`` "MM", ``expiryYear`` "YYYY", ``cvc``) - the "API only with raw card data"
  integration, open only to fully PCI DSS compliant merchants, which cardshield is for.
* ``resultCode`` (Authorised, Refused, Error, Cancelled, Pending, Received, RedirectShopper,
  IdentifyShopper, ChallengeShopper, PresentToShopper, PartiallyAuthorised, ...) and, when
  refused, ``refusalReasonCode`` (docs.adyen.com/development-resources/refusal-reasons).
* Modifications (``/payments/{pspReference}/captures|cancels|refunds``) answer
  ``201 {"status": "received", "pspReference": ...}``: Adyen has accepted the request and
  reports the outcome later in a CAPTURE / CANCELLATION / REFUND webhook, so they map to
  ``PENDING``.
* Errors: ``{"status": 422, "errorCode": "101", "message": "Invalid card number",
  "errorType": "validation", "pspReference": ...}`` (docs.adyen.com/development-resources/
  error-codes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cardshield.gateways.base import AuthorizeRequest, FollowUpRequest, GatewayResult, GatewayStatus
from cardshield.gateways.declines import Decline, DeclineCode, from_map
from cardshield.redaction import redact
from cardshield.redaction.scrub import scrub

# Adyen accepts idempotency keys of up to 64 characters.
MAX_IDEMPOTENCY_KEY = 64

# resultCode -> our status, for an authorization (sale and verify are adjusted below).
RESULT_CODES: dict[str, GatewayStatus] = {
    "Authorised": GatewayStatus.AUTHORIZED,
    "PartiallyAuthorised": GatewayStatus.AUTHORIZED,
    "Refused": GatewayStatus.DECLINED,
    "Cancelled": GatewayStatus.DECLINED,
    "Error": GatewayStatus.FAILED,
    "Pending": GatewayStatus.PENDING,
    "Received": GatewayStatus.PENDING,
    "RedirectShopper": GatewayStatus.REQUIRES_ACTION,
    "IdentifyShopper": GatewayStatus.REQUIRES_ACTION,
    "ChallengeShopper": GatewayStatus.REQUIRES_ACTION,
    "PresentToShopper": GatewayStatus.REQUIRES_ACTION,
    # Authentication-only flows; an authorization still has to follow.
    "AuthenticationFinished": GatewayStatus.PENDING,
    "AuthenticationNotRequired": GatewayStatus.PENDING,
}

# refusalReasonCode -> unified decline code (Adyen's refusal reasons table).
REFUSAL_CODES: dict[str, DeclineCode] = {
    "0": DeclineCode.CARD_DECLINED,  # Unknown
    "2": DeclineCode.CARD_DECLINED,  # Refused
    "3": DeclineCode.DO_NOT_HONOR,  # Referral
    "4": DeclineCode.PROCESSING_ERROR,  # Acquirer Error
    "5": DeclineCode.CARD_DECLINED,  # Blocked Card
    "6": DeclineCode.EXPIRED_CARD,  # Expired Card
    "7": DeclineCode.INVALID_REQUEST,  # Invalid Amount
    "8": DeclineCode.INCORRECT_NUMBER,  # Invalid Card Number
    "9": DeclineCode.PROCESSING_ERROR,  # Issuer Unavailable
    "10": DeclineCode.CARD_DECLINED,  # Not supported
    "11": DeclineCode.AUTHENTICATION_REQUIRED,  # 3D Not Authenticated
    "12": DeclineCode.INSUFFICIENT_FUNDS,  # Not enough balance
    "14": DeclineCode.FRAUDULENT,  # Acquirer Fraud
    "15": DeclineCode.CARD_DECLINED,  # Cancelled
    "16": DeclineCode.CARD_DECLINED,  # Shopper Cancelled
    "17": DeclineCode.CARD_DECLINED,  # Invalid Pin
    "18": DeclineCode.CARD_DECLINED,  # Pin tries exceeded
    "19": DeclineCode.PROCESSING_ERROR,  # Pin validation not possible
    "20": DeclineCode.FRAUDULENT,  # FRAUD
    "21": DeclineCode.PROCESSING_ERROR,  # Not Submitted
    "22": DeclineCode.FRAUDULENT,  # FRAUD-CANCELLED
    "23": DeclineCode.CARD_DECLINED,  # Transaction Not Permitted
    "24": DeclineCode.INCORRECT_CVC,  # CVC Declined
    "25": DeclineCode.CARD_DECLINED,  # Restricted Card
    "26": DeclineCode.DO_NOT_HONOR,  # Revocation Of Auth
    "27": DeclineCode.DO_NOT_HONOR,  # Declined Non Generic
    "28": DeclineCode.LIMIT_EXCEEDED,  # Withdrawal amount exceeded
    "29": DeclineCode.LIMIT_EXCEEDED,  # Withdrawal count exceeded
    "31": DeclineCode.FRAUDULENT,  # Issuer Suspected Fraud
    "32": DeclineCode.CARD_DECLINED,  # AVS Declined
    "33": DeclineCode.CARD_DECLINED,  # Card requires online pin
    "34": DeclineCode.CARD_DECLINED,  # No checking account available on Card
    "35": DeclineCode.CARD_DECLINED,  # No savings account available on Card
    "36": DeclineCode.CARD_DECLINED,  # Mobile pin required
    "37": DeclineCode.CARD_DECLINED,  # Contactless fallback
    "38": DeclineCode.AUTHENTICATION_REQUIRED,  # Authentication required
    "39": DeclineCode.AUTHENTICATION_REQUIRED,  # RReq not received from DS
}

# 422 validation errors that are about the card rather than about our request.
CARD_VALIDATION_ERRORS: dict[str, DeclineCode] = {
    "101": DeclineCode.INCORRECT_NUMBER,  # Invalid card number
    "103": DeclineCode.INCORRECT_CVC,  # CVC is not the right length
}

# Identifiers kept verbatim in what we keep of a document (``scrub(..., verbatim=...)``): an
# old all-digit pspReference can look like a PAN to the text redactor.
REFERENCE_KEYS = frozenset(
    {"pspReference", "paymentPspReference", "originalReference", "merchantReference", "reference"}
)


def idempotency_key(key: str) -> str:
    """Our key if Adyen can take it, else a stable 64-character digest of it."""
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _amount(amount: int, currency: str) -> dict[str, Any]:
    return {"value": amount, "currency": currency}


def payment_body(
    request: AuthorizeRequest, merchant_account: str, return_url: str | None, *, amount: int
) -> dict[str, Any]:
    """The ``POST /payments`` body. Holds the plaintext card: send it, never keep or log it."""
    card = request.card
    method: dict[str, Any] = {
        "type": "scheme",
        "number": card.pan.reveal(),
        "expiryMonth": f"{card.expiry.month:02d}",
        "expiryYear": f"{card.expiry.year:04d}",
    }
    if card.cvv is not None:
        method["cvc"] = card.cvv.reveal()
    body: dict[str, Any] = {
        "amount": _amount(amount, request.money.currency),
        "reference": request.reference,
        "merchantAccount": merchant_account,
        "paymentMethod": method,
        "shopperInteraction": "Ecommerce",
        "channel": "Web",
    }
    url = request.return_url or return_url
    if url:
        # Where Adyen's 3-D Secure redirect page sends the shopper back.
        body["returnUrl"] = url
    if not request.capture:
        # Per-payment manual capture; without it the account's capture setting applies
        # (immediate automatic capture by default).
        body["additionalData"] = {"manualCapture": "true"}
    if request.metadata:
        body["metadata"] = dict(request.metadata)
    return body


def capture_body(request: FollowUpRequest, merchant_account: str) -> dict[str, Any]:
    return {
        "merchantAccount": merchant_account,
        "amount": _amount(request.money.amount, request.money.currency),
        "reference": request.reference,
    }


def cancel_body(request: FollowUpRequest, merchant_account: str) -> dict[str, Any]:
    return {"merchantAccount": merchant_account, "reference": request.reference}


refund_body = capture_body  # same fields: merchantAccount, amount, reference


def _decline(data: Mapping[str, Any], default: DeclineCode) -> Decline:
    raw_code = str(data.get("refusalReasonCode", "") or "")
    message = str(data.get("refusalReason", "") or "")
    if not raw_code:
        return Decline(default, str(data.get("resultCode", "")), redact(message))
    return from_map(REFUSAL_CODES, raw_code, redact(message))


def payment_result(data: Mapping[str, Any], *, capture: bool, verify: bool) -> GatewayResult:
    """Map a ``/payments`` response (HTTP 200) to a :class:`GatewayResult`."""
    result_code = str(data.get("resultCode", ""))
    # An unknown code is not assumed to be a success: PENDING waits for the webhook.
    status = RESULT_CODES.get(result_code, GatewayStatus.PENDING)
    if status is GatewayStatus.AUTHORIZED:
        if verify:
            status = GatewayStatus.VERIFIED
        elif capture:
            status = GatewayStatus.CAPTURED  # automatic capture follows the authorization
    decline = None
    if status is GatewayStatus.DECLINED:
        decline = _decline(data, DeclineCode.CARD_DECLINED)
    elif status is GatewayStatus.FAILED:
        decline = _decline(data, DeclineCode.PROCESSING_ERROR)
    action = data.get("action")
    next_url = action.get("url") if isinstance(action, Mapping) else None
    amount = data.get("amount")
    return GatewayResult(
        status=status,
        connector_reference=data.get("pspReference"),
        amount=amount.get("value") if isinstance(amount, Mapping) else None,
        decline=decline,
        next_action_url=str(next_url) if next_url else None,
        raw=scrub(data, verbatim=REFERENCE_KEYS),
    )


def modification_result(data: Mapping[str, Any]) -> GatewayResult:
    """Map a capture/cancel/refund response (HTTP 201, ``status: received``)."""
    amount = data.get("amount")
    return GatewayResult(
        # "received": accepted, outcome by webhook. Anything else is not a known answer.
        status=GatewayStatus.PENDING if data.get("status") == "received" else GatewayStatus.FAILED,
        connector_reference=data.get("pspReference"),
        amount=amount.get("value") if isinstance(amount, Mapping) else None,
        raw=scrub(data, verbatim=REFERENCE_KEYS),
    )


def validation_decline(data: Mapping[str, Any]) -> GatewayResult | None:
    """A 422 that rejects the card itself (e.g. 101 Invalid card number) is a decline."""
    code = str(data.get("errorCode", ""))
    unified = CARD_VALIDATION_ERRORS.get(code)
    if unified is None:
        return None
    message = redact(str(data.get("message", "")))
    return GatewayResult(
        status=GatewayStatus.DECLINED,
        connector_reference=data.get("pspReference"),
        decline=Decline(unified, code, message),
        raw=scrub(data, verbatim=REFERENCE_KEYS),
    )


def error_summary(data: Mapping[str, Any], status_code: int) -> str:
    """A one-line description of an Adyen error body, safe to put in an exception."""
    code = data.get("errorCode", "?")
    kind = data.get("errorType", "?")
    message = redact(str(data.get("message", "")))[:200]
    return f"Adyen answered HTTP {status_code} ({kind} {code}: {message})."
