"""Square webhooks: the documented signature, tampering, wrong key, missing header, parsing."""

from __future__ import annotations

import json

import pytest

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError, InvalidRequestError
from cardshield.gateways.base import GatewayStatus, WebhookSignatureError
from cardshield.gateways.square import SquareConnector, build
from cardshield.gateways.square.webhooks import sign
from tests.unit.gateways.square.conftest import OPTIONS, PAYMENT_ID, vectors

W = vectors("webhooks")
DOC = W["documented"]
URL = DOC["notification_url"]
HEADER = "x-square-hmacsha256-signature"


def _signed(
    document: object, key: str = OPTIONS["signature_key"], url: str = URL
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(document).encode()
    return {"X-Square-HmacSha256-Signature": sign(Secret(key), url, body)}, body


def test_documented_signature_verifies(square: SquareConnector) -> None:
    [event] = square.parse_webhook({HEADER: DOC["signature"]}, DOC["body"].encode(), URL)
    assert event.connector == "square"
    assert event.event_type == "webhooks.test_notification"
    assert event.status is None
    assert event.connector_reference == "bc368e64-01aa-407e-b46e-3231809b1129"


def test_payment_and_refund_events_map_to_statuses(square: SquareConnector) -> None:
    [payment] = square.parse_webhook(*_signed(W["payment_updated"]), URL)
    assert payment.event_type == "payment.updated"
    assert payment.connector_reference == PAYMENT_ID
    assert payment.status is GatewayStatus.CAPTURED
    [refund] = square.parse_webhook(*_signed(W["refund_updated"]), URL)
    assert refund.connector_reference == PAYMENT_ID  # the payment the refund belongs to
    assert refund.status is GatewayStatus.REFUNDED
    assert refund.raw["data"]["object"]["refund"]["status"] == "COMPLETED"


def test_tampered_body_is_rejected(square: SquareConnector) -> None:
    tampered = DOC["body"].replace("2022-07-13", "2022-06-13").encode()
    with pytest.raises(WebhookSignatureError):
        square.parse_webhook({HEADER: DOC["signature"]}, tampered, URL)


def test_reformatted_body_is_rejected(square: SquareConnector) -> None:
    # Same JSON, different bytes: the signature covers the raw body, not the parsed value.
    pretty = json.dumps(json.loads(DOC["body"]), indent=2).encode()
    with pytest.raises(WebhookSignatureError):
        square.parse_webhook({HEADER: DOC["signature"]}, pretty, URL)


def test_wrong_key_is_rejected() -> None:
    other = build({**OPTIONS, "signature_key": "MCmhFRxGX82xMwg5FsaoQA"})
    with pytest.raises(WebhookSignatureError):
        other.parse_webhook({HEADER: DOC["signature"]}, DOC["body"].encode(), URL)
    other.close()


def test_url_is_part_of_the_signature(square: SquareConnector) -> None:
    with pytest.raises(WebhookSignatureError):
        square.parse_webhook({HEADER: DOC["signature"]}, DOC["body"].encode(), URL + "x")


def test_configured_notification_url_wins_over_the_seen_one() -> None:
    behind_proxy = build({**OPTIONS, "notification_url": URL})
    events = behind_proxy.parse_webhook(
        {HEADER: DOC["signature"]}, DOC["body"].encode(), "http://10.0.0.5:8080/hooks/square"
    )
    assert len(events) == 1
    behind_proxy.close()


def test_missing_signature_is_rejected(square: SquareConnector) -> None:
    with pytest.raises(WebhookSignatureError, match="missing"):
        square.parse_webhook({}, DOC["body"].encode(), URL)


def test_signed_garbage_is_an_invalid_request(square: SquareConnector) -> None:
    body = b"not json"
    headers = {HEADER: sign(Secret(OPTIONS["signature_key"]), URL, body)}
    with pytest.raises(InvalidRequestError):
        square.parse_webhook(headers, body, URL)


def test_webhooks_need_the_signature_key() -> None:
    connector = build({k: v for k, v in OPTIONS.items() if k != "signature_key"})
    with pytest.raises(ConfigError, match="signature_key"):
        connector.parse_webhook({HEADER: DOC["signature"]}, DOC["body"].encode(), URL)
    connector.close()
