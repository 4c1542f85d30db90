"""Fixtures for the forward proxy: a vault with a canary card, and a real HTTPS upstream."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cardshield.cards import CVV, PAN, Expiry
from cardshield.crypto.kms import open_kms
from cardshield.gateways.forward import add_destination
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.unit.gateways.forward.tls_server import HOST, Certs, HttpsServer, make_certs

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class Shop:
    vault: Vault
    engine: Engine
    merchant: str

    def card(self, *, single_use: bool = True, cvv: bool = True) -> str:
        record = self.vault.tokenize(
            self.merchant,
            PAN(CANARY_PAN),
            Expiry(year=2031, month=3),
            CVV(CANARY_CVV) if cvv else None,
            now=NOW,
            single_use=single_use,
        )
        return record.token

    def allow(self, *hosts: str) -> None:
        with self.engine.begin() as conn:
            for host in hosts:
                add_destination(conn, merchant_id=self.merchant, host=host, now=NOW)


def _shop(url: str) -> Iterator[Shop]:
    engine = make_engine(url)
    upgrade(engine)
    vault = Vault(engine, open_kms("memory:"), MemoryCVVStore())
    merchant = vault.create_merchant("shop", now=NOW)
    yield Shop(vault, engine, merchant)
    engine.dispose()


@pytest.fixture
def shop(database_url: str) -> Iterator[Shop]:
    """On SQLite and PostgreSQL."""
    yield from _shop(database_url)


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> Iterator[Shop]:
    """SQLite only: for behaviour that does not depend on the database."""
    yield from _shop(f"sqlite:///{tmp_path / 'vault.db'}")


@pytest.fixture(scope="module")
def refusal_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """One SQLite shop shared by the many refusal cases: a refusal writes one audit entry
    and touches nothing else, so the cases cannot disturb each other."""
    yield from _shop(f"sqlite:///{tmp_path_factory.mktemp('refusals') / 'vault.db'}")


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"), HOST)


@pytest.fixture
def upstream(certs: Certs) -> Iterator[HttpsServer]:
    with HttpsServer(certs) as server:
        yield server


@pytest.fixture
def redacting_logs() -> Iterator[list[logging.LogRecord]]:
    """Logging as every cardshield process sets it up, at DEBUG, with records collected."""
    from cardshield.redaction.logging import configure_logging

    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    configure_logging(level="DEBUG", fmt="json")
    root.addHandler(Collect())
    # The worst case: someone turns on the HTTP library's debug traces (headers included).
    library = logging.getLogger("httpcore")
    library_level = library.level
    library.setLevel(logging.DEBUG)
    yield records
    library.setLevel(library_level)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
