"""verify_webhook against the server's signer, a known answer, and every way to get it wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardshield.client import (
    InvalidPayload,
    MalformedSignatureHeader,
    MissingSignatureHeader,
    NoMatchingSignature,
    TimestampOutsideTolerance,
    WebhookVerificationError,
    verify_webhook,
)
from cardshield.payments.webhooks.signing import event_body, new_secret, signature_header

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
SECRET = "whsec_test_secret"
BODY = event_body(
    event_id="evt_1", type="payment.captured", created=NOW, data={"id": "pay_1", "amount": 1000}
)


def _header(body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,), ts: int = TS) -> str:
    return signature_header(body, list(secrets), timestamp=ts)


def test_known_answer_from_openssl() -> None:
    # printf '%s' '1700000000.{...}' | openssl dgst -sha256 -hmac whsec_test_secret
    body = b'{"id":"evt_1","type":"payment.captured"}'
    header = "t=1700000000,v1=bb64d8d91831f9983f31c6d5586a6ac0f0931144f37c7d7a2bfcee01a589a6fa"
    assert signature_header(body, [SECRET], timestamp=1700000000) == header
    event = verify_webhook(body, header, SECRET, now=1700000000 + 299)
    assert event == {"id": "evt_1", "type": "payment.captured"}


def test_valid_signature_returns_the_event() -> None:
    event = verify_webhook(BODY, _header(), SECRET, now=NOW)
    assert event == {
        "id": "evt_1",
        "type": "payment.captured",
        "created": TS,
        "data": {"id": "pay_1", "amount": 1000},
    }


def test_tampered_body() -> None:
    tampered = BODY.replace(b"1000", b"9000")
    assert tampered != BODY
    with pytest.raises(NoMatchingSignature):
        verify_webhook(tampered, _header(), SECRET, now=NOW)


def test_wrong_secret() -> None:
    with pytest.raises(NoMatchingSignature) as err:
        verify_webhook(BODY, _header(), new_secret(), now=NOW)
    assert err.value.code == "signature_mismatch" and err.value.http_status == 400


def test_changed_timestamp_breaks_the_signature() -> None:
    header = _header().replace(f"t={TS}", f"t={TS + 1}")
    with pytest.raises(NoMatchingSignature):
        verify_webhook(BODY, header, SECRET, now=NOW)


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_stale_or_future_timestamp(age: int) -> None:
    with pytest.raises(TimestampOutsideTolerance):
        verify_webhook(BODY, _header(), SECRET, now=NOW + timedelta(seconds=age))


def test_tolerance_edges_and_options() -> None:
    verify_webhook(BODY, _header(), SECRET, now=NOW + timedelta(seconds=300))
    verify_webhook(BODY, _header(), SECRET, now=float(TS - 300))
    with pytest.raises(TimestampOutsideTolerance):
        verify_webhook(BODY, _header(), SECRET, now=NOW + timedelta(seconds=11), tolerance=10)
    verify_webhook(BODY, _header(), SECRET, now=NOW + timedelta(days=9), tolerance=None)


def test_default_now_is_the_current_time() -> None:
    fresh = signature_header(BODY, [SECRET], timestamp=int(datetime.now(UTC).timestamp()))
    verify_webhook(BODY, fresh, SECRET)
    with pytest.raises(TimestampOutsideTolerance):
        verify_webhook(BODY, _header(ts=TS - 10_000_000), SECRET)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(MissingSignatureHeader):
        verify_webhook(BODY, header, SECRET, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "v1=abc",  # no timestamp
        f"t={TS}",  # no signature
        f"t={TS},v0=abc",  # only an unknown scheme
        f"t=abc,v1={'0' * 64}",
        f"t=-5,v1={'0' * 64}",
        f"t={TS},t={TS},v1={'0' * 64}",
        f"t={TS},,v1={'0' * 64}",
        f"t=١٢٣,v1={'0' * 64}",  # non-ASCII digits
    ],
)
def test_garbled_header(header: str) -> None:
    with pytest.raises(MalformedSignatureHeader):
        verify_webhook(BODY, header, SECRET, now=NOW)


def test_rotated_secrets_either_one_verifies() -> None:
    old, new = new_secret(), new_secret()
    header = _header(secrets=(new, old))
    assert header.count("v1=") == 2
    for secret in (old, new):
        assert verify_webhook(BODY, header, secret, now=NOW)["id"] == "evt_1"
    with pytest.raises(NoMatchingSignature):
        verify_webhook(BODY, header, new_secret(), now=NOW)


def test_unknown_schemes_and_spaces_are_tolerated() -> None:
    header = f"t={TS}, v0=deadbeef, " + _header().split(",", 1)[1]
    assert verify_webhook(BODY, header, SECRET, now=NOW)["type"] == "payment.captured"


def test_signed_non_object_payload_is_refused() -> None:
    for body in (b"[1, 2]", b"not json", b"\xff\xfe"):
        with pytest.raises(InvalidPayload):
            verify_webhook(body, _header(body=body), SECRET, now=NOW)


def test_errors_share_one_base_with_public_codes() -> None:
    codes = set()
    for cls in (
        MissingSignatureHeader,
        MalformedSignatureHeader,
        NoMatchingSignature,
        TimestampOutsideTolerance,
        InvalidPayload,
    ):
        assert issubclass(cls, WebhookVerificationError)
        codes.add(cls().to_dict()["error"]["code"])
    assert len(codes) == 5
