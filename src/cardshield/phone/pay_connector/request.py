"""Reading one Generic Pay Connector request: Twilio's JSON in, typed values out.

Twilio POSTs a JSON object (https://www.twilio.com/docs/voice/twiml/pay/generic-pay-connector)::

    {"method": "charge" | "tokenize", "transaction_id": "...",
     "cardnumber": "4111111111111111", "cvv": "123", "expiry_month": "08",
     "expiry_year": "2030", "postal_code": "94111",
     "amount": "10.0", "currency_code": "USD", "description": "pizza",   (charge)
     "token_type": "one-time" | "reusable",                              (tokenize)
     "parameters": {"<Parameter> name": "value", ...}}

The card fields become :class:`~cardshield.cards.PAN`, :class:`~cardshield.cards.CVV` and
:class:`~cardshield.cards.Expiry` at once, so the digits are masked in every ``repr`` from
here on; a number that fails its checks raises the card error that names the problem
(``incorrect_number``, ``expired_card`` ...), which Twilio's <Pay> can tell the caller. Bank
account (ACH) requests are refused with :class:`PaymentMethodNotSupported` before any field
is read. Fields this module does not know are ignored rather than refused: Twilio may add
some, and refusing them would stop payments. No error message repeats a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from cardshield.cards import CVV, PAN, Expiry
from cardshield.errors import CardDataInText, InvalidExpiry, InvalidRequestError
from cardshield.payments.money import InvalidCurrency, check_amount, exponent, normalize_currency
from cardshield.redaction.text import contains_card_data

Method = Literal["charge", "tokenize"]
TokenType = Literal["one-time", "reusable"]
METHODS: tuple[Method, ...] = ("charge", "tokenize")
TOKEN_TYPES: tuple[TokenType, ...] = ("one-time", "reusable")
# The idempotency key is "twilio-pay:" + this; the store takes 255 characters.
MAX_TRANSACTION_ID = 200
MAX_DESCRIPTION = 500
MAX_PARAMETERS = 40
MAX_PARAMETER_NAME = 40
MAX_PARAMETER_VALUE = 500
# Any of these means <Pay paymentMethod="ach-debit">: a bank account, not a card.
_ACH_FIELDS = ("bank_account_number", "bank_routing_number", "routing_number", "account_number")


class PayRequestInvalid(InvalidRequestError):
    code = "parameter_invalid"


class PayRequestMissing(InvalidRequestError):
    code = "parameter_missing"
    default_message = "A required field is missing."


class PayRequestNotJson(InvalidRequestError):
    code = "invalid_json"
    default_message = "The body must be a JSON object."


class PaymentMethodNotSupported(InvalidRequestError):
    """A bank account (ACH) instead of a card: cardshield keeps and forwards cards only."""

    code = "payment_method_not_supported"
    default_message = (
        "This connector accepts payment cards only; bank account (ACH) payments are not "
        'supported. Use paymentMethod="credit-card" in <Pay>.'
    )


@dataclass(frozen=True, slots=True)
class PayRequest:
    """One checked request. ``amount`` is in minor units (charge only)."""

    method: Method
    transaction_id: str
    pan: PAN
    expiry: Expiry
    cvv: CVV | None
    postal_code: bool  # whether one was keyed; the code itself is not kept
    token_type: TokenType
    amount: int | None = None
    currency: str | None = None
    description: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)

    def material(self) -> dict[str, Any]:
        """What tells two requests apart, without the card number or the security code (the
        caller adds a keyed digest of the card): the idempotency check hashes this."""
        return {
            "method": self.method,
            "token_type": self.token_type,
            "exp": [self.expiry.year, self.expiry.month],
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "parameters": dict(self.parameters),
        }

    @property
    def reusable(self) -> bool:
        return self.method == "tokenize" and self.token_type == TOKEN_TYPES[1]


def method_of(body: object) -> Method | None:
    """The request's method when it names a known one (to shape an error answer)."""
    if isinstance(body, Mapping):
        value = body.get("method")
        if value in METHODS:
            return value  # type: ignore[no-any-return]
    return None


def _text(body: Mapping[str, Any], name: str, *, required: bool, limit: int = 64) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise PayRequestMissing(f"{name} is required.", param=name)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayRequestInvalid(f"{name} must be a string.", param=name)
    text = str(value).strip()
    if len(text) > limit:
        raise PayRequestInvalid(f"{name} is longer than {limit} characters.", param=name)
    return text


