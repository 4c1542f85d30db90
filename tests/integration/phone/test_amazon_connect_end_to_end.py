"""Amazon Connect end to end: a live ``cardshield serve`` on the embedded default (SQLite and
the local key file, sandbox connector); the Connect key and the Lambda's signing secret made
through the CLI; ciphertexts made by the real AWS Encryption SDK as Connect makes them, with
the certificate the CLI printed; and the SHIPPED ``examples/amazon-connect/lambda_function.py``
handler forwarding them. The flow gets a token, then a captured payment; a replayed request
is refused; the server's log and database never hold the canary card number or code."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.servers import Node, cli, free_port
from tests.unit.phone.connect.support import CONTACT_ID, INSTANCE_ARN, KID, connect_encrypt

pytestmark = [pytest.mark.integration]

LAMBDA = Path(__file__).parents[3] / "examples" / "amazon-connect" / "lambda_function.py"


@dataclass(frozen=True)
class Stack:
    node: Node
    env: dict[str, str]
    merchant: str
    certificate: str
    secret: str
    database: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("connect-e2e")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")},
        "CARDSHIELD_DATA_DIR": str(data_dir),
        "CARDSHIELD_LOG_LEVEL": "DEBUG",
        "CARDSHIELD_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    cli(env, "keys", "init")
    cli(env, "db", "upgrade")
    merchant = cli(env, "merchants", "add", "connect shop").strip()
    created = json.loads(cli(env, "connect", "keys", "create", "--merchant", merchant, "--json"))
    assert created["status"] == "pending"
    # Uploading the public key to Connect gives it an id; the merchant records it.
    cli(
        env,
        "connect",
        "keys",
        "activate",
        created["id"],
        "--merchant",
        merchant,
        "--connect-key-id",
        KID,
    )
    secret = json.loads(
        cli(
            env,
            "connect",
            "secrets",
            "create",
            "--merchant",
            merchant,
            "--instance-arn",
            INSTANCE_ARN,
            "--json",
        )
    )
    node = Node(env, free_port(), data_dir / "server.log")
    node.start()
    try:
        node.wait_ready()
        yield Stack(
            node, env, merchant, created["certificate"], secret["secret"], data_dir / "vault.db"
        )
    finally:
        node.stop()


@pytest.fixture
def handler(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shipped Lambda module, with the environment the merchant gives it."""
    monkeypatch.setenv("CARDSHIELD_URL", stack.node.url)
    monkeypatch.setenv("CARDSHIELD_MERCHANT", stack.merchant)
    monkeypatch.setenv("CARDSHIELD_SIGNING_SECRET", stack.secret)
    spec = importlib.util.spec_from_file_location("connect_lambda_function", LAMBDA)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def _event(stack: Stack, parameters: dict[str, str]) -> dict[str, Any]:
    """A Connect Lambda event as the Invoke AWS Lambda function block sends it."""
    return {
        "Name": "ContactFlowEvent",
        "Details": {
            "ContactData": {
                "Attributes": {"CardNumber": parameters.pop("CardNumber")},
                "Channel": "VOICE",
                "ContactId": CONTACT_ID,
                "InitialContactId": CONTACT_ID,
                "InitiationMethod": "INBOUND",
                "InstanceARN": INSTANCE_ARN,
                "PreviousContactId": CONTACT_ID,
                "Queue": None,
                "SystemEndpoint": {"Address": "+441234567890", "Type": "TELEPHONE_NUMBER"},
                "CustomerEndpoint": {"Address": "+441234567891", "Type": "TELEPHONE_NUMBER"},
            },
            "Parameters": parameters,
        },
    }


def _encrypted(stack: Stack, **extra: str) -> dict[str, str]:
    return {
        "CardNumber": connect_encrypt(CANARY_PAN, stack.certificate, KID),
        "Expiry": connect_encrypt("1230", stack.certificate, KID),
        "SecurityCode": connect_encrypt(CANARY_CVV, stack.certificate, KID),
        **extra,
    }


def test_connect_flow_to_token_and_payment_through_the_shipped_lambda(
    stack: Stack, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    tokenized = handler(_event(stack, _encrypted(stack)), None)
    assert all(isinstance(v, str) for v in tokenized.values())  # Connect's flat string map
    assert tokenized["status"] == "tokenized", tokenized
    assert tokenized["token"].startswith("tok_")
    assert (tokenized["brand"], tokenized["last4"]) == ("visa", "4242")

    charged = handler(_event(stack, _encrypted(stack, Amount="1999", Currency="EUR")), None)
    assert charged["status"] == "captured", charged
    assert charged["payment_id"].startswith("pay_") and charged["last4"] == "4242"

    # The payment, as the merchant's backend sees it with a secret key.
    key = cli(stack.env, "apikeys", "create", "--merchant", stack.merchant, "--json")
    request = urllib.request.Request(
        f"{stack.node.url}/v1/payments/{charged['payment_id']}",
        headers={"Authorization": f"Bearer {json.loads(key)['key']}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        payment = json.loads(response.read())
    assert payment["status"] == "captured" and payment["amount"] == 1999

    refused = handler(_event(stack, _encrypted(stack, Amount="x")), None)
    assert refused["status"] == "error" and refused["error_code"] == "invalid_amount"
    tampered = _encrypted(stack)
    tampered["Expiry"] = tampered["Expiry"][:-12] + "AAAAAAAAAAA="
    bad = handler(_event(stack, tampered), None)
    assert bad == {**bad, "status": "error", "error_code": "connect_ciphertext_invalid"}

    outputs = [json.dumps(r) for r in (tokenized, charged, refused, bad)]
    outputs += [stack.node.log.read_text(errors="replace"), *capsys.readouterr()]
    for text in outputs:
        assert_no_card_data(text)
        assert_no_cvv(text)
    with sqlite3.connect(stack.database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # names from sqlite_master
                assert_no_card_data(repr(row))
        uses = db.execute(
            "SELECT outcome FROM audit_log WHERE action = 'connect_key.use' ORDER BY seq"
        ).fetchall()
    assert [u[0] for u in uses] == ["success", "success", "failure"]
