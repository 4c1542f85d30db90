"""The Generic Pay Connector endpoint through the app, with Twilio's request shapes, against
SQLite and PostgreSQL: tokenize, charge, processed failures, refused requests, credentials,
rate limits and retries. Every case checks what was written and scans the response, the logs
and every database row for the canary card number and security code."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cardshield.phone.pay_connector import limits
from cardshield.phone.pay_connector.credentials import revoke_credential
from cardshield.security.ratelimit import RateLimiter
from cardshield.storage.schema import audit_log, cards, payments
from tests.apps import NOW, Api
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.unit.phone.pay_connector.support import (
    DECLINED,
    LUHN_INVALID,
    PATH,
    assert_no_leak,
    basic,
    charge,
    counts,
    credential,
    database_text,
    tokenize,
)


def _post(api: Api, auth: dict[str, str], body: Any) -> Any:
    return api.client.post(PATH, json=body, headers=auth)


def _scan(api: Api, caplog: pytest.LogCaptureFixture, *responses: Any) -> None:
    assert_no_leak(caplog.text, database_text(api.runtime.engine))
    for response in responses:
        assert_no_leak(response.content, repr(dict(response.headers)))


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    """A refused request: ``status``, and both Twilio's fields and the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert body["error_message"]
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"type", "code", "message", "param"}
    return dict(body)


