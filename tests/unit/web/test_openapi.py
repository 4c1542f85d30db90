"""``/openapi.json`` as served: every request and answer body has an example that its own
schema accepts, no answer example holds a card number, and every operation names the key
it needs (the same declaration the authorization checks read)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from cardshield.config import Settings
from cardshield.crypto.kms import open_kms
from cardshield.payments.service import PaymentService
from cardshield.runtime import Runtime
from cardshield.security.permissions import iter_routes, route_access
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from cardshield.web.app import create_app
from cardshield.web.openapi_examples import EXAMPLES
from tests.conftest import CANARY_PAN, assert_no_card_data


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('openapi')}/v.db")
    upgrade(engine)
    kms = open_kms("memory:")
    vault = Vault(engine, kms, MemoryCVVStore())
    payments = PaymentService(engine, vault, lambda merchant: (None, merchant))  # type: ignore[arg-type,return-value]
    yield create_app(Runtime(Settings(), engine, kms, MemoryCVVStore(), vault, payments))
    engine.dispose()


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    served = TestClient(app).get("/openapi.json")
    assert served.status_code == 200
    body: dict[str, Any] = served.json()
    return body


def _bodies(document: dict[str, Any]) -> set[str]:
    """Component schemas used as a request body or a 200 or 4XX answer."""
    names = set()
    for operations in document["paths"].values():
        for op in operations.values():
            contents = [op.get("requestBody", {}).get("content", {})]
            contents += [r.get("content", {}) for r in op.get("responses", {}).values()]
            for content in contents:
                schema = content.get("application/json", {}).get("schema", {})
                refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("anyOf", [])]
                names |= {r.rsplit("/", 1)[1] for r in refs if r}
    return names


def test_every_body_has_an_example_its_schema_accepts(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bodies = _bodies(document)
    assert {"TokenCreate", "PaymentCreate", "PaymentOut", "ErrorOut", "RefundCreate"} <= bodies
    missing = sorted(name for name in bodies if not schemas[name].get("examples"))
    assert not missing, f"bodies without an example: {missing}"
    registry = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(document))
    for name in bodies:
        schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        for example in schemas[name]["examples"]:
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, f"{name}: {errors}"


def test_answer_examples_hold_no_card_number(document: dict[str, Any]) -> None:
    answers = {n: e for n, e in EXAMPLES.items() if not n.endswith(("Create", "Body", "In"))}
    assert "PaymentOut" in answers
    text = json.dumps(answers)
    assert_no_card_data(text)
    assert_no_card_data(text, pans=("4000056655665556", "5555555555554444"))
    assert CANARY_PAN[-4:] in text  # the last four are shown, as the API does


def test_every_operation_names_the_key_it_needs(app: FastAPI, document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["secretKey"]["scheme"] == schemes["publishableKey"]["scheme"] == "bearer"
    paths = document["paths"]
    seen = 0
    documented = [
        (route.path, method.lower(), route_access(route))
        for route in iter_routes(app)
        if route.path in paths and route.methods
        for method in route.methods
        if method.lower() in paths[route.path]
    ]
    for path, method, access in documented:
        operation = paths[path][method]
        if access.kind == "secret_key":
            assert operation["security"] == [{"secretKey": []}], (method, path)
            assert operation["x-cardshield-scope"] == access.scope
            assert f"`{access.scope}`" in operation["description"]
        elif access.kind == "publishable_key":
            assert operation["security"] == [{"publishableKey": []}], (method, path)
        else:
            assert "security" not in operation, (method, path)
        seen += 1
    assert seen >= 20
    assert paths["/v1/tokens"]["post"]["security"] == [{"publishableKey": []}]
    assert paths["/v1/payments"]["post"]["security"] == [{"secretKey": []}]
    assert "security" not in paths["/healthz"]["get"]
