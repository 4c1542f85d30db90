"""A real cardshield app (SQLite, sandbox processor) and the shop wired to it in-process.

The shop's server reaches cardshield through cardshield's TestClient (an httpx client), so
every call is a real HTTP request through the real app. Webhooks are delivered by the real
delivery worker (``deliver_due``) with the shop's TestClient as its HTTP client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from examples.shop import ShopConfig, create_shop
from fastapi.testclient import TestClient

from cardshield.config import Settings
from cardshield.crypto.kms import open_kms
from cardshield.gateways import get_connector
from cardshield.gateways.sandbox import SandboxConnector
from cardshield.payments.service import PaymentService
from cardshield.payments.webhooks import create_endpoint, deliver_due
from cardshield.runtime import Runtime
from cardshield.security.apikeys import SCOPES, create_key
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from cardshield.web.app import create_app
from cardshield.web.routers import sandbox_challenge
from tests.conftest import CANARY_CVV

CARDSHIELD = "http://cardshield.test"
SHOP = "http://localhost:8000"
SANDBOX_PUBLIC = "http://127.0.0.1:8750"


@dataclass
class World:
    cardshield: TestClient
    shop: TestClient
    runtime: Runtime
    sandbox: SandboxConnector
    secret: str
    publishable: str
    other_publishable: str
    webhook_secret: str
    database: Path

    def tokenize(self, number: str, *, key: str | None = None) -> str:
        """What the hosted fields do: post the card with the publishable key."""
        card: dict[str, Any] = {"number": number, "exp_month": 12, "exp_year": 2030}
        card["cvc"] = "7373" if number.startswith(("34", "37")) else CANARY_CVV
        resp = self.cardshield.post(
            "/v1/tokens",
            json={"card": card},
            headers={"Authorization": f"Bearer {key or self.publishable}"},
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["id"])

    def new_order(self, sku: str = "notebook", quantity: int = 2) -> str:
        resp = self.shop.post("/cart", data={"sku": sku, "quantity": str(quantity)})
        assert resp.status_code == 200  # followed the redirect to /cart
        resp = self.shop.post("/checkout", follow_redirects=False)
        assert resp.status_code == 303
        location = resp.headers["location"]
        assert location.startswith("/orders/ord_") and location.endswith("/pay")
        return location.split("/")[2]

    def pay(self, order_id: str, token: str) -> Any:
        return self.shop.post(f"/orders/{order_id}/pay", json={"token": token})

    def deliver_webhooks(self) -> int:
        """Run worker rounds until nothing is due (events of one payment go one by one)."""
        total = 0
        while handled := deliver_due(
            self.runtime.engine,
            now=datetime.now(UTC),
            owner="test",
            http=self.shop,
            allow_http_loopback=True,
        ):
            total += handled
        return total

    def status(self, order_id: str) -> str:
        order = self.shop.app.state.store.get(order_id)  # type: ignore[attr-defined]
        assert order is not None
        return str(order.status)


@pytest.fixture
def world(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    engine = make_engine(url)
    upgrade(engine)
    kms = open_kms("memory:")
    store = MemoryCVVStore()
    vault = Vault(engine, kms, store)
    sandbox = get_connector(
        "sandbox", {"database_url": url, "secret": "whsec_sbx", "public_base": SANDBOX_PUBLIC}
    )
    assert isinstance(sandbox, SandboxConnector)
    payments = PaymentService(engine, vault, lambda merchant_id: (sandbox, merchant_id))
    runtime = Runtime(Settings(data_dir=tmp_path), engine, kms, store, vault, payments)
    now = datetime.now(UTC)
    merchant = vault.create_merchant("shop", now=now)
    other = vault.create_merchant("other", now=now)
    with engine.begin() as conn:
        sk = create_key(conn, now=now, merchant_id=merchant, kind="secret", scopes=sorted(SCOPES))
        pk = create_key(
            conn,
            now=now,
            merchant_id=merchant,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=[SHOP],
        )
        other_pk = create_key(
            conn,
            now=now,
            merchant_id=other,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=[SHOP],
        )
        endpoint = create_endpoint(
            conn,
            merchant_id=merchant,
            url="http://localhost/webhooks/cardshield",
            enabled_events=["*"],
            now=now,
            allow_http_loopback=True,
        )
    app = create_app(runtime)
    app.include_router(sandbox_challenge.router)  # as `cardshield demo` mounts it
    with TestClient(app, base_url=CARDSHIELD) as cardshield:
        config = ShopConfig(
            api_url=CARDSHIELD,
            browser_url="http://127.0.0.1:8750",
            secret_key=sk.key.reveal(),
            publishable_key=pk.key.reveal(),
            webhook_secret=endpoint.secret.reveal(),
            database=tmp_path / "shop" / "shop.db",
            http_client=cardshield,
        )
        with TestClient(create_shop(config), base_url=SHOP) as shop:
            yield World(
                cardshield,
                shop,
                runtime,
                sandbox,
                sk.key.reveal(),
                pk.key.reveal(),
                other_pk.key.reveal(),
                endpoint.secret.reveal(),
                config.database,
            )
