"""Chaos: 100 payments through `cardshield serve` while the server is SIGKILLed at random.

A client that retries on connection errors (with its idempotency keys) pays 100 orders;
meanwhile the test kills the server process with SIGKILL at random moments and starts it
again. Afterwards: the sandbox ledger shows every payment charged at most once, every
payment the client saw succeed is captured, and `cardshield payments reconcile` reports
zero differences between cardshield's records and the sandbox ledger.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from cardshield.client import Cardshield, CardshieldClientError
from cardshield.storage.engine import normalize_url
from cardshield.storage.schema import sandbox_ledger
from tests.databases import postgres_database
from tests.servers import Node, cli, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

PAYMENTS = 100


class Server(Node):
    """A node the chaos test kills and restarts, counting the kills."""

    kills = 0

    def start(self) -> None:
        super().start()
        self.wait_ready()

    def kill(self) -> None:
        super().kill()
        self.kills += 1


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    for url in postgres_database():
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
        env |= {
            "CARDSHIELD_DATA_DIR": str(tmp_path),
            "CARDSHIELD_DATABASE_URL": url,
            "CARDSHIELD_IDEMPOTENCY_LOCK_SECONDS": "2",
            "CARDSHIELD_PENDING_RESOLVE_SECONDS": "3",
            "CARDSHIELD_LOG_LEVEL": "WARNING",
        }
        yield env, url


def test_kill_9_during_payments_never_charges_twice(
    deployment: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, url = deployment
    cli(env, "db", "upgrade")
    cli(env, "keys", "init")
    merchant = cli(env, "merchants", "add", "Chaos shop").strip()
    sk = json.loads(cli(env, "apikeys", "create", "--merchant", merchant, "--json"))["key"]
    pk = json.loads(
        cli(
            env,
            "apikeys",
            "create",
            "--merchant",
            merchant,
            "--kind",
            "publishable",
            "--origin",
            "https://shop.example",
            "--json",
        )
    )["key"]
    server = Server(env, free_port(), tmp_path / "serve.log")
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    done = threading.Event()
    rng = random.Random(7)

    strike = threading.Event()

    def killer() -> None:
        # Every few orders the client asks for a kill; it lands a random few milliseconds
        # later, so it hits payments at different moments of their processing, however
        # fast or slow the machine is.
        while not done.is_set():
            if not strike.wait(0.1):
                continue
            strike.clear()
            time.sleep(rng.uniform(0.0, 0.25))
            server.kill()
            server.start()

    chaos = threading.Thread(target=killer)
    chaos.start()
    succeeded: list[str] = []
    failed: list[str] = []
    client = Cardshield(sk, base_url=base, max_retries=60, timeout=10)
    try:
        for i in range(PAYMENTS):
            if i % 12 == 5:
                strike.set()
            token = None
            while token is None:  # the browser side: retry tokenization on a dead server
                try:
                    resp = httpx.post(
                        f"{base}/v1/tokens",
                        timeout=10,
                        headers={"Authorization": f"Bearer {pk}"},
                        json={
                            "card": {
                                "number": "4242424242424242",
                                "exp_month": 12,
                                "exp_year": 2030,
                            }
                        },
                    )
                    token = resp.json()["id"] if resp.status_code == 200 else None
                except httpx.HTTPError:
                    time.sleep(0.1)
            try:
                payment = client.payments.create(
                    amount=1000 + i, currency="eur", token=token, idempotency_key=f"order-{i}"
                )
            except CardshieldClientError as exc:
                failed.append(f"{i}:{exc.code}")
                continue
            (succeeded if payment.status == "captured" else failed).append(payment.id)
    finally:
        done.set()
        chaos.join()
    assert server.kills >= 5, "the server was not killed often enough to test anything"
    print(f"{server.kills} kills, {len(succeeded)} paid, {len(failed)} failed")
    try:
        for payment_id in succeeded:
            assert client.payments.retrieve(payment_id).status == "captured"
    finally:
        server.stop()
    cli(env, "payments", "resume", "--older-than", "0")
    report = json.loads(cli(env, "payments", "reconcile", "--json"))
    assert report["ok"], report["differences"]
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        # A charge is a "sale" (automatic capture) or an "authorize"; each order has its
        # own amount, so two charges with one amount mean an order was charged twice.
        per_order = conn.execute(
            select(sandbox_ledger.c.amount, func.count())
            .where(
                sandbox_ledger.c.operation.in_(["sale", "authorize"]),
                sandbox_ledger.c.status == "succeeded",
            )
            .group_by(sandbox_ledger.c.amount)
        ).all()
    engine.dispose()
    charged = {amount: n for amount, n in per_order}
    assert all(n == 1 for n in charged.values()), "an order was charged more than once"
    assert len(charged) >= len(succeeded)  # every success is a real charge in the ledger
    assert set(range(1000, 1000 + PAYMENTS)) >= set(charged)
    assert len(succeeded) > PAYMENTS // 2, (failed[:10], server.kills)
