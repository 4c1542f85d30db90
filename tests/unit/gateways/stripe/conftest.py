"""Fixtures for the Stripe connector tests: a connector wired to respx, requests, vectors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from cardshield.cards import CVV, PAN, Expiry
from cardshield.gateways import get_connector
from cardshield.gateways.base import AuthorizeRequest, FollowUpRequest, Money
from cardshield.gateways.stripe import StripeConnector
from cardshield.vault.service import CardData
from tests.conftest import CANARY_CVV, CANARY_PAN, load_vectors

API_KEY = "sk_test_51Ab2Cd3Ef4Gh5Ij6Kl7Mn8Op9Qr0St"
NOW = 1_724_230_000.0
RESPONSES: dict[str, Any] = load_vectors("gateways/stripe/responses.json")


def reply(name: str, **headers: str) -> httpx.Response:
    fixture = RESPONSES[name]
    return httpx.Response(fixture["status"], json=fixture["body"], headers=headers)


def card() -> CardData:
    return CardData(pan=PAN(CANARY_PAN), expiry=Expiry(year=2030, month=12), cvv=CVV(CANARY_CVV))


def authorize_request(*, capture: bool = False, **overrides: Any) -> AuthorizeRequest:
    fields: dict[str, Any] = {
        "money": Money(2000, "USD"),
        "card": card(),
        "capture": capture,
        "idempotency_key": "pay_01HZX8K2:authorize",
        "merchant_account": "",
        "reference": "pay_01HZX8K2",
        "description": "Order 1001",
        "return_url": None,
        "metadata": {},
    }
    fields.update(overrides)
    return AuthorizeRequest(**fields)


def follow_up(amount: int, key: str) -> FollowUpRequest:
    return FollowUpRequest(
        money=Money(amount, "USD"),
        connector_reference="pi_3PqKx2LkdIwHu7ix0Abc1234",
        idempotency_key=key,
        merchant_account="",
        reference="pay_01HZX8K2",
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def stripe(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> StripeConnector:
    connector = get_connector(
        "stripe",
        {
            "api_key": API_KEY,
            "webhook_secret": "whsec_test_9f8e7d6c5b4a",
            "retry_base_delay_s": 0.25,
            "clock": lambda: NOW,
        },
    )
    assert isinstance(connector, StripeConnector)
    # Record backoff delays instead of sleeping through them.
    monkeypatch.setattr(connector._client, "_sleep", sleeps.append)
    return connector


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url="https://api.stripe.com", assert_all_called=False) as router:
        yield router
