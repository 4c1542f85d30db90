"""``POST /v1/phone/amazon-connect/tokens`` against SQLite and PostgreSQL, with ciphertexts
the real AWS Encryption SDK made as Connect makes them: the token comes back with brand,
last four and expiry only; every refusal is its own 4xx, stores no card, and no response,
log line or database row holds the canary card number or security code."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import select

from cardshield.phone.connect import ConnectKeys
from cardshield.storage.schema import audit_log, connect_keys
from tests.apps import NOW
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.unit.phone.connect.support import (
    CONTACT_ID,
    KID,
    OTHER_ARN,
    OTHER_KID,
    World,
    connect_encrypt,
    database_text,
)

AMEX = "378282246310005"


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message", "param"}
    error: dict[str, Any] = body["error"]
    return error


def _no_leak(world: World, *responses: Any, caplog: pytest.LogCaptureFixture) -> None:
    everything, text = database_text(world.engine)
    for blob in (*(r.text for r in responses), caplog.text, everything):
        assert_no_card_data(blob)
    for blob in (*(r.text for r in responses), caplog.text, text):
        assert_no_cvv(blob.replace(NOW.isoformat(), ""))


def _uses(world: World) -> list[tuple[str, str | None]]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.outcome, audit_log.c.target)
            .where(audit_log.c.action == "connect_key.use")
            .order_by(audit_log.c.seq)
        ).all()
    return [(r.outcome, r.target) for r in rows]


def test_connect_ciphertexts_become_a_single_use_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    response = world.post(world.body(CANARY_PAN, CANARY_CVV))
    assert response.status_code == 200, response.text
    out = response.json()
    assert set(out) == {"token", "brand", "last4", "exp_month", "exp_year", "payment"}
    assert out["brand"] == "visa" and out["last4"] == "4242"
    assert (out["exp_month"], out["exp_year"]) == (12, 2030)
    assert out["payment"] is None
    record = world.api.runtime.vault.retrieve(world.merchant, out["token"])
    assert record.single_use and record.last4 == "4242"
    # The security code waits in the volatile store under the token, as phone capture does.
    cvv = world.api.runtime.cvv_store.take(f"{world.merchant}:{out['token']}")
    assert cvv is not None and cvv.reveal() == CANARY_CVV
    assert _uses(world) == [("success", world.key.id)]
    with world.engine.connect() as conn:
        used = conn.execute(
            select(connect_keys.c.last_used_at).where(connect_keys.c.id == world.key.id)
        ).scalar_one()
    assert used == NOW
    _no_leak(world, response, caplog=caplog)


def test_reusable_on_request_and_no_security_code(world: World) -> None:
    response = world.post(world.body(CANARY_PAN, reusable=True))
    assert response.status_code == 200, response.text
    record = world.api.runtime.vault.retrieve(world.merchant, response.json()["token"])
    assert not record.single_use
    assert world.api.runtime.cvv_store.take(f"{world.merchant}:{record.token}") is None


def test_a_charge_goes_through_the_sandbox_connector(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    body = world.body(CANARY_PAN, CANARY_CVV, charge={"amount": 1999, "currency": "eur"})
    response = world.post(body)
    assert response.status_code == 200, response.text
    payment = response.json()["payment"]
    assert payment["status"] == "captured" and payment["amount"] == 1999
    assert payment["token"] == response.json()["token"]
    assert payment["card"]["last4"] == "4242"
    assert payment["metadata"] == {"channel": "amazon_connect"}
    _no_leak(world, response, caplog=caplog)


def test_a_bad_charge_is_refused_before_the_card_is_opened(world: World) -> None:
    body = world.body(CANARY_PAN, charge={"amount": 1999, "currency": "zzz"})
    response = world.post(body)
    assert response.status_code == 400 and _error(response)["code"] == "invalid_currency"
    assert world.card_rows() == 0 and _uses(world) == []


def test_the_key_id_in_the_message_picks_one_of_two_active_keys(world: World) -> None:
    keys = ConnectKeys(world.api.runtime.vault.keys)
    with world.engine.begin() as conn:
        second = keys.create(conn, merchant_id=world.merchant, now=NOW, actor="test")
        keys.activate(
            conn,
            merchant_id=world.merchant,
            key_id=second.id,
            connect_key_id=OTHER_KID,
            now=NOW,
            actor="test",
        )
    rolled = {
        "card_number": connect_encrypt(CANARY_PAN, second.certificate_pem, OTHER_KID),
        "expiry": connect_encrypt("1230", second.certificate_pem, OTHER_KID),
    }
    assert world.post(world.body(CANARY_PAN)).status_code == 200  # the first key still opens
    response = world.post(world.body(CANARY_PAN, **rolled))
    assert response.status_code == 200, response.text
    assert _uses(world) == [("success", world.key.id), ("success", second.id)]
    # The other key's certificate under this key's id: the wrong private key, refused.
    mixed = world.body(
        CANARY_PAN, card_number=connect_encrypt(CANARY_PAN, second.certificate_pem, KID)
    )
    refused = world.post(mixed)
    assert _error(refused)["code"] == "connect_ciphertext_invalid"


def _refused(world: World, response: Any, status: int, code: str, param: str | None) -> None:
    assert response.status_code == status, response.text
    error = _error(response)
    assert (error["code"], error["param"]) == (code, param)
    assert world.card_rows() == 0, "a refused request stored a card"


def test_ciphertext_failures_are_one_message_less_error(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    good = world.encrypt(CANARY_PAN)
    raw = bytearray(base64.b64decode(good))
    raw[len(raw) // 2] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()
    foreign = connect_encrypt(CANARY_PAN, world.key.certificate_pem, KID, provider_id="SomeoneElse")
    unknown_key = world.encrypt(CANARY_PAN, key_id=OTHER_KID)
    truncated = base64.b64encode(base64.b64decode(good)[:-40]).decode()
    cases = {
        "tampered": tampered,
        "wrong provider id": foreign,
        "key id of no active key": unknown_key,
        "truncated": truncated,
        "bad base64": good[:-8] + "!!!!====",
        "not a message": base64.b64encode(b"4242424242424242").decode(),
    }
    messages = set()
    responses = []
    for name, value in cases.items():
        response = world.post(world.body(CANARY_PAN, card_number=value))
        responses.append(response)
        assert response.status_code == 400, name
        error = _error(response)
        assert error["code"] == "connect_ciphertext_invalid", name
        assert error["param"] == "card_number", name
        messages.add(error["message"])
    assert len(messages) == 1  # nothing says which check failed
    assert world.card_rows() == 0
    # Each was a use of the merchant's keys, audited as a failure.
    assert [o for o, _ in _uses(world)] == ["failure"] * len(cases)
    _no_leak(world, *responses, caplog=caplog)


def test_a_retired_key_no_longer_opens_anything(world: World) -> None:
    body = world.body(CANARY_PAN)
    with world.engine.begin() as conn:
        ConnectKeys(world.api.runtime.vault.keys).retire(
            conn, merchant_id=world.merchant, key_id=world.key.id, now=NOW, actor="test"
        )
    _refused(world, world.post(body), 400, "connect_ciphertext_invalid", "card_number")


@pytest.mark.parametrize(
    ("field", "plaintext"),
    [("card_number", "4242 4242 4242 4242"), ("expiry", "12/30"), ("security_code", "73*")],
)
def test_non_digits_in_the_plaintext_are_refused(
    world: World, field: str, plaintext: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = world.body(CANARY_PAN, CANARY_CVV, **{field: world.encrypt(plaintext)})
    response = world.post(body)
    _refused(world, response, 400, "connect_input_not_digits", field)
    assert _uses(world) == [("failure", world.key.id)]
    _no_leak(world, response, caplog=caplog)


@pytest.mark.parametrize(
    ("field", "plaintext", "code"),
    [
        ("card_number", "4242424242424241", "incorrect_number"),
        ("expiry", "1320", "invalid_expiry"),
        ("expiry", "1025", "expired_card"),
        ("security_code", "7373", "invalid_cvc"),
    ],
)
def test_card_rules_apply_to_the_decrypted_digits(
    world: World, field: str, plaintext: str, code: str
) -> None:
    body = world.body(CANARY_PAN, CANARY_CVV, **{field: world.encrypt(plaintext)})
    _refused(world, world.post(body), 402, code, field)


def test_an_amex_code_has_four_digits(world: World) -> None:
    body = world.body(AMEX, "1234")
    response = world.post(body)
    assert response.status_code == 200, response.text
    assert response.json()["brand"] == "amex"


def test_signature_wrong_expired_replayed_or_missing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    body = world.body(CANARY_PAN, CANARY_CVV)
    now = int(NOW.timestamp())
    wrong = world.post(body, secret="cnsec_not-the-merchants-secret")
    _refused(world, wrong, 401, "connect_signature_invalid", None)
    missing = world.post(body, header="")
    _refused(world, missing, 401, "connect_signature_invalid", None)
    garbled = world.post(body, header="t=abc,v1=00")
    _refused(world, garbled, 401, "connect_signature_invalid", None)
    expired = world.post(body, timestamp=now - 301)
    _refused(world, expired, 401, "connect_signature_expired", None)
    ahead = world.post(body, timestamp=now + 301)
    _refused(world, ahead, 401, "connect_signature_expired", None)
    # A body changed after signing (another merchant named, say) does not verify.
    raw = json.dumps(body).encode()
    from cardshield.phone.connect.signature import sign

    header = sign(world.secret, raw, timestamp=now)
    edited = raw + b" "  # still valid JSON, no longer what was signed
    _refused(
        world, world.post(body, header=header, raw=edited), 401, "connect_signature_invalid", None
    )
    assert _uses(world) == []  # nothing was opened for any of them
    first = world.post(body, header=header, raw=raw)
    assert first.status_code == 200, first.text
    again = world.post(body, header=header, raw=raw)
    assert again.status_code == 409 and _error(again)["code"] == "connect_request_replayed"
    assert world.card_rows() == 1  # the first one only
    _no_leak(world, wrong, expired, first, again, caplog=caplog)


def test_a_revoked_secret_no_longer_signs(world: World) -> None:
    from cardshield.phone.connect.signing_secrets import revoke_secret

    with world.engine.begin() as conn:
        revoke_secret(
            conn, merchant_id=world.merchant, secret_id=world.secret_id, now=NOW, actor="test"
        )
    _refused(world, world.post(world.body(CANARY_PAN)), 401, "connect_signature_invalid", None)


def test_another_merchants_request_is_not_verified_by_this_secret(world: World) -> None:
    body = world.body(CANARY_PAN, merchant=world.api.other_merchant)
    _refused(world, world.post(body), 401, "connect_signature_invalid", None)
    unknown = world.body(CANARY_PAN, merchant="mer_doesnotexist")
    _refused(world, world.post(unknown), 401, "connect_signature_invalid", None)


def test_unknown_instance_and_bad_contact_id(world: World) -> None:
    other = world.post(world.body(CANARY_PAN, instance_arn=OTHER_ARN))
    _refused(world, other, 403, "unknown_connect_instance", "instance_arn")
    assert _error(other)["type"] == "permission_error"
    garbage = world.post(world.body(CANARY_PAN, instance_arn="arn:aws:s3:::bucket"))
    _refused(world, garbage, 403, "unknown_connect_instance", "instance_arn")
    for contact in ("not-a-uuid", CONTACT_ID.replace("-", ""), "{" + CONTACT_ID + "}"):
        response = world.post(world.body(CANARY_PAN, contact_id=contact))
        _refused(world, response, 400, "invalid_contact_id", "contact_id")
    assert _uses(world) == []


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"card_number": None}, "parameter_missing", "card_number"),
        ({"expiry": None}, "parameter_missing", "expiry"),
        ({"reusable": "yes"}, "parameter_invalid", "reusable"),
        ({"pan": CANARY_PAN}, "parameter_unknown", "pan"),
        ({"card_number": "A" * 5000}, "parameter_invalid", "card_number"),
    ],
)
def test_malformed_bodies_are_refused_before_anything_else(
    world: World, change: dict[str, Any], code: str, param: str
) -> None:
    body = world.body(CANARY_PAN)
    for name, value in change.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    response = world.post(body)
    _refused(world, response, 400, code, param)
    assert_no_card_data(response.text)
