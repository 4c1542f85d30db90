"""Square webhooks: ``x-square-hmacsha256-signature`` check, then parsing.

Square signs each notification with the subscription's signature key: the header is the
base64 HMAC-SHA256 of the notification URL (exactly as registered for the subscription)
followed by the raw request body (developer.squareup.com/docs/webhooks/step3validate). The
check runs over the raw bytes, before any parsing, and compares in constant time. Behind a
proxy the URL the application sees can differ from the registered one, so the connector's
``notification_url`` option, when set, is what gets signed.

Events used: ``payment.created`` / ``payment.updated`` (``data.object.payment``) and
``refund.created`` / ``refund.updated`` (``data.object.refund``); others are passed on
with no status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cardshield.crypto.secret import Secret
from cardshield.errors import InvalidRequestError
from cardshield.gateways.base import GatewayStatus, InboundEvent, WebhookSignatureError
from cardshield.gateways.square.transformers import PAYMENT_STATUS, REFERENCE_KEYS, REFUND_STATUS
from cardshield.redaction.scrub import scrub

SIGNATURE_HEADER = "x-square-hmacsha256-signature"


def sign(signature_key: Secret[str], notification_url: str, body: bytes) -> str:
    message = notification_url.encode("utf-8") + body
    digest = hmac.new(signature_key.reveal().encode("utf-8"), message, hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def verify(
    headers: Mapping[str, str], body: bytes, notification_url: str, signature_key: Secret[str]
) -> None:
    given = _header(headers, SIGNATURE_HEADER)
    if not given:
        raise WebhookSignatureError(f"The {SIGNATURE_HEADER} header is missing.")
    expected = sign(signature_key, notification_url, body)
    if not hmac.compare_digest(expected.encode("ascii"), given.strip().encode("utf-8", "replace")):
        raise WebhookSignatureError


def _event(document: Mapping[str, Any]) -> InboundEvent:
    event_type = str(document.get("type", ""))
    data = document.get("data")
    data = data if isinstance(data, Mapping) else {}
    obj = data.get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    status: GatewayStatus | None = None
    reference = data.get("id")
    payment, refund = obj.get("payment"), obj.get("refund")
    if isinstance(payment, Mapping):
        status = PAYMENT_STATUS.get(str(payment.get("status", "")))
        reference = payment.get("id", reference)
    elif isinstance(refund, Mapping):
        status = REFUND_STATUS.get(str(refund.get("status", "")))
        reference = refund.get("payment_id", reference)  # the payment the refund belongs to
    return InboundEvent(
        connector="square",
        event_type=event_type,
        connector_reference=str(reference) if reference else None,
        status=status,
        raw=scrub(document, verbatim=REFERENCE_KEYS),
    )


def parse(
    headers: Mapping[str, str], body: bytes, notification_url: str, signature_key: Secret[str]
) -> list[InboundEvent]:
    verify(headers, body, notification_url, signature_key)
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InvalidRequestError("A signed Square notification that is not JSON.") from exc
    if not isinstance(document, Mapping):
        raise InvalidRequestError("A signed Square notification that is not a JSON object.")
    return [_event(document)]
