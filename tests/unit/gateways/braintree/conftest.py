"""Fixtures for the Braintree connector tests: the SDK wired to respx, requests, vectors."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from cardshield.cards import CVV, PAN, Expiry
from cardshield.gateways import get_connector
from cardshield.gateways.base import AuthorizeRequest, FollowUpRequest, Money
from cardshield.gateways.braintree import BraintreeConnector
from cardshield.vault.service import CardData
from tests.conftest import CANARY_CVV, CANARY_PAN, VECTORS

MERCHANT = "cardshield_merchant"
PUBLIC_KEY = "pk9w2x4yq7bv3m6n"
PRIVATE_KEY = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
BASE = "https://api.sandbox.braintreegateway.com"
PREFIX = f"/merchants/{MERCHANT}"
FIXTURES = VECTORS / "gateways" / "braintree"


def xml(name: str) -> str:
    return (FIXTURES / name).read_text()


def reply(name: str, status: int | None = None) -> httpx.Response:
    text = xml(name)
    if status is None:
        status = 422 if "<api-error-response>" in text else 200
    return httpx.Response(status, text=text, headers={"Content-Type": "application/xml"})


def collection(*names: str) -> httpx.Response:
    """A search page (``credit-card-transactions``) holding the given transaction fixtures."""
    bodies = [xml(n).split("\n", 1)[1] for n in names]
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<credit-card-transactions type="collection">\n'
        '<current-page-number type="integer">1</current-page-number>\n'
        f'<page-size type="integer">50</page-size>\n<total-items type="integer">{len(names)}'
        "</total-items>\n" + "".join(bodies) + "</credit-card-transactions>\n"
    )
    return httpx.Response(200, text=text)


def ids(*transaction_ids: str) -> httpx.Response:
    items = "".join(f"<item>{i}</item>" for i in transaction_ids)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<search-results>'
        f'<page-size type="integer">50</page-size><ids type="array">{items}</ids></search-results>'
    )
    return httpx.Response(200, text=text)


def body(request: httpx.Request) -> ET.Element:
    return ET.fromstring(request.content)


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{PUBLIC_KEY}:{PRIVATE_KEY}".encode()).decode()


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
    }
    fields.update(overrides)
    return AuthorizeRequest(**fields)


def follow_up(amount: int, key: str, ref: str = "8x2kq4vd") -> FollowUpRequest:
    return FollowUpRequest(
        money=Money(amount, "USD"),
        connector_reference=ref,
        idempotency_key=key,
        merchant_account="",
        reference="pay_01HZX8K2",
    )


def make(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch, **options: Any
) -> BraintreeConnector:
    connector = get_connector(
        "braintree",
        {
            "merchant_id": MERCHANT,
            "public_key": PUBLIC_KEY,
            "private_key": PRIVATE_KEY,
            "merchant_accounts": {"USD": "cardshieldUSD"},
            **options,
        },
    )
    assert isinstance(connector, BraintreeConnector)
    client = connector._gw.config.http_strategy()._client
    monkeypatch.setattr(client, "_sleep", sleeps.append)
    return connector


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def bt(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> BraintreeConnector:
    return make(sleeps, monkeypatch)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router
