"""Stripe request bodies and response mapping (API reference: docs.stripe.com/api).

Requests are ``application/x-www-form-urlencoded`` with bracketed keys for nested objects
(``payment_method_data[card][number]``); amounts are integers in the currency's minor
unit and currencies are lower case ISO 4217 codes. Every object we create carries
``metadata[cardshield_key]`` (our idempotency key) and ``metadata[cardshield_reference]``
(our payment id), so ``sync`` can find it by search or by listing.

Errors are ``{"error": {"type", "code", "decline_code", "message", "param",
"payment_intent" | "setup_intent"}}``; a declined card is HTTP 402 with ``type=card_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cardshield.gateways.base import AuthorizeRequest, GatewayResult, GatewayStatus, Money
from cardshield.gateways.declines import Decline, DeclineCode, from_map
from cardshield.gateways.http import safe_text
from cardshield.redaction.scrub import scrub

KEY_FIELD = "cardshield_key"
REFERENCE_FIELD = "cardshield_reference"

PAYMENT_INTENT_STATUS: dict[str, GatewayStatus] = {
    "requires_payment_method": GatewayStatus.DECLINED,  # a confirm failed; see last_payment_error
    "requires_confirmation": GatewayStatus.PENDING,
    "requires_action": GatewayStatus.REQUIRES_ACTION,
    "processing": GatewayStatus.PENDING,
    "requires_capture": GatewayStatus.AUTHORIZED,
    "canceled": GatewayStatus.VOIDED,
    "succeeded": GatewayStatus.CAPTURED,
}

SETUP_INTENT_STATUS: dict[str, GatewayStatus] = {
    "requires_payment_method": GatewayStatus.DECLINED,
    "requires_confirmation": GatewayStatus.PENDING,
    "requires_action": GatewayStatus.REQUIRES_ACTION,
    "processing": GatewayStatus.PENDING,
    "canceled": GatewayStatus.FAILED,
    "succeeded": GatewayStatus.VERIFIED,
}

REFUND_STATUS: dict[str, GatewayStatus] = {
    "pending": GatewayStatus.PENDING,
    "requires_action": GatewayStatus.PENDING,
    "succeeded": GatewayStatus.REFUNDED,
    "failed": GatewayStatus.FAILED,
    "canceled": GatewayStatus.FAILED,
}

# error.decline_code (issuer reason) first, then error.code (docs.stripe.com/declines/codes,
# docs.stripe.com/error-codes).
DECLINES: dict[str, DeclineCode] = {
    "card_declined": DeclineCode.CARD_DECLINED,
    "generic_decline": DeclineCode.CARD_DECLINED,
    "insufficient_funds": DeclineCode.INSUFFICIENT_FUNDS,
    "card_velocity_exceeded": DeclineCode.LIMIT_EXCEEDED,
    "withdrawal_count_limit_exceeded": DeclineCode.LIMIT_EXCEEDED,
    "expired_card": DeclineCode.EXPIRED_CARD,
    "incorrect_cvc": DeclineCode.INCORRECT_CVC,
    "invalid_cvc": DeclineCode.INCORRECT_CVC,
    "incorrect_number": DeclineCode.INCORRECT_NUMBER,
    "invalid_number": DeclineCode.INCORRECT_NUMBER,
    "invalid_account": DeclineCode.INCORRECT_NUMBER,
    "lost_card": DeclineCode.LOST_OR_STOLEN,
    "stolen_card": DeclineCode.LOST_OR_STOLEN,
    "pickup_card": DeclineCode.LOST_OR_STOLEN,
    "fraudulent": DeclineCode.FRAUDULENT,
    "merchant_blacklist": DeclineCode.FRAUDULENT,
    "do_not_honor": DeclineCode.DO_NOT_HONOR,
    "processing_error": DeclineCode.PROCESSING_ERROR,
    "issuer_not_available": DeclineCode.PROCESSING_ERROR,
    "try_again_later": DeclineCode.PROCESSING_ERROR,
    "reenter_transaction": DeclineCode.PROCESSING_ERROR,
    "authentication_required": DeclineCode.AUTHENTICATION_REQUIRED,
    "authentication_not_handled": DeclineCode.AUTHENTICATION_REQUIRED,
    "payment_intent_authentication_failure": DeclineCode.AUTHENTICATION_REQUIRED,
    "setup_intent_authentication_failure": DeclineCode.AUTHENTICATION_REQUIRED,
    "currency_not_supported": DeclineCode.CURRENCY_NOT_SUPPORTED,
}


def encode(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode("ascii")


def _metadata(request: AuthorizeRequest) -> list[tuple[str, str]]:
    pairs = [(f"metadata[{k}]", v) for k, v in sorted(request.metadata.items())]
    pairs += [
        (f"metadata[{KEY_FIELD}]", request.idempotency_key),
        (f"metadata[{REFERENCE_FIELD}]", request.reference),
    ]
    return pairs


def _card(request: AuthorizeRequest) -> list[tuple[str, str]]:
    # The one place card data enters a Stripe request: the raw-card API fields.
    card = request.card
    pairs = [
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][number]", card.pan.reveal()),
        ("payment_method_data[card][exp_month]", str(card.expiry.month)),
        ("payment_method_data[card][exp_year]", str(card.expiry.year)),
    ]
    if card.cvv is not None:
        pairs.append(("payment_method_data[card][cvc]", card.cvv.reveal()))
    return pairs


def _common(request: AuthorizeRequest) -> list[tuple[str, str]]:
    pairs = [("confirm", "true"), ("payment_method_types[]", "card")]
    pairs += _card(request)
    if request.return_url:
        # With a return_url a 3-D Secure challenge comes back as next_action.redirect_to_url.
        pairs.append(("return_url", request.return_url))
    if request.description:
        pairs.append(("description", request.description))
    return pairs + _metadata(request)


def payment_intent_form(request: AuthorizeRequest) -> list[tuple[str, str]]:
    """POST /v1/payment_intents: create and confirm with the card in one call."""
    return [
        ("amount", str(request.money.amount)),
        ("currency", request.money.currency.lower()),
        ("capture_method", "automatic" if request.capture else "manual"),
        *_common(request),
    ]


def setup_intent_form(request: AuthorizeRequest) -> list[tuple[str, str]]:
    """POST /v1/setup_intents: confirm the card without charging it (our verify)."""
    return [("usage", "off_session"), *_common(request)]


def capture_form(money: Money) -> list[tuple[str, str]]:
    return [("amount_to_capture", str(money.amount))]


def cancel_form() -> list[tuple[str, str]]:
    return [("cancellation_reason", "requested_by_customer")]


def refund_form(
    payment_intent: str, money: Money, key: str, reference: str
) -> list[tuple[str, str]]:
    return [
        ("payment_intent", payment_intent),
        ("amount", str(money.amount)),
        (f"metadata[{KEY_FIELD}]", key),
        (f"metadata[{REFERENCE_FIELD}]", reference),
    ]


def search_query(key: str) -> str:
    """Stripe search query language: string values quoted, quotes escaped with a backslash."""
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"metadata['{KEY_FIELD}']:'{escaped}'"


def decline_from_error(error: Mapping[str, Any]) -> Decline:
    raw = str(error.get("decline_code") or error.get("code") or "card_declined")
    message = safe_text(str(error.get("message") or ""))
    if raw not in DECLINES and error.get("code") in DECLINES:
        # An issuer reason we do not list: fall back to the error code's meaning, keep raw.
        return Decline(DECLINES[str(error["code"])], raw, message)
    return from_map(DECLINES, raw, message)


def _amount(obj: Mapping[str, Any], status: GatewayStatus) -> int | None:
    if status is GatewayStatus.CAPTURED:
        value = obj.get("amount_received")
    elif status is GatewayStatus.AUTHORIZED:
        value = obj.get("amount_capturable")
    else:
        value = obj.get("amount")
    return value if isinstance(value, int) else None


def _next_action_url(obj: Mapping[str, Any]) -> str | None:
    action = obj.get("next_action") or {}
    redirect = action.get("redirect_to_url") or {}
    url = redirect.get("url")
    return url if isinstance(url, str) else None


def intent_result(obj: Mapping[str, Any]) -> GatewayResult:
    """A PaymentIntent or SetupIntent object -> GatewayResult."""
    is_setup = obj.get("object") == "setup_intent"
    table = SETUP_INTENT_STATUS if is_setup else PAYMENT_INTENT_STATUS
    status = table.get(str(obj.get("status")), GatewayStatus.PENDING)
    decline = None
    if status is GatewayStatus.DECLINED:
        error = obj.get("last_setup_error" if is_setup else "last_payment_error") or {}
        decline = decline_from_error(error)
    return GatewayResult(
        status=status,
        connector_reference=obj.get("id"),
        amount=None if is_setup else _amount(obj, status),
        decline=decline,
        next_action_url=_next_action_url(obj) if status is GatewayStatus.REQUIRES_ACTION else None,
        raw=scrub(obj),
    )


def refund_result(obj: Mapping[str, Any]) -> GatewayResult:
    status = REFUND_STATUS.get(str(obj.get("status")), GatewayStatus.PENDING)
    decline = None
    if status is GatewayStatus.FAILED and obj.get("failure_reason"):
        decline = from_map(DECLINES, str(obj["failure_reason"]))
    amount = obj.get("amount")
    return GatewayResult(
        status=status,
        connector_reference=obj.get("id"),
        amount=amount if isinstance(amount, int) else None,
        decline=decline,
        raw=scrub(obj),
    )


def result_for(obj: Mapping[str, Any]) -> GatewayResult:
    if obj.get("object") == "refund":
        return refund_result(obj)
    return intent_result(obj)


def error_result(status_code: int, body: Mapping[str, Any]) -> GatewayResult | None:
    """A 400/402/404 error body -> a DECLINED or FAILED result; None if it is not one."""
    error = body.get("error")
    if not isinstance(error, Mapping):
        return None
    kind = error.get("type")
    if kind == "card_error" or status_code == 402:
        intent = error.get("payment_intent") or error.get("setup_intent") or {}
        return GatewayResult(
            status=GatewayStatus.DECLINED,
            connector_reference=intent.get("id") if isinstance(intent, Mapping) else None,
            decline=decline_from_error(error),
            raw=scrub(body),
        )
    if kind == "invalid_request_error" and status_code in (400, 404):
        # Stripe refused the request itself (bad state, unknown id, raw card data not
        # enabled on the account...): definitively not performed.
        code = str(error.get("code") or "invalid_request")
        decline = Decline(
            DECLINES.get(code, DeclineCode.INVALID_REQUEST),
            code,
            safe_text(str(error.get("message") or "")),
        )
        return GatewayResult(status=GatewayStatus.FAILED, decline=decline, raw=scrub(body))
    return None
