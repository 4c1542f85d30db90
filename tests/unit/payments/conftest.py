"""A payments set-up on a real database (SQLite and PostgreSQL): vault, sandbox, service.

The sandbox processor gets its own engine on the same database, as an outside processor
would have its own connection; every test sees both records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cardshield.cards import CVV, PAN, Expiry
from cardshield.crypto.kms import open_kms
from cardshield.gateways.sandbox import SandboxConnector, account_for, build
from cardshield.gateways.sandbox.transformers import LedgerEntry
from cardshield.payments.service import PaymentService
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import (
    audit_log,
    events,
    payment_operations,
    payments,
    webhook_deliveries,
    webhook_endpoints,
)
from cardshield.vault import MemoryCVVStore, Vault
from tests.databases import postgres_database, sqlite_database

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECRET = "whsec_payments_test"
EXPIRY = Expiry(2030, 12)


@dataclass
class PayEnv:
    url: str
    engine: Engine
    vault: Vault
    sandbox: SandboxConnector
    service: PaymentService
    merchant: str

    def token(
        self,
        number: str = "4242424242424242",
        *,
        single_use: bool = True,
        cvv: str | None = "123",
        expiry: Expiry = EXPIRY,
        now: datetime = NOW,
    ) -> str:
        record = self.vault.tokenize(
            self.merchant,
            PAN(number),
            expiry,
            None if cvv is None else CVV(cvv),
            now=now,
            single_use=single_use,
        )
        return record.token

    def row(self, payment_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = conn.execute(select(payments).where(payments.c.id == payment_id)).mappings()
            return dict(found.one())

    def ops(self, payment_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(payment_operations)
                .where(payment_operations.c.payment_id == payment_id)
                .order_by(payment_operations.c.created_at, payment_operations.c.kind)
            ).mappings()
            return [dict(r) for r in rows]

    def ledger(self, payment_id: str | None = None) -> list[LedgerEntry]:
        rows = self.sandbox.ledger()
        if payment_id is None:
            return rows
        keys = {op["gateway_key"] for op in self.ops(payment_id)}
        return [r for r in rows if r.idempotency_key in keys]

    def events(self, payment_id: str | None = None) -> list[str]:
        """Event types in the order they were written (delivery ids are sequential)."""
        query = select(events.c.type).join(
            webhook_deliveries, webhook_deliveries.c.event_id == events.c.id
        )
        if payment_id is not None:
            query = query.where(events.c.object_id == payment_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(webhook_deliveries.c.id)).scalars())

    def event_data(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(events.c.data)).scalars())

    def audit(self, target: str | None = None) -> list[tuple[str, str, str]]:
        query = select(audit_log.c.action, audit_log.c.outcome, audit_log.c.details)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query.order_by(audit_log.c.seq))]

    def count(self, table: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@dataclass
class Shared:
    url: str
    engine: Engine
    vault: Vault
    sandbox: SandboxConnector


def open_shared(database_url: str, *, kms_url: str = "memory:", **sandbox_options: Any) -> Shared:
    engine = make_engine(database_url, pool_size=20)
    upgrade(engine)
    vault = Vault(engine, open_kms(kms_url), MemoryCVVStore())
    options = {"database_url": database_url, "secret": SECRET, "public_base": "https://cs.test"}
    return Shared(database_url, engine, vault, build(options | sandbox_options))


def close_shared(shared: Shared) -> None:
    shared.sandbox.close()
    shared.engine.dispose()


def new_env(shared: Shared) -> PayEnv:
    """A new merchant (with a webhook endpoint for every event) on a shared database."""
    merchant = shared.vault.create_merchant("shop", now=NOW)
    with shared.engine.begin() as conn:  # deliveries get sequential ids: events keep order
        conn.execute(
            webhook_endpoints.insert().values(
                id=f"we_{merchant}",
                merchant_id=merchant,
                url="https://shop.example/hooks",
                secret="whsec_shop",
                enabled_events=["*"],
                created_at=NOW,
            )
        )
    sandbox = shared.sandbox
    service = PaymentService(shared.engine, shared.vault, lambda m: (sandbox, account_for(m)))
    return PayEnv(shared.url, shared.engine, shared.vault, sandbox, service, merchant)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """One database per test module and kind; each test gets its own merchant on it."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([sqlite_database(tmp_path_factory.mktemp("payments"))])
    else:
        urls = postgres_database()
    url = next(urls)
    s = open_shared(url)
    yield s
    close_shared(s)
    for _ in urls:  # drops the PostgreSQL database
        pass


@pytest.fixture
def env(shared: Shared) -> PayEnv:
    return new_env(shared)


# The KEK of the ``fresh`` databases, shared within the process: a command run in the same
# process (CliRunner) opens it by this URL and can read their data keys.
FRESH_KMS_URL = "memory:payments-fresh"


@pytest.fixture
def fresh(database_url: str) -> Iterator[PayEnv]:
    """A database of its own, for tests that look at every row (reconciliation)."""
    s = open_shared(database_url, kms_url=FRESH_KMS_URL)
    yield new_env(s)
    close_shared(s)
