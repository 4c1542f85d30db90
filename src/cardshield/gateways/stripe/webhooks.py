"""Stripe webhooks: the ``Stripe-Signature`` check and the event mapping.

The header is ``t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]``; each ``v1`` is
HMAC-SHA256 keyed with the endpoint secret over ``"<t>.<raw body>"``
(docs.stripe.com/webhooks#verify-manually). We accept the event when the timestamp is
within the tolerance (300 s, Stripe's default) and any ``v1`` matches any configured
secret (several during a secret roll), compared in constant time. Other schemes (``v0``,
test-mode signatures) are ignored. Verification runs on the raw bytes, before parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cardshield.errors import InvalidRequestError
from cardshield.gateways.base import GatewayStatus, InboundEvent, WebhookSignatureError
from cardshield.redaction.scrub import scrub

SCHEME = "v1"

EVENT_STATUS: dict[str, GatewayStatus] = {
    "payment_intent.amount_capturable_updated": GatewayStatus.AUTHORIZED,
    "payment_intent.succeeded": GatewayStatus.CAPTURED,
    "payment_intent.canceled": GatewayStatus.VOIDED,
    "payment_intent.payment_failed": GatewayStatus.DECLINED,
    "payment_intent.requires_action": GatewayStatus.REQUIRES_ACTION,
    "payment_intent.processing": GatewayStatus.PENDING,
    "charge.refunded": GatewayStatus.REFUNDED,
    "refund.created": GatewayStatus.PENDING,
    "refund.updated": GatewayStatus.PENDING,
    "refund.failed": GatewayStatus.FAILED,
    "setup_intent.succeeded": GatewayStatus.VERIFIED,
    "setup_intent.setup_failed": GatewayStatus.DECLINED,
}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex ``v1`` signature Stripe computes for ``body`` at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise WebhookSignatureError("Malformed Stripe-Signature timestamp.") from exc
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("Stripe-Signature has no timestamp or no v1 signature.")
    return timestamp, signatures


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_s: int = 300,
) -> None:
    """Raise :class:`WebhookSignatureError` unless ``header`` signs ``body`` recently."""
    if not secrets:
        raise WebhookSignatureError("No Stripe webhook secret is configured.")
    if not header:
        raise WebhookSignatureError("Missing Stripe-Signature header.")
    timestamp, signatures = _parse_header(header)
    if abs(now - timestamp) > tolerance_s:
        raise WebhookSignatureError("Stripe-Signature timestamp is outside the tolerance.")
    # Compare against every candidate so the time taken does not say which one matched.
    matched = False
    for secret in secrets:
        expected = sign(secret, timestamp, body)
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookSignatureError("No Stripe-Signature v1 value matches the body.")


def _reference(event_type: str, obj: Mapping[str, Any]) -> str | None:
    if event_type.startswith("charge.") or event_type.startswith("refund."):
        # Charges and refunds point back at the payment intent we know the payment by.
        intent = obj.get("payment_intent")
        if isinstance(intent, str):
            return intent
    ref = obj.get("id")
    return ref if isinstance(ref, str) else None


def parse_events(body: bytes) -> list[InboundEvent]:
    """A verified Stripe event body -> one :class:`InboundEvent`."""
    try:
        event = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError("The Stripe event body is not JSON.") from exc
    data = event.get("data") if isinstance(event, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event, dict) or not isinstance(obj, dict):
        raise InvalidRequestError("The Stripe event has no data.object.")
    event_type = str(event.get("type", ""))
    status = EVENT_STATUS.get(event_type)
    if event_type == "refund.updated" and obj.get("status") == "succeeded":
        status = GatewayStatus.REFUNDED
    return [
        InboundEvent(
            connector="stripe",
            event_type=event_type,
            connector_reference=_reference(event_type, obj),
            status=status,
            raw=scrub(event),
        )
    ]
