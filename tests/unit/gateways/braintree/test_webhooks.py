"""Braintree webhooks: bt_signature over bt_payload (valid, tampered, wrong key, missing),
cross-checked both ways with the SDK's own signer and parser."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import braintree
import pytest

from cardshield.gateways import WebhookSignatureError
from cardshield.gateways.base import GatewayStatus
from cardshield.gateways.braintree import BraintreeConnector
from cardshield.gateways.braintree.webhooks import sign
from tests.unit.gateways.braintree.conftest import MERCHANT, PRIVATE_KEY, PUBLIC_KEY, xml

PAYLOAD = base64.encodebytes(xml("webhook_transaction_settled.xml").encode())
URL = "https://cardshield.example/hooks/braintree"


def post(signature: str | None, payload: bytes | None) -> bytes:
    fields = {}
    if signature is not None:
        fields["bt_signature"] = signature
    if payload is not None:
        fields["bt_payload"] = payload.decode("ascii")
    return urlencode(fields).encode("ascii")


def sdk_gateway(private_key: str = PRIVATE_KEY) -> braintree.BraintreeGateway:
    config = braintree.Configuration(
        braintree.Environment.Sandbox, MERCHANT, PUBLIC_KEY, private_key
    )
    return braintree.BraintreeGateway(config)


def test_a_valid_notification_is_parsed(bt: BraintreeConnector) -> None:
    events = bt.parse_webhook({}, post(sign(PUBLIC_KEY, PRIVATE_KEY, PAYLOAD), PAYLOAD), URL)

    assert len(events) == 1
    event = events[0]
    assert event.connector == "braintree"
    assert event.event_type == "transaction_settled"
    assert event.status is GatewayStatus.CAPTURED
    assert event.connector_reference == "8x2kq4vd"
    assert event.raw["timestamp"].startswith("2024-08-22T03:00:00")


def test_notifications_signed_by_the_sdk_verify(bt: BraintreeConnector) -> None:
    kind = braintree.WebhookNotification.Kind.TransactionSettled
    sample = sdk_gateway().webhook_testing.sample_notification(kind, "my_id")

    (event,) = bt.parse_webhook({}, post(sample["bt_signature"], sample["bt_payload"]), URL)

    assert event.event_type == "transaction_settled"
    assert event.connector_reference == "my_id"
    assert event.status is GatewayStatus.CAPTURED


def test_our_signature_is_what_the_sdk_accepts() -> None:
    notification = sdk_gateway().webhook_notification.parse(
        sign(PUBLIC_KEY, PRIVATE_KEY, PAYLOAD), PAYLOAD
    )
    assert notification.kind == "transaction_settled"
    with pytest.raises(braintree.exceptions.InvalidSignatureError):
        sdk_gateway().webhook_notification.parse(sign(PUBLIC_KEY, "other", PAYLOAD), PAYLOAD)


def test_tampered_payload_is_refused(bt: BraintreeConnector) -> None:
    signature = sign(PUBLIC_KEY, PRIVATE_KEY, PAYLOAD)
    swapped = b"B" if PAYLOAD[10:11] != b"B" else b"C"
    tampered = PAYLOAD[:10] + swapped + PAYLOAD[11:]
    with pytest.raises(WebhookSignatureError):
        bt.parse_webhook({}, post(signature, tampered), URL)


def test_wrong_private_key_is_refused(bt: BraintreeConnector) -> None:
    with pytest.raises(WebhookSignatureError):
        bt.parse_webhook({}, post(sign(PUBLIC_KEY, "not-our-private-key", PAYLOAD), PAYLOAD), URL)


def test_a_pair_for_another_public_key_is_ignored(bt: BraintreeConnector) -> None:
    theirs = sign("someone_else", PRIVATE_KEY, PAYLOAD)
    with pytest.raises(WebhookSignatureError):
        bt.parse_webhook({}, post(theirs, PAYLOAD), URL)
    both = f"{theirs}&{sign(PUBLIC_KEY, PRIVATE_KEY, PAYLOAD)}"
    assert bt.parse_webhook({}, post(both, PAYLOAD), URL)[0].status is GatewayStatus.CAPTURED


def test_payload_with_a_trailing_newline_is_accepted_as_the_sdk_does(
    bt: BraintreeConnector,
) -> None:
    stripped = PAYLOAD.rstrip(b"\n")
    signature = sign(PUBLIC_KEY, PRIVATE_KEY, stripped + b"\n")
    assert bt.parse_webhook({}, post(signature, stripped), URL)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        post(None, PAYLOAD),
        post(sign(PUBLIC_KEY, PRIVATE_KEY, PAYLOAD), None),
        post("", PAYLOAD),
        post(f"{PUBLIC_KEY}", PAYLOAD),
        post(sign(PUBLIC_KEY, PRIVATE_KEY, b"<xml/>"), b"<xml/>"),
        b"\xff\xfe",
    ],
    ids=[
        "empty",
        "no-signature",
        "no-payload",
        "blank-signature",
        "no-pair",
        "not-base64",
        "binary",
    ],
)
def test_missing_or_malformed_fields_are_refused(bt: BraintreeConnector, body: bytes) -> None:
    with pytest.raises(WebhookSignatureError):
        bt.parse_webhook({}, body, URL)


def test_a_settled_refund_is_reported_as_refunded(bt: BraintreeConnector) -> None:
    text = xml("webhook_transaction_settled.xml").replace(
        "<type>sale</type>", "<type>credit</type>"
    )
    payload = base64.encodebytes(text.encode())
    (event,) = bt.parse_webhook({}, post(sign(PUBLIC_KEY, PRIVATE_KEY, payload), payload), URL)
    assert event.status is GatewayStatus.REFUNDED


def test_other_kinds_carry_no_status(bt: BraintreeConnector) -> None:
    sample = sdk_gateway().webhook_testing.sample_notification(
        braintree.WebhookNotification.Kind.Check, ""
    )
    (event,) = bt.parse_webhook({}, post(sample["bt_signature"], sample["bt_payload"]), URL)
    assert event.event_type == "check"
    assert event.status is None
