from __future__ import annotations

from typing import Any

from cardshield.security.apikeys import create_key
from tests.apps import NOW, Api
from tests.conftest import CANARY_PAN, assert_no_card_data


def _token(api: Api, number: str = CANARY_PAN, cvc: str | None = "737") -> str:
    card: dict[str, Any] = {"number": number, "exp_month": 12, "exp_year": 2030}
    if cvc:
        card["cvc"] = cvc
    resp = api.client.post("/v1/tokens", json={"card": card}, headers=api.pk())
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _post(
    api: Api,
    path: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
    idem: str | None = None,
) -> Any:
    headers = api.sk()
    if idem:
        headers["Idempotency-Key"] = idem
    return api.client.post(path, json=body, headers=headers)


def test_charge_capture_refund_flow(api: Api) -> None:
    resp = _post(
        api,
        "/v1/payments",
        {"amount": 1999, "currency": "eur", "token": _token(api), "capture_method": "manual"},
        idem="order-1",
    )
    assert resp.status_code == 200, resp.text
    pay = resp.json()
    assert (pay["status"], pay["amount_authorized"], pay["currency"]) == ("authorized", 1999, "eur")
    assert pay["card"]["last4"] == "4242"
    again = _post(
        api,
        "/v1/payments",
        {"amount": 1999, "currency": "eur", "token": "tok_x", "capture_method": "manual"},
        idem="order-1",
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "idempotency_key_reused"
    cap = _post(api, f"/v1/payments/{pay['id']}/capture", {"amount": 1500})
    assert cap.status_code == 200, cap.text
    assert cap.json()["amount_captured"] == 1500
    ref = _post(api, "/v1/refunds", {"payment": pay["id"], "amount": 500})
    assert ref.status_code == 200, ref.text
    assert ref.json()["status"] == "succeeded"
    too_much = _post(api, "/v1/refunds", {"payment": pay["id"], "amount": 5000})
    assert too_much.status_code == 400
    got = api.client.get(f"/v1/payments/{pay['id']}", headers=api.sk()).json()
    assert got["amount_refunded"] == 500
    listed = api.client.get("/v1/payments?limit=1", headers=api.sk()).json()
    assert listed["object"] == "list"
    assert listed["data"][0]["id"] == pay["id"]
    events = api.client.get("/v1/events", headers=api.sk()).json()["data"]
    types = {e["type"] for e in events}
    assert {"payment.authorized", "payment.captured", "payment.refunded"} <= types
    one = api.client.get(f"/v1/events/{events[0]['id']}", headers=api.sk())
    assert one.status_code == 200
    for text in (resp.text, cap.text, ref.text, str(events)):
        assert_no_card_data(text)


def test_declines_and_bad_input(api: Api) -> None:
    declined = _post(
        api,
        "/v1/payments",
        {"amount": 500, "currency": "usd", "token": _token(api, "4000000000000002")},
    )
    body = declined.json()
    # A decline is a result, not an error: the payment comes back failed, with the reason.
    assert declined.status_code == 200, declined.text
    assert body["status"] == "failed"
    assert body["decline_code"] == "card_declined"
    for payload, code in [
        ({"amount": 0, "currency": "usd", "token": "tok_x"}, "invalid_amount"),
        ({"amount": 100, "currency": "xxx", "token": "tok_x"}, "invalid_currency"),
        ({"amount": 100, "currency": "usd", "token": "tok_nope"}, "resource_missing"),
        ({"amount": 100, "currency": "usd"}, "parameter_invalid"),
        ({"amount": "100", "currency": "usd", "token": "tok_x"}, "parameter_invalid"),
    ]:
        resp = _post(api, "/v1/payments", payload)
        assert 400 <= resp.status_code < 500, resp.text
        assert resp.json()["error"]["code"] == code, (payload, resp.text)
    used = _token(api)
    assert (
        _post(api, "/v1/payments", {"amount": 100, "currency": "usd", "token": used}).status_code
        == 200
    )
    again = _post(api, "/v1/payments", {"amount": 100, "currency": "usd", "token": used})
    assert again.json()["error"]["code"] == "token_already_used"
    pk = api.client.post(
        "/v1/payments", json={"amount": 1, "currency": "usd", "token": used}, headers=api.pk()
    )
    assert pk.json()["error"]["code"] == "secret_key_required"


def test_saved_cards_verification_and_webhook_endpoints(api: Api) -> None:
    pm = _post(api, "/v1/payment_methods", {"token": _token(api)}).json()
    assert pm["object"] == "payment_method"
    assert pm["card"]["last4"] == "4242"
    again = _post(api, "/v1/payment_methods", {"token": _token(api)}).json()
    assert again["id"] == pm["id"]  # same card, same saved method
    for _ in range(2):
        paid = _post(
            api, "/v1/payments", {"amount": 300, "currency": "gbp", "payment_method": pm["id"]}
        )
        assert paid.json()["status"] == "captured", paid.text
    ver = _post(api, "/v1/verifications", {"currency": "usd", "payment_method": pm["id"]})
    assert ver.json()["status"] == "verified", ver.text
    gone = api.client.delete(f"/v1/payment_methods/{pm['id']}", headers=api.sk())
    assert gone.json()["deleted"] is True
    ep = _post(api, "/v1/webhook_endpoints", {"url": "https://shop.example/hooks"})
    assert ep.status_code == 200, ep.text
    assert ep.json()["secret"].startswith("whsec_")
    listed = api.client.get("/v1/webhook_endpoints", headers=api.sk()).json()
    assert "secret" not in listed["data"][0]
    off = api.client.delete(f"/v1/webhook_endpoints/{ep.json()['id']}", headers=api.sk())
    assert off.json()["status"] == "disabled"


def test_a_read_only_key_cannot_save_a_card(api: Api) -> None:
    """Saving consumes the shopper's single-use token: a tokens:read key is refused before
    the token is touched, so the token still works for a key that may save cards."""
    with api.runtime.engine.begin() as conn:
        reader = create_key(
            conn, now=NOW, merchant_id=api.merchant, kind="secret", scopes=["tokens:read"]
        ).key.reveal()
    token = _token(api)
    refused = api.client.post("/v1/payment_methods", json={"token": token}, headers=api.sk(reader))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert "tokens:create" in refused.json()["error"]["message"]
    assert api.client.get(f"/v1/tokens/{token}", headers=api.sk(reader)).json()["used"] is False
    saved = _post(api, "/v1/payment_methods", {"token": token})
    assert saved.status_code == 200, saved.text
    assert_no_card_data(refused.text + saved.text)


def test_forward_refuses_unlisted_destinations(api: Api) -> None:
    resp = _post(
        api,
        "/v1/forward",
        {
            "token": _token(api),
            "request": {
                "url": "https://api.example.net/charge",
                "body": '{"n": "{{card.number}}"}',
            },
        },
    )
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "destination_not_allowed"


def test_gateway_webhook_needs_a_valid_signature(api: Api) -> None:
    resp = api.client.post("/v1/gateways/sandbox/webhooks", content=b'{"type": "x"}')
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_signature"
    other = api.client.post("/v1/gateways/stripe/webhooks", content=b"{}")
    assert other.status_code == 404