def _amount(body: Mapping[str, Any], currency: str) -> int:
    text = _text(body, "amount", required=True, limit=32)
    assert text is not None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise PayRequestInvalid("amount must be a decimal number.", param="amount") from None
    scaled = value.scaleb(exponent(currency)) if value.is_finite() else value
    # A fraction of the minor unit ("10.005" USD) is a mistake, not something to round.
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise PayRequestInvalid(
            f"amount must have at most {exponent(currency)} decimals for {currency}.",
            param="amount",
        )
    try:
        return check_amount(int(scaled))
    except InvalidRequestError as exc:
        raise PayRequestInvalid(
            "amount must be a positive amount (use method tokenize to save a card).",
            param="amount",
        ) from exc


def _currency(body: Mapping[str, Any]) -> str:
    text = _text(body, "currency_code", required=True, limit=8)
    assert text is not None
    try:
        return normalize_currency(text)
    except InvalidCurrency:
        raise InvalidCurrency(param="currency_code") from None


def _parameters(body: Mapping[str, Any]) -> dict[str, str]:
    value = body.get("parameters")
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_PARAMETERS:
        raise PayRequestInvalid(
            f"parameters must be an object with at most {MAX_PARAMETERS} entries.",
            param="parameters",
        )
    cleaned: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_PARAMETER_NAME:
            raise PayRequestInvalid(
                f"parameter names must be 1 to {MAX_PARAMETER_NAME} characters.",
                param="parameters",
            )
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise PayRequestInvalid("parameter values must be strings.", param="parameters")
        text = str(item)
        if len(text) > MAX_PARAMETER_VALUE:
            raise PayRequestInvalid(
                f"parameter values are limited to {MAX_PARAMETER_VALUE} characters.",
                param="parameters",
            )
        # Kept on the payment (metadata): card data there would be card data at rest.
        if contains_card_data(name) or contains_card_data(text):
            raise CardDataInText(param="parameters")
        cleaned[name] = text
    return cleaned


def _description(body: Mapping[str, Any]) -> str | None:
    text = _text(body, "description", required=False, limit=MAX_DESCRIPTION)
    if text is not None and contains_card_data(text):
        raise CardDataInText(param="description")
    return text


def _expiry(body: Mapping[str, Any], now: datetime) -> Expiry:
    month = _text(body, "expiry_month", required=True, limit=2)
    year = _text(body, "expiry_year", required=True, limit=4)
    assert month is not None
    assert year is not None
    if not month.isdigit() or not year.isdigit() or len(year) not in (2, 4):
        raise InvalidExpiry
    return Expiry.from_parts(month, year).check(now)


def parse(body: object, now: datetime) -> PayRequest:
    """Check ``body`` (the decoded JSON); raise the error that names the first problem.

    Protocol problems (missing fields, wrong types, unknown method or currency) are
    :class:`~cardshield.errors.InvalidRequestError`; card problems are
    :class:`~cardshield.errors.CardError` and ACH :class:`PaymentMethodNotSupported`.
    """
    if not isinstance(body, Mapping):
        raise PayRequestNotJson
    if any(body.get(name) for name in _ACH_FIELDS) or body.get("payment_method") == "ach-debit":
        raise PaymentMethodNotSupported(param="payment_method")
    method = _text(body, "method", required=True)
    if method not in METHODS:
        raise PayRequestInvalid("method must be charge or tokenize.", param="method")
    transaction_id = _text(body, "transaction_id", required=True, limit=MAX_TRANSACTION_ID)
    assert transaction_id is not None
    # Protocol fields first: a request Twilio cannot retry successfully is refused before
    # the card is even looked at.
    currency = amount = None
    kind: TokenType = "one-time"  # a charge's card is always single use
    if method == "charge":
        currency = _currency(body)
        amount = _amount(body, currency)
    else:
        # Twilio's <Pay> tokenType defaults to reusable, so a request without one means that.
        wanted = _text(body, "token_type", required=False) or "reusable"
        if wanted not in TOKEN_TYPES:
            raise PayRequestInvalid("token_type must be one-time or reusable.", param="token_type")
        kind = "reusable" if wanted == "reusable" else "one-time"
    description = _description(body)
    parameters = _parameters(body)
    number = _text(body, "cardnumber", required=True, limit=32)
    assert number is not None
    pan = PAN(number)
    expiry = _expiry(body, now)
    code = _text(body, "cvv", required=False, limit=4)
    cvv = CVV(code, pan.brand) if code is not None else None
    postal = _text(body, "postal_code", required=False, limit=16)
    return PayRequest(
        method="charge" if method == "charge" else "tokenize",
        transaction_id=transaction_id,
        pan=pan,
        expiry=expiry,
        cvv=cvv,
        postal_code=postal is not None,
        token_type=kind,
        amount=amount,
        currency=currency,
        description=description,
        parameters=parameters,
    )