def test_tokenize_reusable_and_one_time(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    auth = credential(api)
    reusable = _post(api, auth, tokenize())
    assert reusable.status_code == 200, reusable.text
    body = reusable.json()
    assert body["error_code"] is None
    assert body["error_message"] is None
    assert body["token_id"].startswith("tok_")
    assert body["parameters"] == {
        "brand": "visa",
        "last4": "4242",
        "exp_month": "08",
        "exp_year": "2030",
        "token_type": "reusable",
    }
    one_time = _post(
        api, auth, tokenize(transaction_id="tx-one-time", token_type="one-time", cvv=None)
    )
    assert one_time.status_code == 200, one_time.text
    token = one_time.json()["token_id"]
    with api.runtime.engine.connect() as conn:
        rows = {r.token: r for r in conn.execute(select(cards))}
    assert rows[body["token_id"]].single_use is False
    assert rows[token].single_use is True
    assert rows[token].expires_at is not None
    # The reusable token's code waits in the volatile store only, for one authorization.
    assert api.runtime.cvv_store.take(f"{api.merchant}:{body['token_id']}") is not None
    assert api.runtime.cvv_store.take(f"{api.merchant}:{token}") is None
    assert counts(api.runtime.engine) == (2, 0, 2)
    _scan(api, caplog, reusable, one_time)


def test_charge_succeeds_through_the_sandbox(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    response = _post(api, credential(api), charge())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error_code"] is None
    assert body["charge_id"].startswith("pay_")
    params = body["parameters"]
    assert params["payment_id"] == body["charge_id"]
    assert (params["status"], params["brand"], params["last4"]) == ("captured", "visa", "4242")
    assert (params["amount"], params["currency"]) == ("1000", "usd")
    payment = api.client.get(f"/v1/payments/{body['charge_id']}", headers=api.sk()).json()
    assert (payment["amount"], payment["currency"], payment["status"]) == (1000, "usd", "captured")
    assert payment["description"] == "pizza"
    assert payment["metadata"]["order"] == "A-17"
    assert payment["metadata"]["twilio_transaction_id"] == charge()["transaction_id"]
    # The single-use token was spent on this charge, with its code: nothing waits anymore.
    with api.runtime.engine.connect() as conn:
        card = conn.execute(select(cards)).one()
    assert card.used_at is not None
    assert api.runtime.cvv_store.take(f"{api.merchant}:{card.token}") is None
    assert counts(api.runtime.engine) == (1, 1, 2)  # ours and the payment's own key
    _scan(api, caplog, response)


def test_amounts_use_the_currency_exponent(api: Api) -> None:
    auth = credential(api)
    yen = _post(api, auth, charge(transaction_id="tx-jpy", amount="1500", currency_code="jpy"))
    assert yen.json()["parameters"]["amount"] == "1500", yen.text
    dinar = _post(api, auth, charge(transaction_id="tx-kwd", amount="1.25", currency_code="KWD"))
    assert dinar.json()["parameters"]["amount"] == "1250", dinar.text
    fraction = _post(api, auth, charge(transaction_id="tx-frac", amount="10.005"))
    _refused(fraction, 400, "parameter_invalid")
    assert fraction.json()["error"]["param"] == "amount"


def test_decline_is_an_answer_for_pay(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    response = _post(api, credential(api), charge(cardnumber=DECLINED))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["charge_id"] is None
    assert body["error_code"] == "card_declined"
    assert body["error_message"]
    assert body["parameters"]["status"] == "failed"
    assert body["parameters"]["last4"] == "0002"
    with api.runtime.engine.connect() as conn:
        assert conn.execute(select(payments.c.status)).scalar_one() == "failed"
    assert counts(api.runtime.engine) == (1, 1, 2)
    _scan(api, caplog, response)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"cardnumber": LUHN_INVALID}, "incorrect_number"),
        ({"cardnumber": "4242 4242 abcd 4242"}, "invalid_number"),
        ({"expiry_month": "10", "expiry_year": "2026"}, "expired_card"),
        ({"expiry_month": "13"}, "invalid_expiry"),
        ({"cvv": "12"}, "invalid_cvc"),
        (
            {"bank_account_number": "000123456789", "cardnumber": None},
            "payment_method_not_supported",
        ),
    ],
)
def test_card_problems_are_answered_in_twilios_shape(
    api: Api, caplog: pytest.LogCaptureFixture, changes: dict[str, Any], code: str
) -> None:
    for body in (charge(**changes), tokenize(**changes)):
        response = _post(api, credential(api), body)
        assert response.status_code == 200, response.text
        answer = response.json()
        id_field = "charge_id" if body["method"] == "charge" else "token_id"
        assert answer[id_field] is None
        assert (answer["error_code"], answer["parameters"]) == (code, {})
        assert answer["error_message"]
        assert "error" not in answer
        assert counts(api.runtime.engine) == (0, 0, 0)
        _scan(api, caplog, response)


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (charge(transaction_id=None), "parameter_missing", "transaction_id"),
        (charge(cardnumber=None), "parameter_missing", "cardnumber"),
        (charge(expiry_year=None), "parameter_missing", "expiry_year"),
        (charge(amount=None), "parameter_missing", "amount"),
        (charge(currency_code="XXX"), "invalid_currency", "currency_code"),
        (charge(amount="0"), "parameter_invalid", "amount"),
        (charge(method="refund"), "parameter_invalid", "method"),
        (tokenize(token_type="forever"), "parameter_invalid", "token_type"),
        (charge(description=f"card {CANARY_PAN}"), "card_data_in_text", "description"),
        (charge(parameters={"note": CANARY_PAN}), "card_data_in_text", "parameters"),
        (["not", "an", "object"], "invalid_json", None),
    ],
)
def test_malformed_requests_are_400_with_both_error_shapes(
    api: Api, caplog: pytest.LogCaptureFixture, body: Any, code: str, param: str | None
) -> None:
    response = _post(api, credential(api), body)
    answer = _refused(response, 400, code)
    assert answer["error"]["param"] == param
    assert counts(api.runtime.engine) == (0, 0, 0)
    _scan(api, caplog, response)


