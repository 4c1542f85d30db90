from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from cardshield.client import (
    APIConnectionError,
    AsyncCardshield,
    AuthenticationError,
    CardError,
    Cardshield,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
)
from tests.apps import Api

BASE = "https://vault.test"
SK = "sk_live_" + "a" * 43
PAYMENT = {
    "id": "pay_1",
    "object": "payment",
    "amount": 1999,
    "currency": "eur",
    "status": "captured",
    "amount_captured": 1999,
    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
    "extra_field": 1,
}


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"type": "x", "code": code, "message": "m", "param": None}},
        headers={"request-id": "req_1"},
    )


@respx.mock
def test_post_sends_key_and_parses_model() -> None:
    route = respx.post(f"{BASE}/v1/payments").mock(return_value=httpx.Response(200, json=PAYMENT))
    cs = Cardshield(SK, base_url=BASE)
    payment = cs.payments.create(
        amount=1999, currency="eur", token="tok_1", metadata={"order": "42"}
    )
    assert payment.id == "pay_1"
    assert payment.card is not None and payment.card.last4 == "4242"
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {SK}"
    assert len(sent.headers["idempotency-key"]) == 36
    assert json.loads(sent.content) == {
        "amount": 1999,
        "currency": "eur",
        "token": "tok_1",
        "capture_method": "automatic",
        "metadata": {"order": "42"},
    }
    assert "aaaa" not in repr(cs)


@respx.mock
def test_retries_reuse_the_same_idempotency_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    route = respx.post(f"{BASE}/v1/refunds").mock(
        side_effect=[
            httpx.ConnectError("down"),
            _error(503, "unavailable"),
            httpx.Response(
                200,
                json={
                    "id": "re_1",
                    "payment": "pay_1",
                    "amount": 5,
                    "currency": "eur",
                    "status": "succeeded",
                },
            ),
        ]
    )
    refund = Cardshield(SK, base_url=BASE).refunds.create(
        payment="pay_1", amount=5, idempotency_key="k-1"
    )
    assert refund.id == "re_1"
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert keys == {"k-1"}
    assert route.call_count == 3


@respx.mock
def test_error_classes_by_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    cs = Cardshield(SK, base_url=BASE, max_retries=1)
    for status, code, cls in [
        (402, "card_declined", CardError),
        (401, "invalid_api_key", AuthenticationError),
        (403, "insufficient_scope", PermissionDeniedError),
        (404, "resource_missing", InvalidRequestError),
        (409, "idempotency_key_reused", IdempotencyError),
    ]:
        respx.get(f"{BASE}/v1/payments/pay_x").mock(return_value=_error(status, code))
        with pytest.raises(cls) as info:
            cs.payments.retrieve("pay_x")
        assert info.value.code == code
        assert info.value.request_id == "req_1"
    respx.get(f"{BASE}/v1/payments/pay_y").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(APIConnectionError):
        cs.payments.retrieve("pay_y")


def test_refuses_publishable_keys() -> None:
    with pytest.raises(ValueError, match="secret key"):
        Cardshield("pk_live_" + "a" * 43)


@respx.mock
def test_async_client() -> None:
    respx.get(f"{BASE}/v1/payments", params={"limit": "2"}).mock(
        return_value=httpx.Response(
            200, json={"object": "list", "data": [PAYMENT], "has_more": True}
        )
    )

    async def go() -> None:
        async with AsyncCardshield(SK, base_url=BASE) as cs:
            page = await cs.payments.list(limit=2)
        assert page.has_more
        assert page.data[0].amount == 1999

    asyncio.run(go())


def test_against_the_real_app(api: Api) -> None:
    token = api.client.post(
        "/v1/tokens",
        json={"card": {"number": "5555555555554444", "exp_month": 1, "exp_year": 2031}},
        headers=api.pk(),
    ).json()
    cs = Cardshield(api.secret, base_url="http://testserver", http_client=api.client)
    got = cs.tokens.retrieve(token["id"])
    assert (got.card.brand, got.card.last4) == ("mastercard", "4444")
    with pytest.raises(InvalidRequestError) as info:
        Cardshield(
            api.other_secret, base_url="http://testserver", http_client=api.client
        ).tokens.retrieve(token["id"])
    assert info.value.status == 404
