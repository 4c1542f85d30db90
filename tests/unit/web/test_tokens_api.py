from __future__ import annotations

import pytest

from tests.apps import Api
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data

CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": CANARY_CVV}


def _error(resp, status: int, code: str, param: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code
    assert set(err) == {"type", "code", "message", "param"}
    if param is not None:
        assert err["param"] == param


def test_tokenize_with_publishable_key_then_read_with_secret_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    resp = api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"].startswith("tok_")
    assert body["card"] == {
        "brand": "visa",
        "bin": "424242",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
    }
    assert body["single_use"] is True
    assert resp.headers["request-id"].startswith("req_")
    assert resp.headers["x-content-type-options"] == "nosniff"
    got = api.client.get(f"/v1/tokens/{body['id']}", headers=api.sk())
    assert got.status_code == 200
    assert got.json()["card"] == body["card"]  # the same metadata; never a fingerprint
    for text in (resp.text, got.text, caplog.text):
        assert_no_card_data(text)
        assert f'"{CANARY_CVV}"' not in text


def test_wrong_key_types_and_merchants(api: Api) -> None:
    _error(
        api.client.post("/v1/tokens", json={"card": CARD}, headers=api.sk()),
        403,
        "publishable_key_required",
    )
    tok = api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).json()["id"]
    _error(api.client.get(f"/v1/tokens/{tok}", headers=api.pk()), 403, "secret_key_required")
    _error(
        api.client.get(f"/v1/tokens/{tok}", headers=api.sk(api.other_secret)),
        404,
        "resource_missing",
    )
    _error(api.client.get(f"/v1/tokens/{tok}"), 401, "invalid_api_key")
    _error(
        api.client.get(f"/v1/tokens/{tok}", headers={"Authorization": "Bearer sk_live_nope"}),
        401,
        "invalid_api_key",
    )


@pytest.mark.parametrize(
    ("card", "status", "code", "param"),
    [
        ({**CARD, "number": "4242424242424241"}, 402, "incorrect_number", None),
        ({**CARD, "number": "9000000000000001"}, 402, "unsupported_brand", None),
        ({**CARD, "exp_year": 2025}, 402, "expired_card", None),
        ({**CARD, "cvc": "12a"}, 402, "invalid_cvc", None),
        ({**CARD, "exp_month": 13}, 400, "parameter_invalid", "card[exp_month]"),
        ({**CARD, "exp_month": "12"}, 400, "parameter_invalid", "card[exp_month]"),
        ({**CARD, "pin": "1234"}, 400, "parameter_unknown", "card[pin]"),
        (
            {k: v for k, v in CARD.items() if k != "number"},
            400,
            "parameter_missing",
            "card[number]",
        ),
    ],
)
def test_bad_card_input(api: Api, card: dict, status: int, code: str, param: str | None) -> None:  # type: ignore[type-arg]
    resp = api.client.post("/v1/tokens", json={"card": card}, headers=api.pk())
    _error(resp, status, code, param)
    assert_no_card_data(resp.text, (CANARY_PAN, "4242424242424241", "9000000000000001"))


def test_malformed_and_oversize_bodies(api: Api) -> None:
    headers = {**api.pk(), "content-type": "application/json"}
    _error(
        api.client.post("/v1/tokens", content=b'{"card": ', headers=headers), 400, "invalid_json"
    )
    _error(
        api.client.post("/v1/tokens", content=b"[1, 2]", headers=headers), 400, "parameter_invalid"
    )
    big = b'{"card": {"number": "' + b"4" * 100_000 + b'"}}'
    _error(api.client.post("/v1/tokens", content=big, headers=headers), 413, "request_too_large")


def test_unknown_route_and_method(api: Api) -> None:
    _error(api.client.get("/v1/nothing"), 404, "resource_missing")
    _error(api.client.delete("/v1/tokens"), 405, "method_not_allowed")


def test_health_readiness_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kms": "ok", "volatile_store": "ok"}
    spec = api.client.get("/openapi.json").json()
    assert "/v1/tokens" in spec["paths"]
    assert "/v1/tokens/{token_id}" in spec["paths"]
