"""Adyen standard webhooks: the documented HMAC, per-item verification, parsing, [accepted]."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError
from cardshield.gateways.adyen import ACCEPTED, AdyenConnector, build
from cardshield.gateways.adyen.webhooks import sign_item, signing_payload
from cardshield.gateways.base import WebhookSignatureError
from tests.unit.gateways.adyen.conftest import OPTIONS, vectors

NOTES = vectors("notifications")
KEY = OPTIONS["hmac_key"]
URL = "https://cardshield.example/webhooks/adyen"


def _batch(items: list[dict[str, Any]], key: str = KEY) -> bytes:
    signed = []
    for item in items:
        item = copy.deepcopy(item)
        item.setdefault("additionalData", {})["hmacSignature"] = sign_item(item, Secret(key))
        signed.append({"NotificationRequestItem": item})
    return json.dumps({"live": "false", "notificationItems": signed}).encode()


def test_documented_example_signature_is_reproduced() -> None:
    documented = NOTES["documented"]
    item = documented["item"]
    assert signing_payload(item) == (
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
    )
    assert (
        sign_item(item, Secret(documented["hmac_key"])) == item["additionalData"]["hmacSignature"]
    )


def test_documented_notification_verifies_and_parses(adyen: AdyenConnector) -> None:
    body = json.dumps(
        {
            "live": "false",
            "notificationItems": [{"NotificationRequestItem": NOTES["documented"]["item"]}],
        }
    ).encode()
    [event] = adyen.parse_webhook({}, body, URL)
    assert event.connector == "adyen"
    assert event.event_type == "AUTHORISATION"
    assert event.connector_reference == "7914073381342284"
    assert event.status is not None and event.status.value == "authorized"


def test_batch_maps_each_event(adyen: AdyenConnector) -> None:
    events = adyen.parse_webhook({}, _batch(NOTES["batch_items"]), URL)
    got = [
        {
            "event_type": e.event_type,
            "connector_reference": e.connector_reference,
            "status": e.status.value if e.status else None,
        }
        for e in events
    ]
    assert got == NOTES["expected"]


def test_tampered_body_is_rejected(adyen: AdyenConnector) -> None:
    body = _batch(NOTES["batch_items"][:2])
    tampered = body.replace(b'"value": 600', b'"value": 60000')
    assert tampered != body
    with pytest.raises(WebhookSignatureError):
        adyen.parse_webhook({}, tampered, URL)


def test_one_bad_item_rejects_the_whole_batch(adyen: AdyenConnector) -> None:
    document = json.loads(_batch(NOTES["batch_items"]))
    document["notificationItems"][3]["NotificationRequestItem"]["success"] = "false"
    with pytest.raises(WebhookSignatureError):
        adyen.parse_webhook({}, json.dumps(document).encode(), URL)


def test_wrong_key_is_rejected(adyen: AdyenConnector) -> None:
    other_key = "00" * 32
    with pytest.raises(WebhookSignatureError):
        adyen.parse_webhook({}, _batch(NOTES["batch_items"], key=other_key), URL)


def test_missing_signature_is_rejected(adyen: AdyenConnector) -> None:
    item = copy.deepcopy(NOTES["batch_items"][0])
    item["additionalData"].pop("hmacSignature", None)
    body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]})
    with pytest.raises(WebhookSignatureError, match="no hmacSignature"):
        adyen.parse_webhook({}, body.encode(), URL)


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"notificationItems": []}', b"[1, 2]"])
def test_malformed_batches_are_rejected(adyen: AdyenConnector, body: bytes) -> None:
    with pytest.raises(WebhookSignatureError):
        adyen.parse_webhook({}, body, URL)


def test_receiver_answer_is_accepted() -> None:
    assert ACCEPTED == "[accepted]"
    assert AdyenConnector.acknowledge() == (200, "[accepted]")


def test_webhooks_need_the_hmac_key() -> None:
    connector = build({k: v for k, v in OPTIONS.items() if k != "hmac_key"})
    with pytest.raises(ConfigError, match="hmac_key"):
        connector.parse_webhook({}, _batch(NOTES["batch_items"]), URL)
    connector.close()
    bad = build({**OPTIONS, "hmac_key": "not-hex"})
    with pytest.raises(ConfigError, match="hexadecimal"):
        bad.parse_webhook({}, _batch(NOTES["batch_items"][:1]), URL)
    bad.close()
