"""``/openapi.json`` against the running app: schemathesis generates requests for every
operation (from the schema's examples, then bounded random data) with valid keys, and every
answer must be documented, match its schema and never be a 5xx.

A second test walks the happy path with real objects (a token, a payment, a refund, a saved
card, an event, a webhook endpoint), so the 200 answers, which random ids rarely reach, are
checked against their schemas too. The schemas forbid unknown fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from cardshield.config import Settings
from cardshield.crypto.kms import open_kms
from cardshield.gateways import get_connector
from cardshield.payments.service import PaymentService
from cardshield.runtime import Runtime
from cardshield.security.apikeys import SCOPES, create_key
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from cardshield.web.app import create_app
from tests.conftest import CANARY_CVV, CANARY_PAN

pytestmark = pytest.mark.integration

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@dataclass
class Stack:
    app: FastAPI
    secret: str
    publishable: str
    other_publishable: str

    def auth(self, method: str, path: str, publishable: str | None = None) -> dict[str, str]:
        """The publishable key where the hosted fields call; the secret key elsewhere."""
        tokens = (method, path) == ("POST", "/v1/tokens")
        key = (publishable or self.publishable) if tokens else self.secret
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'vault.db'}"
    engine = make_engine(url)
    upgrade(engine)
    kms = open_kms("memory:")
    store = MemoryCVVStore()
    vault = Vault(engine, kms, store)
    connector = get_connector("sandbox", {"database_url": url, "secret": "whsec_sbx"})
    payments = PaymentService(engine, vault, lambda merchant_id: (connector, merchant_id))
    runtime = Runtime(Settings(data_dir=folder), engine, kms, store, vault, payments)
    now = datetime.now(UTC)
    merchant = vault.create_merchant("schemathesis", now=now)
    with engine.begin() as conn:
        sk = create_key(conn, now=now, merchant_id=merchant, kind="secret", scopes=sorted(SCOPES))
        # One publishable key per test: tokenization is rate limited per key and address.
        pk, pk2 = (
            create_key(
                conn,
                now=now,
                merchant_id=merchant,
                kind="publishable",
                scopes=["tokens:create"],
                allowed_origins=["https://shop.example"],
            )
            for _ in range(2)
        )
    app = create_app(runtime)
    with TestClient(app):  # runs the lifespan (and closes the runtime at the end)
        yield Stack(app, sk.key.reveal(), pk.key.reveal(), pk2.key.reveal())


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", stack.app)


SETTINGS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,  # the same requests on every run: CI failures reproduce
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_the_schema(
    api_schema: Any, stack: Stack, mode: GenerationMode
) -> None:
    """Valid requests (positive) and requests that break the schema (negative)."""
    failures: list[str] = []
    calls: list[int] = []
    operations = _operations(api_schema)
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @SETTINGS
        def run(case: Any) -> None:
            headers = stack.auth(case.method, case.path)
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls.append(response.status_code)

        try:
            run()
        except Unsatisfiable:
            # Negative mode: nothing in this operation's schema can be broken (no body, no
            # constrained parameter); the positive run covers it.
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # every operation is tried; all failures are reported
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}"[:3000])
    assert len(operations) >= 24
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 5 * len(operations)  # the run did send requests
    assert all(code < 500 for code in calls)


def test_the_openapi_document_covers_every_api_route(api_schema: Any, stack: Stack) -> None:
    documented = {(op.method.upper(), op.path) for op in _operations(api_schema)}
    assert len(documented) >= 24
    for method, path in documented:
        operation = api_schema[path][method]
        responses = operation.definition.raw["responses"]
        assert "4XX" in responses or path in ("/healthz", "/readyz"), (method, path)
        if path not in ("/v1/gateways/{connector}/webhooks", "/readyz"):
            assert "schema" in responses["200"]["content"]["application/json"], (method, path)


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def test_real_objects_match_their_schemas(api_schema: Any, stack: Stack) -> None:
    client = TestClient(stack.app, raise_server_exceptions=False)

    def call(method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        headers = stack.auth(method, template, stack.other_publishable)
        resp = client.request(method, path or template, headers=headers, **kwargs)
        assert resp.status_code < 500, resp.text
        api_schema[template][method].validate_response(resp)
        return resp.json()

    card = {"number": CANARY_PAN, "exp_month": 12, "exp_year": 2030, "cvc": CANARY_CVV}
    token = call("POST", "/v1/tokens", json={"card": card})["id"]
    call("GET", "/v1/tokens/{token_id}", f"/v1/tokens/{token}")
    payment = call("POST", "/v1/payments", json={"amount": 1200, "currency": "eur", "token": token})
    assert payment["status"] == "captured"
    pid = payment["id"]
    call("GET", "/v1/payments/{payment_id}", f"/v1/payments/{pid}")
    refund = call("POST", "/v1/refunds", json={"payment": pid, "amount": 200})
    call("GET", "/v1/refunds/{refund_id}", f"/v1/refunds/{refund['id']}")
    assert call("GET", "/v1/payments", params={"limit": 5})["data"]
    held = call(
        "POST",
        "/v1/payments",
        json={
            "amount": 500,
            "currency": "eur",
            "token": call("POST", "/v1/tokens", json={"card": card})["id"],
            "capture_method": "manual",
        },
    )
    call(
        "POST",
        "/v1/payments/{payment_id}/capture",
        f"/v1/payments/{held['id']}/capture",
        json={"amount": 300},
    )
    held = call(
        "POST",
        "/v1/payments",
        json={
            "amount": 500,
            "currency": "eur",
            "token": call("POST", "/v1/tokens", json={"card": card})["id"],
            "capture_method": "manual",
        },
    )
    call("POST", "/v1/payments/{payment_id}/void", f"/v1/payments/{held['id']}/void")
    declined = dict(card, number="4000000000000002")
    failed = call(
        "POST",
        "/v1/payments",
        json={
            "amount": 700,
            "currency": "eur",
            "token": call("POST", "/v1/tokens", json={"card": declined})["id"],
        },
    )
    assert failed["status"] == "failed" and failed["decline_code"]
    verified = call(
        "POST",
        "/v1/verifications",
        json={"currency": "eur", "token": call("POST", "/v1/tokens", json={"card": card})["id"]},
    )
    assert verified["status"] == "verified"
    saved = call(
        "POST",
        "/v1/payment_methods",
        json={"token": call("POST", "/v1/tokens", json={"card": card})["id"]},
    )
    call("GET", "/v1/payment_methods/{pm_id}", f"/v1/payment_methods/{saved['id']}")
    call("DELETE", "/v1/payment_methods/{pm_id}", f"/v1/payment_methods/{saved['id']}")
    events = call("GET", "/v1/events", params={"limit": 20})
    assert events["data"]
    call("GET", "/v1/events/{event_id}", f"/v1/events/{events['data'][0]['id']}")
    endpoint = call("POST", "/v1/webhook_endpoints", json={"url": "https://shop.example/hooks"})
    assert endpoint["secret"].startswith("whsec_")
    call("GET", "/v1/webhook_endpoints")
    call("GET", "/v1/webhook_endpoints/{endpoint_id}", f"/v1/webhook_endpoints/{endpoint['id']}")
    call("DELETE", "/v1/webhook_endpoints/{endpoint_id}", f"/v1/webhook_endpoints/{endpoint['id']}")
    call("GET", "/healthz")
    call("GET", "/readyz")
    # An error answer has the documented shape too.
    missing = call("GET", "/v1/payments/{payment_id}", "/v1/payments/pay_missing")
    assert missing["error"]["code"] == "resource_missing"
