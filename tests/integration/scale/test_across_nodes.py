"""Guarantees that must hold across nodes: three `cardshield serve` processes share one
PostgreSQL database and one Redis database.

* The same idempotency key sent to every node at the same moment charges once.
* A CVV stored through one node is consumed through another exactly once.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from sqlalchemy import create_engine, func, select

from cardshield.storage.engine import normalize_url
from cardshield.storage.schema import audit_log, cards, data_keys, sandbox_ledger
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.integration.scale.harness import Cluster, make_cluster
from tests.servers import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

ROUNDS = 6
# Ledger operations that take money: a held authorization, or a sale (automatic capture).
CHARGES = ("authorize", "sale")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("scale")
    for c in make_cluster(tmp, 3, idempotency_lock_seconds="5"):
        c.start()
        yield c


def _tokenize(c: Cluster, node: int, *, cvc: str | None = None, number: str = CANARY_PAN) -> str:
    card: dict[str, object] = {"number": number, "exp_month": 12, "exp_year": 2030}
    if cvc is not None:
        card["cvc"] = cvc
    resp = httpx.post(
        f"{c.nodes[node].url}/v1/tokens",
        headers={"Authorization": f"Bearer {c.publishable_key}"},
        json={"card": card},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _pay(c: Cluster, node: int, token: str, amount: int, key: str) -> httpx.Response:
    return httpx.post(
        f"{c.nodes[node].url}/v1/payments",
        headers={"Authorization": f"Bearer {c.secret_key}", "Idempotency-Key": key},
        json={"amount": amount, "currency": "eur", "token": token},
        timeout=30,
    )


def test_same_idempotency_key_on_every_node_at_once_charges_once(cluster: Cluster) -> None:
    statuses: list[list[int]] = []
    for r in range(ROUNDS):
        token = _tokenize(cluster, r % 3)
        amount = 5000 + r
        barrier = threading.Barrier(3)
        key = f"same-key-{r}"

        def send(
            node: int,
            token: str = token,
            amount: int = amount,
            key: str = key,
            barrier: threading.Barrier = barrier,
        ) -> httpx.Response:
            barrier.wait()  # all three requests leave together
            return _pay(cluster, node, token, amount, key)

        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(send, range(3)))
        statuses.append(sorted(a.status_code for a in answers))
        ok = [a for a in answers if a.status_code == 200]
        # The others either replay the stored answer or are told the key is in use.
        assert ok, [a.text for a in answers]
        assert len({a.json()["id"] for a in ok}) == 1, "two payments for one idempotency key"
        assert all(a.json()["status"] == "captured" for a in ok)
        for a in answers:
            if a.status_code != 200:
                assert a.status_code == 409, a.text
        # After the race, every node answers the same payment for that key.
        for node in range(3):
            again = _pay(cluster, node, token, amount, key)
            assert again.status_code == 200, again.text
            assert again.json()["id"] == ok[0].json()["id"]
    print("answers per round:", statuses)
    engine = create_engine(normalize_url(cluster.database_url))
    try:
        with engine.connect() as conn:
            authorizations = dict(
                conn.execute(
                    select(sandbox_ledger.c.amount, func.count())
                    .where(sandbox_ledger.c.operation.in_(CHARGES))
                    .where(sandbox_ledger.c.amount.between(5000, 5000 + ROUNDS - 1))
                    .group_by(sandbox_ledger.c.amount)
                ).all()
            )
    finally:
        engine.dispose()
    assert authorizations == {5000 + r: 1 for r in range(ROUNDS)}


def test_cvv_stored_through_one_node_is_consumed_through_another_once(cluster: Cluster) -> None:
    token = _tokenize(cluster, 0, cvc=CANARY_CVV)
    store = redis.Redis.from_url(cluster.redis_url)
    key = f"cardshield:cvv:{cluster.merchant}:{token}"
    try:
        assert store.exists(key) == 1, "the CVV did not reach the shared volatile store"
        paid = _pay(cluster, 1, token, 4321, "cvv-once")
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "captured"
        assert store.exists(key) == 0, "the CVV outlived its authorization"
        # A second charge through the first node with a new key: the token is spent.
        again = _pay(cluster, 0, token, 4321, "cvv-twice")
        assert again.status_code == 400, again.text
        assert again.json()["error"]["code"] == "token_already_used"
        third = _pay(cluster, 2, token, 4321, "cvv-thrice")
        assert third.json()["error"]["code"] == "token_already_used"
    finally:
        store.close()
    engine = create_engine(normalize_url(cluster.database_url))
    try:
        with engine.connect() as conn:
            uses = conn.execute(
                select(func.count()).where(
                    audit_log.c.action == "card.use", audit_log.c.target == token
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert uses == 1
    for log in cluster.logs:
        if log.exists():
            assert_no_card_data(log.read_bytes())


def test_every_node_reports_redis_in_readiness(cluster: Cluster) -> None:
    for node in cluster.nodes:
        body = httpx.get(f"{node.url}/readyz", timeout=5).json()
        assert body["checks"]["volatile_store"] == "ok"
        assert body["status"] == "ready"


def test_merchant_deleted_elsewhere_is_gone_on_every_node(cluster: Cluster) -> None:
    env = cluster.env
    merchant = cli(env, "merchants", "add", "Short-lived shop").strip()
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
    shop = Cluster(env, cluster.database_url, cluster.redis_url, cluster.nodes, sk, pk, merchant)
    tokens = [_tokenize(shop, node) for node in range(3)]  # every node caches its data keys
    # Crypto-shredding from a separate process (an operator's shell), not through a node.
    cli(env, "merchants", "delete", merchant, "--yes")
    for node in range(3):
        refused = httpx.post(
            f"{cluster.nodes[node].url}/v1/tokens",
            headers={"Authorization": f"Bearer {pk}"},
            json={"card": {"number": CANARY_PAN, "exp_month": 12, "exp_year": 2030}},
            timeout=10,
        )
        assert refused.status_code == 401, refused.text
        assert _pay(shop, node, tokens[node], 1234, f"after-delete-{node}").status_code == 401
    engine = create_engine(normalize_url(cluster.database_url))
    try:
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).where(cards.c.merchant_id == merchant)
            ).scalar_one()
            live_keys = conn.execute(
                select(func.count()).where(
                    data_keys.c.merchant_id == merchant, data_keys.c.wrapped.is_not(None)
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert (left, live_keys) == (0, 0)


def test_sigterm_lets_the_request_in_flight_finish(cluster: Cluster) -> None:
    node = cluster.nodes[2]
    token = _tokenize(cluster, 2)
    answer: list[httpx.Response] = []
    # An amount ending in 993 makes the sandbox processor answer after 1.5 s.
    slow = threading.Thread(target=lambda: answer.append(_pay(cluster, 2, token, 7993, "drain")))
    slow.start()
    time.sleep(0.5)
    assert node.proc is not None
    node.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):  # no new connections while draining
        httpx.get(f"{node.url}/healthz", timeout=2)
    slow.join(30)
    assert node.proc.wait(30) in (0, -signal.SIGTERM)
    assert answer and answer[0].status_code == 200, answer
    assert answer[0].json()["status"] == "captured"
    node.start()  # leave the cluster whole
    node.wait_ready()
