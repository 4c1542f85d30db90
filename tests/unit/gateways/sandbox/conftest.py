"""A sandbox processor on a migrated database (SQLite and PostgreSQL), and card helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from cardshield.cards import CVV, PAN, Expiry
from cardshield.gateways.base import AuthorizeRequest, FollowUpRequest, Money
from cardshield.gateways.sandbox import SandboxConnector, build
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import sandbox_ledger
from cardshield.vault import CardData
from tests.databases import postgres_database, sqlite_database

SECRET = "whsec_test_sandbox"
ACCOUNT = "sbx_acct_shop"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per module and kind (SQLite, PostgreSQL)."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([sqlite_database(tmp_path_factory.mktemp("sandbox"))])
    else:
        urls = postgres_database()
    url = next(urls)
    setup = make_engine(url)
    upgrade(setup)
    setup.dispose()
    yield url
    for _ in urls:  # drops the PostgreSQL database
        pass


@pytest.fixture
def sandbox(ledger_url: str) -> Iterator[SandboxConnector]:
    """A sandbox on an empty ledger."""
    connector = build(
        {
            "database_url": ledger_url,
            "secret": SECRET,
            "public_base": "https://cs.example",
            "slow_ms": 300,
        }
    )
    with connector.engine.begin() as conn:
        conn.execute(delete(sandbox_ledger))
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