def test_a_body_that_is_not_json(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    auth = credential(api)
    for raw in (f"cardnumber={CANARY_PAN}&cvv={CANARY_CVV}".encode(), b"\xff\xfe{", b""):
        response = api.client.post(
            PATH, content=raw, headers={**auth, "Content-Type": "application/json"}
        )
        _refused(response, 400, "invalid_json")
        assert response.json()["charge_id"] is None
        _scan(api, caplog, response)
    assert counts(api.runtime.engine) == (0, 0, 0)


def test_wrong_missing_and_revoked_credentials_are_401(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    auth = credential(api)
    username = _username(auth)
    attempts = [
        {},
        {"Authorization": "Bearer " + api.secret},  # an API key is not a connector credential
        basic(username, "pcp_wrong"),
        basic("pcu_nobody", "pcp_wrong"),
        {"Authorization": "Basic !!!notbase64"},
    ]
    for headers in attempts:
        response = _post(api, headers, charge())
        _refused(response, 401, "pay_connector_auth_failed")
        assert response.headers["www-authenticate"].startswith("Basic ")
        _scan(api, caplog, response)
    with api.runtime.engine.begin() as conn:
        revoke_credential(conn, now=NOW, merchant_id=api.merchant, username=username, actor="t")
    revoked = _post(api, auth, charge())
    _refused(revoked, 401, "pay_connector_auth_failed")
    assert counts(api.runtime.engine) == (0, 0, 0)
    with api.runtime.engine.connect() as conn:
        failures = conn.execute(
            select(audit_log.c.target, audit_log.c.outcome).where(
                audit_log.c.action == "pay_connector_credential.auth_failed"
            )
        ).all()
    assert len(failures) == len(attempts) + 1
    assert {f.outcome for f in failures} == {"failure"}
    # Only a username that exists is recorded as the target.
    assert {f.target for f in failures} == {None, username}
    _scan(api, caplog, revoked)


def _username(auth: dict[str, str]) -> str:
    import base64

    return base64.b64decode(auth["Authorization"].split()[1]).decode().split(":")[0]


def test_another_merchants_credential_charges_for_that_merchant(api: Api) -> None:
    response = _post(api, credential(api, api.other_merchant), tokenize())
    token = response.json()["token_id"]
    with api.runtime.engine.connect() as conn:
        owner = conn.execute(select(cards.c.merchant_id).where(cards.c.token == token)).scalar()
    assert owner == api.other_merchant


def test_rate_limits(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    app = api.client.app
    app.state.pay_connector_limiter = RateLimiter(  # type: ignore[attr-defined]
        "memory://",
        {
            limits.ATTEMPTS_PER_USER: "3/minute",
            limits.ATTEMPTS_PER_IP: "100/minute",
            limits.FAILURES_PER_USER: "2/minute",
            limits.FAILURES_PER_IP: "100/minute",
        },
    )
    auth = credential(api)
    wrong = basic(_username(auth), "pcp_wrong")
    assert _post(api, wrong, charge()).status_code == 401
    assert _post(api, wrong, charge()).status_code == 401
    limited = _post(api, wrong, charge())  # the third failure: over the failure limit
    _refused(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) > 0
    # The username has now been tried 3 times: the total limit turns it away before any check.
    total = _post(api, auth, tokenize())
    _refused(total, 429, "rate_limited")
    assert counts(api.runtime.engine) == (0, 0, 0)
    _scan(api, caplog, limited, total)


def test_a_retry_gets_the_first_answer_and_charges_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    auth = credential(api)
    first = _post(api, auth, charge())
    again = _post(api, auth, charge())
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    declined = _post(api, auth, charge(transaction_id="tx-declined", cardnumber=DECLINED))
    declined_again = _post(api, auth, charge(transaction_id="tx-declined", cardnumber=DECLINED))
    assert declined_again.json() == declined.json()
    # A one-time token is new each time it is made: the same one back means a replay.
    token = _post(api, auth, tokenize(token_type="one-time"))
    token_again = _post(api, auth, tokenize(token_type="one-time"))
    assert token_again.json()["token_id"] == token.json()["token_id"]
    assert counts(api.runtime.engine) == (3, 2, 5)
    _scan(api, caplog, first, again, declined_again, token_again)


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "20.0"},
        {"cardnumber": "5555555555554444"},
        {"expiry_year": "2031"},
        {"parameters": {"order": "B-1"}},
        {"method": "tokenize", "token_type": "one-time"},
    ],
)
def test_the_same_transaction_id_with_another_request_is_409(
    api: Api, caplog: pytest.LogCaptureFixture, changes: dict[str, Any]
) -> None:
    auth = credential(api)
    first = _post(api, auth, charge())
    assert first.status_code == 200
    before = counts(api.runtime.engine)
    other = _post(api, auth, charge(**changes))
    _refused(other, 409, "idempotency_key_reused")
    assert other.json()["error"]["param"] == "idempotency_key"
    assert counts(api.runtime.engine) == before
    _scan(api, caplog, first, other)


def test_the_route_is_kept_out_of_the_api_description(api: Api) -> None:
    assert PATH not in api.client.get("/openapi.json").json()["paths"]
