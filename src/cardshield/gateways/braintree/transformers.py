"""Braintree request parameters and response mapping (developer.paypal.com/braintree/docs).

Parameters are the SDK's dictionaries (it renders them as XML). Amounts are decimal
strings in the merchant account's currency (``"10.00"``, ``"1000"`` for JPY); a merchant
account has one currency, so the currency picks the account. Braintree has no
idempotency header: our idempotency key goes in ``order_id`` (max 255 characters), which
``sync`` searches on and which Braintree's duplicate-transaction check compares.

Results: a transaction's ``status`` maps through :data:`STATUS`; processor declines carry
``processor_response_code`` (2000-class: issuer declines, 3000-class: processor network
problems), gateway rejections carry ``gateway_rejection_reason``. ``raw`` is built from
an allow-list of fields, so a card number can never reach it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cardshield.gateways.base import AuthorizeRequest, GatewayResult, GatewayStatus, Money
from cardshield.gateways.declines import Decline, DeclineCode, from_map
from cardshield.gateways.http import safe_text
from cardshield.payments.money import exponent
from cardshield.redaction.scrub import scrub

CAPTURED_STATES = frozenset(
    {
        "submitted_for_settlement",
        "settling",
        "settled",
        "settlement_pending",
        "settlement_confirmed",
    }
)

STATUS: dict[str, GatewayStatus] = {
    "authorizing": GatewayStatus.PENDING,
    "authorized": GatewayStatus.AUTHORIZED,
    **dict.fromkeys(CAPTURED_STATES, GatewayStatus.CAPTURED),
    "voided": GatewayStatus.VOIDED,
    # Funds released without a capture: for the payment this is the same end as a void.
    "authorization_expired": GatewayStatus.VOIDED,
    "processor_declined": GatewayStatus.DECLINED,
    "gateway_rejected": GatewayStatus.DECLINED,
    "failed": GatewayStatus.FAILED,
    "settlement_declined": GatewayStatus.FAILED,
}

VERIFICATION_STATUS: dict[str, GatewayStatus] = {
    "verified": GatewayStatus.VERIFIED,
    "processor_declined": GatewayStatus.DECLINED,
    "gateway_rejected": GatewayStatus.DECLINED,
    "failed": GatewayStatus.FAILED,
}

# Processor response codes (Braintree "Authorization responses" reference).
PROCESSOR_DECLINES: dict[str, DeclineCode] = {
    "2000": DeclineCode.DO_NOT_HONOR,
    "2001": DeclineCode.INSUFFICIENT_FUNDS,
    "2002": DeclineCode.LIMIT_EXCEEDED,
    "2003": DeclineCode.LIMIT_EXCEEDED,  # cardholder's activity limit
    "2004": DeclineCode.EXPIRED_CARD,
    "2005": DeclineCode.INCORRECT_NUMBER,
    "2006": DeclineCode.CARD_DECLINED,  # invalid expiration date
    "2007": DeclineCode.INCORRECT_NUMBER,  # no account
    "2008": DeclineCode.INCORRECT_NUMBER,  # card account length error
    "2009": DeclineCode.CARD_DECLINED,  # no such issuer
    "2010": DeclineCode.INCORRECT_CVC,  # card issuer declined CVV
    "2012": DeclineCode.LOST_OR_STOLEN,  # possible lost card
    "2013": DeclineCode.LOST_OR_STOLEN,  # possible stolen card
    "2014": DeclineCode.FRAUDULENT,  # fraud suspected
    "2015": DeclineCode.CARD_DECLINED,  # transaction not allowed
    "2016": DeclineCode.PROCESSING_ERROR,  # duplicate transaction
    "2038": DeclineCode.CARD_DECLINED,  # processor declined
    "2046": DeclineCode.CARD_DECLINED,  # declined
    "2047": DeclineCode.LOST_OR_STOLEN,  # call issuer, pick up card
    "2057": DeclineCode.CARD_DECLINED,  # issuer or cardholder restriction
    "2099": DeclineCode.AUTHENTICATION_REQUIRED,  # cardholder authentication required
    "3000": DeclineCode.PROCESSING_ERROR,  # processor network unavailable
}

GATEWAY_REJECTIONS: dict[str, DeclineCode] = {
    "cvv": DeclineCode.INCORRECT_CVC,
    "avs_and_cvv": DeclineCode.INCORRECT_CVC,
    "avs": DeclineCode.CARD_DECLINED,
    "fraud": DeclineCode.FRAUDULENT,
    "risk_threshold": DeclineCode.FRAUDULENT,
    "three_d_secure": DeclineCode.AUTHENTICATION_REQUIRED,
    "duplicate": DeclineCode.PROCESSING_ERROR,
    "application_incomplete": DeclineCode.PROCESSING_ERROR,
    "token_issuance": DeclineCode.PROCESSING_ERROR,
    "excessive_retry": DeclineCode.LIMIT_EXCEEDED,
}

# Transaction and verification fields kept in ``raw``; the card is reduced to its masked form.
_RAW_FIELDS = (
    "id", "type", "status", "amount", "currency_iso_code", "merchant_account_id", "order_id",
    "created_at", "updated_at", "processor_response_code", "processor_response_text",
    "processor_response_type", "additional_processor_response", "processor_authorization_code",
    "gateway_rejection_reason", "network_response_code", "network_response_text",
    "network_transaction_id", "cvv_response_code", "avs_postal_code_response_code",
    "avs_street_address_response_code", "refunded_transaction_id", "refund_ids",
    "settlement_batch_id",
)  # fmt: skip
_RAW_CARD_FIELDS = ("bin", "last_4", "card_type", "expiration_month", "expiration_year")


def amount_text(money: Money) -> str:
    exp = exponent(money.currency)
    return str(Decimal(money.amount).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))


def minor_units(amount: Any, currency: str | None) -> int | None:
    if amount is None or not currency:
        return None
    return int(Decimal(str(amount)).scaleb(exponent(currency)))


def _credit_card(request: AuthorizeRequest) -> dict[str, str]:
    # The one place card data enters a Braintree request: the raw credit_card fields.
    card = request.card
    fields = {
        "number": card.pan.reveal(),
        "expiration_month": f"{card.expiry.month:02d}",
        "expiration_year": str(card.expiry.year),
    }
    if card.cvv is not None:
        fields["cvv"] = card.cvv.reveal()
    return fields


def sale_params(
    request: AuthorizeRequest, merchant_account_id: str | None, api_request_key: bool
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "amount": amount_text(request.money),
        "order_id": request.idempotency_key,
        "credit_card": _credit_card(request),
        "options": {"submit_for_settlement": request.capture},
    }
    if merchant_account_id:
        params["merchant_account_id"] = merchant_account_id
    if api_request_key:
        params["api_request_key"] = request.idempotency_key
    return params


def verification_params(
    request: AuthorizeRequest, merchant_account_id: str | None
) -> dict[str, Any]:
    options: dict[str, str] = {}
    if merchant_account_id:
        options["merchant_account_id"] = merchant_account_id
    if request.money.amount > 0:
        options["amount"] = amount_text(request.money)
    params: dict[str, Any] = {"credit_card": _credit_card(request)}
    if options:
        params["options"] = options
    return params


def _raw(obj: Any) -> dict[str, Any]:
    raw = {f: _plain(getattr(obj, f, None)) for f in _RAW_FIELDS if hasattr(obj, f)}
    card = getattr(obj, "credit_card_details", None) or getattr(obj, "credit_card", None)
    if card is not None:
        fields = card if isinstance(card, dict) else vars(card)
        raw["credit_card"] = {f: _plain(fields.get(f)) for f in _RAW_CARD_FIELDS}
    cleaned: dict[str, Any] = scrub(raw)
    return cleaned


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def decline_for(obj: Any) -> Decline:
    status = getattr(obj, "status", None)
    if status == "gateway_rejected":
        reason = str(getattr(obj, "gateway_rejection_reason", None) or "unknown")
        code = GATEWAY_REJECTIONS.get(reason, DeclineCode.CARD_DECLINED)
        return Decline(code, f"gateway_rejected:{reason}")
    raw_code = str(getattr(obj, "processor_response_code", None) or "")
    message = safe_text(str(getattr(obj, "processor_response_text", None) or ""))
    if raw_code.startswith("3") and raw_code not in PROCESSOR_DECLINES:
        return Decline(DeclineCode.PROCESSING_ERROR, raw_code, message)
    return from_map(PROCESSOR_DECLINES, raw_code, message)


def transaction_result(txn: Any) -> GatewayResult:
    status = STATUS.get(str(txn.status), GatewayStatus.PENDING)
    if getattr(txn, "type", None) == "credit" and status is GatewayStatus.CAPTURED:
        status = GatewayStatus.REFUNDED  # a refund is a credit transaction that settles
    return GatewayResult(
        status=status,
        connector_reference=txn.id,
        amount=minor_units(getattr(txn, "amount", None), getattr(txn, "currency_iso_code", None)),
        decline=decline_for(txn) if status is GatewayStatus.DECLINED else None,
        raw=_raw(txn),
    )


def verification_result(verification: Any) -> GatewayResult:
    status = VERIFICATION_STATUS.get(str(verification.status), GatewayStatus.FAILED)
    return GatewayResult(
        status=status,
        connector_reference=verification.id,
        decline=decline_for(verification) if status is GatewayStatus.DECLINED else None,
        raw=_raw(verification),
    )


def validation_codes(result: Any) -> list[str]:
    return [str(e.code) for e in result.errors.deep_errors]


def validation_failure(result: Any) -> GatewayResult:
    """An ErrorResult without a transaction: Braintree refused the request itself."""
    errors = result.errors.deep_errors
    first = errors[0] if errors else None
    code = str(first.code) if first is not None else "validation_error"
    message = safe_text(str(first.message if first is not None else result.message))
    raw = {
        "message": safe_text(str(result.message)),
        "errors": [{"code": str(e.code), "attribute": str(e.attribute)} for e in errors],
    }
    return GatewayResult(
        status=GatewayStatus.FAILED,
        decline=Decline(DeclineCode.INVALID_REQUEST, code, message),
        raw=raw,
    )
