"""Adyen standard webhooks: HMAC check per notification item, parsing, ``[accepted]``.

Adyen posts ``{"live": "false", "notificationItems": [{"NotificationRequestItem": {...}}]}``.
Each item carries ``additionalData.hmacSignature``: the base64 HMAC-SHA256, keyed with the
hex-decoded HMAC key of the webhook, of the item's values joined with ``:``::

    pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success

(an absent value is the empty string; ``value`` and ``currency`` come from ``amount``). See
docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures. Every
item is checked in constant time before anything is parsed; one bad item rejects the batch
(Adyen then sends it again). The receiver answers HTTP 200 with the body ``[accepted]``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError
from cardshield.gateways.adyen.transformers import REFERENCE_KEYS
from cardshield.gateways.base import GatewayStatus, InboundEvent, WebhookSignatureError
from cardshield.redaction.scrub import scrub

ACCEPTED = "[accepted]"

_SIGNED_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
)

# (eventCode, success) -> status; CANCEL_OR_REFUND is resolved from modification.action.
_EVENTS: dict[str, tuple[GatewayStatus, GatewayStatus]] = {
    "AUTHORISATION": (GatewayStatus.AUTHORIZED, GatewayStatus.DECLINED),
    "CAPTURE": (GatewayStatus.CAPTURED, GatewayStatus.FAILED),
    "CANCELLATION": (GatewayStatus.VOIDED, GatewayStatus.FAILED),
    "REFUND": (GatewayStatus.REFUNDED, GatewayStatus.FAILED),
    "TECHNICAL_CANCEL": (GatewayStatus.VOIDED, GatewayStatus.FAILED),
    "CAPTURE_FAILED": (GatewayStatus.FAILED, GatewayStatus.FAILED),
    "REFUND_FAILED": (GatewayStatus.FAILED, GatewayStatus.FAILED),
}


def acknowledge() -> tuple[int, str]:
    """What the webhook endpoint answers once the batch is stored: ``200 [accepted]``."""
    return 200, ACCEPTED


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # Adyen sends "true"/"false"; keep a JSON bool the same way
        return "true" if value else "false"
    return str(value)


def signing_payload(item: Mapping[str, Any]) -> str:
    amount = item.get("amount")
    amount = amount if isinstance(amount, Mapping) else {}
    values = {**item, "value": amount.get("value"), "currency": amount.get("currency")}
    return ":".join(_text(values.get(name)) for name in _SIGNED_FIELDS)


def _key_bytes(hmac_key: Secret[str]) -> bytes:
    try:
        return binascii.unhexlify(hmac_key.reveal())
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("The Adyen HMAC key must be hexadecimal.") from exc


def sign_item(item: Mapping[str, Any], hmac_key: Secret[str]) -> str:
    """The base64 signature Adyen computes for one NotificationRequestItem."""
    digest = hmac.new(_key_bytes(hmac_key), signing_payload(item).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def verify_item(item: Mapping[str, Any], hmac_key: Secret[str]) -> None:
    additional = item.get("additionalData")
    given = additional.get("hmacSignature") if isinstance(additional, Mapping) else None
    if not isinstance(given, str) or not given:
        raise WebhookSignatureError("An Adyen notification item has no hmacSignature.")
    expected = sign_item(item, hmac_key)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        raise WebhookSignatureError


def _status(item: Mapping[str, Any]) -> GatewayStatus | None:
    event = str(item.get("eventCode", ""))
    success = _text(item.get("success")) == "true"
    if event == "CANCEL_OR_REFUND":
        additional = item.get("additionalData")
        action = additional.get("modification.action") if isinstance(additional, Mapping) else None
        if not success:
            return GatewayStatus.FAILED
        return GatewayStatus.REFUNDED if action == "refund" else GatewayStatus.VOIDED
    pair = _EVENTS.get(event)
    if pair is None:
        return None  # chargebacks, reports, ...: kept for the operations log
    return pair[0] if success else pair[1]


def parse(body: bytes, hmac_key: Secret[str]) -> list[InboundEvent]:
    """Verify every item's signature, then turn the batch into events."""
    try:
        document = json.loads(body)
        items = [entry["NotificationRequestItem"] for entry in document["notificationItems"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookSignatureError("Not an Adyen notification batch.") from exc
    if not items or not all(isinstance(item, Mapping) for item in items):
        raise WebhookSignatureError("Not an Adyen notification batch.")
    for item in items:
        verify_item(item, hmac_key)
    events = []
    for item in items:
        # A modification names the payment in originalReference, its own id in pspReference.
        reference = item.get("originalReference") or item.get("pspReference")
        events.append(
            InboundEvent(
                connector="adyen",
                event_type=str(item.get("eventCode", "")),
                connector_reference=str(reference) if reference else None,
                status=_status(item),
                raw=scrub(item, verbatim=REFERENCE_KEYS),
            )
        )
    return events
