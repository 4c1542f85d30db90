"""Square connector fixtures: a sandbox connector with no backoff sleep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cardshield.gateways.base import FollowUpRequest, Money
from cardshield.gateways.square import SourceAuthorizeRequest, SquareConnector, build
from tests.conftest import load_vectors

BASE = "https://connect.squareupsandbox.com"
TOKEN = "EAAAEOuLQObrVwJvCvoio3H13b8Ssqz1ighmTBKZvIENW9qxirHGHkqsGcPBC1uN"
PAYMENT_ID = "R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY"
VERSION = "2025-01-23"

OPTIONS = {
    "access_token": TOKEN,
    "location_id": "L88917AVBK2S5",
    "signature_key": "Ibxx_5AKakO-3qeNVR61Dw",
    "backoff_base_s": 0.0,
    "timeout_s": 2.0,
}


def vectors(name: str) -> Any:
    return load_vectors(f"gateways/square/{name}.json")


def source_request(*, capture: bool = False, **kw: Any) -> SourceAuthorizeRequest:
    fields: dict[str, Any] = {
        "money": Money(1000, "USD"),
        "source_id": "cnon:card-nonce-ok",
        "capture": capture,
        "idempotency_key": "idem-pay_0001-authorize",
        "location_id": "",
        "reference": "pay_0001",
    }
    fields.update(kw)
    return SourceAuthorizeRequest(**fields)


def follow_up(amount: int = 1000, key: str = "idem-pay_0001-capture-1") -> FollowUpRequest:
    return FollowUpRequest(
        money=Money(amount, "USD"),
        connector_reference=PAYMENT_ID,
        idempotency_key=key,
        merchant_account="",
        reference="cap_0001",
    )


@pytest.fixture
def square() -> Iterator[SquareConnector]:
    connector = build(OPTIONS)
    yield connector
    connector.close()
