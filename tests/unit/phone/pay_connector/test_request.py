"""Reading Twilio's JSON: typed card values at once, amounts in minor units, and errors that
name the field but never repeat a value."""

from __future__ import annotations

from typing import Any

import pytest

from cardshield.cards import PAN
from cardshield.errors import CardshieldError, ExpiredCard, IncorrectNumber
from cardshield.phone.pay_connector.request import (
    PaymentMethodNotSupported,
    PayRequestInvalid,
    parse,
)
from tests.apps import NOW
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.unit.phone.pay_connector.support import LUHN_INVALID, charge, tokenize


def test_a_charge_becomes_typed_values() -> None:
    request = parse(charge(), NOW)
    assert isinstance(request.pan, PAN)
    assert request.pan.last4 == "4242"
    assert (request.expiry.year, request.expiry.month) == (2030, 8)
    assert request.cvv is not None
    assert (request.amount, request.currency) == (1000, "USD")
    assert request.postal_code is True
    assert request.token_type == "one-time"
    # Masked everywhere a value could be printed by accident.
    for text in (repr(request), str(request), f"{request}"):
        assert CANARY_PAN not in text
        assert f"'{CANARY_CVV}'" not in text
    material = repr(request.material())
    assert CANARY_PAN not in material
    assert CANARY_CVV not in material


def test_tokenize_defaults_to_reusable_as_pay_does() -> None:
    assert parse(tokenize(token_type=None), NOW).reusable
    assert not parse(tokenize(token_type="one-time"), NOW).reusable
    assert parse(tokenize(expiry_year="30"), NOW).expiry.year == 2030


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10.0", "USD", 1000),
        ("10", "usd", 1000),
        ("0.01", "EUR", 1),
        ("1500", "JPY", 1500),
        ("1.234", "BHD", 1234),
        (25, "USD", 2500),
    ],
)
def test_amounts_in_minor_units(amount: Any, currency: str, minor: int) -> None:
    assert parse(charge(amount=amount, currency_code=currency), NOW).amount == minor


@pytest.mark.parametrize("amount", ["1.5", "NaN", "Infinity", "-5", "0", "1e400", "ten", 1.5])
def test_bad_amounts(amount: Any) -> None:
    with pytest.raises(PayRequestInvalid) as caught:
        parse(charge(amount=amount, currency_code="JPY"), NOW)
    assert caught.value.param == "amount"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"cardnumber": LUHN_INVALID}, IncorrectNumber),
        ({"expiry_month": "10", "expiry_year": "2026"}, ExpiredCard),
        ({"bank_routing_number": "021000021"}, PaymentMethodNotSupported),
    ],
)
def test_card_errors_never_repeat_the_number(changes: dict[str, Any], error: type) -> None:
    with pytest.raises(error) as caught:
        parse(charge(**changes), NOW)
    assert isinstance(caught.value, CardshieldError)
    assert LUHN_INVALID not in str(caught.value.to_dict())
