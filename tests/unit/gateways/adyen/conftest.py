"""Adyen connector fixtures: a connector on the test endpoint with no backoff sleep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cardshield.cards import CVV, PAN, Expiry
from cardshield.gateways.adyen import AdyenConnector, build
from cardshield.gateways.base import AuthorizeRequest, FollowUpRequest, Money
from cardshield.vault.service import CardData
from tests.conftest import load_vectors

BASE = "https://checkout-test.adyen.com/v71"
API_KEY = "AQEyhmfxK4-test-api-key"
# Adyen's published Mastercard test card (docs.adyen.com/development-resources/testing).
ADYEN_TEST_PAN = "5100290029002909"


def vectors(name: str) -> Any:
    return load_vectors(f"gateways/adyen/{name}.json")


def card(pan: str = ADYEN_TEST_PAN, cvv: str | None = "737") -> CardData:
    return CardData(pan=PAN(pan), expiry=Expiry(year=2030, month=3), cvv=CVV(cvv) if cvv else None)


def auth_request(
    *, capture: bool = False, key: str = "idem-pay_0001-authorize", **kw: Any
) -> AuthorizeRequest:
    fields: dict[str, Any] = {
        "money": Money(1000, "EUR"),
        "card": card(),
        "capture": capture,
        "idempotency_key": key,
        "merchant_account": "CardshieldTest",
        "reference": "pay_0001",
        "return_url": "https://shop.example/return",
    }
    fields.update(kw)
    return AuthorizeRequest(**fields)


def follow_up(
    amount: int = 600, key: str = "idem-pay_0001-capture-1", **kw: Any
) -> FollowUpRequest:
    fields: dict[str, Any] = {
        "money": Money(amount, "EUR"),
        "connector_reference": "DZ4DPSHB4WD2WN82",
        "idempotency_key": key,
        "merchant_account": "CardshieldTest",
        "reference": "cap_0001",
    }
    fields.update(kw)
    return FollowUpRequest(**fields)


OPTIONS = {
    "api_key": API_KEY,
    "merchant_account": "CardshieldTest",
    "hmac_key": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
    "backoff_base_s": 0.0,
    "timeout_s": 2.0,
}


@pytest.fixture
def adyen() -> Iterator[AdyenConnector]:
    connector = build(OPTIONS)
    yield connector
    connector.close()
