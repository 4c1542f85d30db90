"""A sandbox processor on a migrated database (SQLite and PostgreSQL), and card helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cardshield.cards import CVV, PAN, Expiry
from cardshield.gateways.base import AuthorizeRequest, FollowUpRequest, Money
from cardshield.gateways.sandbox import SandboxConnector, build
from cardshield.storage import make_engine, upgrade
from cardshield.vault import CardData

SECRET = "whsec_test_sandbox"
ACCOUNT = "sbx_acct_shop"


@pytest.fixture
def sandbox(database_url: str) -> Iterator[SandboxConnector]:
    setup = make_engine(database_url)
    upgrade(setup)
    setup.dispose()
    connector = build(
        {
            "database_url": database_url,
            "secret": SECRET,
            "public_base": "https://cs.example",
            "slow_ms": 300,
        }
    )
    yield connector
    connector.close()


def card(number: str = "4242424242424242", cvv: str | None = "123") -> CardData:
    return CardData(PAN(number), Expiry(2030, 12), None if cvv is None else CVV(cvv))


def auth(
    key: str,
    amount: int = 1000,
    *,
    number: str = "4242424242424242",
    capture: bool = False,
    currency: str = "EUR",
    account: str = ACCOUNT,
) -> AuthorizeRequest:
    return AuthorizeRequest(
        money=Money(amount, currency),
        card=card(number),
        capture=capture,
        idempotency_key=key,
        merchant_account=account,
        reference="pay_" + key,
    )


def follow(key: str, parent: str, amount: int, *, account: str = ACCOUNT) -> FollowUpRequest:
    return FollowUpRequest(
        money=Money(amount, "EUR"),
        connector_reference=parent,
        idempotency_key=key,
        merchant_account=account,
        reference="pay_x",
    )
