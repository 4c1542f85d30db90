"""Twilio's Generic Pay Connector against a live ``cardshield serve``: credentials made with
the CLI, Twilio-shaped JSON posted with httpx (tokenize, charge, a retry, a decline, wrong
credentials), the payment read back with the merchant's secret key; then the server's log
and database are scanned for the canary card number and security code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cardshield.config import Settings
from cardshield.crypto.kms import init_kms
from cardshield.runtime import open_runtime
from cardshield.security.apikeys import create_key
from cardshield.storage import make_engine, upgrade
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.servers import free_port, traced_app
from tests.unit.phone.pay_connector.support import (
    DECLINED,
    PATH,
    assert_no_leak,
    basic,
    charge,
    database_text,
    tokenize,
)

pytestmark = [pytest.mark.integration]


@dataclass(frozen=True)
class Server:
    url: str
    merchant: str
    secret: str
    auth: dict[str, str]
    username: str
    log: Path
    settings: Settings


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cardshield", *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("cardshield")
    settings = Settings(data_dir=data_dir)
    init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    runtime = open_runtime(settings)
    try:
        now = datetime.now(UTC)
        merchant = runtime.vault.create_merchant("phone shop", now=now)
        with runtime.engine.begin() as conn:
            secret = create_key(
                conn, now=now, merchant_id=merchant, kind="secret", scopes=["payments:read"]
            )
    finally:
        runtime.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env |= {
        "CARDSHIELD_DATA_DIR": str(data_dir),
        "CARDSHIELD_LOG_LEVEL": "DEBUG",
        "CARDSHIELD_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    pair = json.loads(
        _cli(env, "pay-connector", "credentials", "create", "--merchant", merchant, "--json")
    )
    log = data_dir / "server.log"
    with traced_app(env, log, free_port()) as url:
        yield Server(
            url,
            merchant,
            secret.key.reveal(),
            basic(pair["username"], pair["password"]),
            pair["username"],
            log,
            settings,
        )


def test_twilio_pay_against_a_live_server(server: Server) -> None:
    responses: list[httpx.Response] = []
    with httpx.Client(base_url=server.url, timeout=30) as http:

        def post(body: object, auth: dict[str, str] = server.auth) -> httpx.Response:
            response = http.post(PATH, json=body, headers=auth)
            responses.append(response)
            return response

        token = post(tokenize(token_type="reusable"))
        assert token.status_code == 200, token.text
        assert token.json()["token_id"].startswith("tok_")
        paid = post(charge(transaction_id="CA-e2e-charge"))
        assert paid.status_code == 200, paid.text
        payment_id = paid.json()["charge_id"]
        assert payment_id.startswith("pay_")
        retried = post(charge(transaction_id="CA-e2e-charge"))
        assert retried.json() == paid.json()
        assert retried.headers["idempotent-replayed"] == "true"
        declined = post(charge(transaction_id="CA-e2e-decline", cardnumber=DECLINED))
        assert declined.status_code == 200
        assert declined.json()["error_code"] == "card_declined"
        wrong = post(charge(transaction_id="CA-e2e-wrong"), basic(server.username, "pcp_no"))
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Basic")
        payment = http.get(
            f"/v1/payments/{payment_id}", headers={"Authorization": f"Bearer {server.secret}"}
        )
        assert payment.status_code == 200, payment.text
        listed = http.get(
            "/v1/payments", headers={"Authorization": f"Bearer {server.secret}"}
        ).json()["data"]
    assert (payment.json()["status"], payment.json()["amount"]) == ("captured", 1000)
    # One charge for the transaction (and one declined), however often Twilio retried.
    assert sorted(p["status"] for p in listed) == ["captured", "failed"]
    engine = make_engine(server.settings.effective_database_url)
    try:
        dump = database_text(engine)
    finally:
        engine.dispose()
    server_log = server.log.read_text()
    assert PATH in server_log  # the log the scan reads holds the requests
    for response in responses:
        assert_no_leak(response.content, repr(dict(response.headers)))
    assert_no_leak(server_log, dump)
    assert CANARY_PAN[-4:] in paid.text
    assert CANARY_CVV not in json.dumps(paid.json()["parameters"])
