from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardshield.config import Settings
from cardshield.crypto.kms import open_kms
from cardshield.gateways import get_connector
from cardshield.payments.service import PaymentService
from cardshield.runtime import Runtime
from cardshield.security.apikeys import SCOPES, create_key
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from cardshield.web.app import create_app

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SANDBOX_SECRET = "whsec_sandbox_test"


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    merchant: str
    secret: str
    publishable: str
    other_secret: str
    other_merchant: str

    def sk(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.secret}"}

    def pk(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publishable}"}


@pytest.fixture
def api(database_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> Iterator[Api]:
    caplog.set_level(logging.DEBUG)
    engine = make_engine(database_url)
    upgrade(engine)
    kms = open_kms("memory:")
    store = MemoryCVVStore()
    vault = Vault(engine, kms, store)
    connector = get_connector("sandbox", {"database_url": database_url, "secret": SANDBOX_SECRET})
    payments = PaymentService(engine, vault, lambda merchant_id: (connector, merchant_id))
    # The data dir holds what the background jobs keep outside the database (audit head).
    runtime = Runtime(Settings(data_dir=tmp_path), engine, kms, store, vault, payments)
    merchant = vault.create_merchant("shop", now=NOW)
    other = vault.create_merchant("other", now=NOW)
    with engine.begin() as conn:
        sk = create_key(
            conn,
            now=NOW,
            merchant_id=merchant,
            kind="secret",
            scopes=sorted(SCOPES),
        )
        pk = create_key(
            conn,
            now=NOW,
            merchant_id=merchant,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=["https://shop.example"],
        )
        osk = create_key(conn, now=NOW, merchant_id=other, kind="secret", scopes=["tokens:read"])
    app = create_app(runtime, clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(
            client, runtime, merchant, sk.key.reveal(), pk.key.reveal(), osk.key.reveal(), other
        )
    engine.dispose()
