"""The JSON Twilio's Generic Pay Connector expects back, and the project's error object.

Shapes (https://www.twilio.com/docs/voice/twiml/pay/generic-pay-connector)::

    charge:   {"charge_id": "pay_...", "error_code": null, "error_message": null,
               "parameters": {...}}
    tokenize: {"token_id": "tok_...", "error_code": null, "error_message": null,
               "parameters": {...}}
    failure:  the id null, error_code and error_message set.

Twilio hands ``parameters`` to the <Pay> action URL as ``PayConnector_<name>``, so they are
the merchant's view of the outcome: payment id, status, brand, last 4, expiry month and
year, decline code. Never a digit of the card beyond the last four, never the security code.

A processed outcome (a decline, a card number that fails its check digit, an expired card,
a bank account) is a failure body with status 200, as a processor's answer: <Pay> reads it
and tells the caller or asks again. A request that cannot be processed at all (not JSON, a
missing field, bad credentials, an idempotency conflict) is a 4xx whose body carries both
Twilio's fields and ``{"error": {"type", "code", "message", "param"}}``, so Twilio's logs and
anything that reads cardshield's errors see the same reason.
"""

from __future__ import annotations

from typing import Any

from cardshield.errors import CardshieldError
from cardshield.payments.views import PaymentView
from cardshield.phone.pay_connector.request import Method
from cardshield.vault.service import CardRecord

_PAID = ("captured", "authorized")
_ACTION_MESSAGE = (
    "The card issuer asks for 3-D Secure authentication, which a phone payment cannot do."
)


def _id_field(method: Method | None) -> str:
    return "token_id" if method == "tokenize" else "charge_id"


def tokenized(record: CardRecord, token_type: str) -> dict[str, Any]:
    return {
        "token_id": record.token,
        "error_code": None,
        "error_message": None,
        "parameters": {
            "brand": record.brand,
            "last4": record.last4,
            "exp_month": f"{record.exp_month:02d}",
            "exp_year": str(record.exp_year),
            "token_type": token_type,
        },
    }


def charged(view: PaymentView) -> dict[str, Any]:
    """A charge's answer: the payment id on success, Twilio's failure shape otherwise."""
    parameters = {
        "payment_id": view.id,
        "status": view.status,
        "amount": str(view.amount),
        "currency": view.currency.lower(),
    }
    if view.card is not None:
        parameters |= {"brand": view.card.brand, "last4": view.card.last4}
    if view.status in _PAID:
        return {
            "charge_id": view.id,
            "error_code": None,
            "error_message": None,
            "parameters": parameters,
        }
    if view.status == "requires_action":
        code, message = "authentication_required", _ACTION_MESSAGE
    else:
        code = view.decline_code or "card_declined"
        message = view.failure_message or "The card was declined."
    parameters["decline_code"] = code
    return {
        "charge_id": None,
        "error_code": code,
        "error_message": message,
        "parameters": parameters,
    }


def failed(method: Method | None, exc: CardshieldError) -> dict[str, Any]:
    """A processed failure in Twilio's shape (status 200)."""
    return {
        _id_field(method): None,
        "error_code": exc.code,
        "error_message": exc.message,
        "parameters": {},
    }


def refused(method: Method | None, exc: CardshieldError) -> dict[str, Any]:
    """A request refused with a 4xx (or 5xx): Twilio's fields and the project's error."""
    return failed(method, exc) | exc.to_dict()
