"""Braintree webhooks: ``bt_signature`` / ``bt_payload`` verification and parsing.

Braintree POSTs ``application/x-www-form-urlencoded`` with two fields
(developer.paypal.com/braintree/docs/guides/webhooks/parse):

* ``bt_payload``: the notification XML, base64-encoded (newlines allowed);
* ``bt_signature``: ``public_key|hex`` pairs joined by ``&``, where hex is HMAC-SHA1 over
  the payload keyed with SHA-1(private key) - the scheme of the SDK's
  ``WebhookNotification.parse``, which also accepts the payload with a trailing newline.

We take the pair for our public key, compare in constant time, and only then decode and
parse the XML. The signature carries no timestamp, so there is no freshness window; the
notification's own ``timestamp`` is kept in ``raw`` for the payment service to judge.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.parsers.expat import ExpatError

from braintree.util.xml_util import XmlUtil  # type: ignore[import-untyped]

from cardshield.errors import InvalidRequestError
from cardshield.gateways.base import GatewayStatus, InboundEvent, WebhookSignatureError
from cardshield.redaction.scrub import scrub

_PAYLOAD = re.compile(rb"^[A-Za-z0-9+/=\n]+$")

KIND_STATUS: dict[str, GatewayStatus] = {
    "transaction_settled": GatewayStatus.CAPTURED,
    "transaction_settlement_declined": GatewayStatus.FAILED,
}


def _hmac_key(private_key: str) -> bytes:
    # B324 does not apply: Braintree's published scheme takes the SHA-1 of the private key as
    # the HMAC key; not a choice of ours, and HMAC-SHA1 is not broken by SHA-1 collisions.
    return hashlib.sha1(private_key.encode("utf-8")).digest()  # noqa: S324  # nosec B324


def sign(public_key: str, private_key: str, payload: bytes) -> str:
    """The ``bt_signature`` Braintree sends for ``payload`` (one pair)."""
    key = _hmac_key(private_key)
    return f"{public_key}|{hmac.new(key, payload, hashlib.sha1).hexdigest()}"


def verify(signature: str | None, payload: bytes | None, public_key: str, private_key: str) -> None:
    """Raise :class:`WebhookSignatureError` unless ``signature`` signs ``payload`` for us."""
    if not signature or not payload:
        raise WebhookSignatureError("Missing bt_signature or bt_payload.")
    if not _PAYLOAD.match(payload):
        raise WebhookSignatureError("bt_payload is not base64.")
    ours = [
        sig
        for key, sep, sig in (p.partition("|") for p in signature.split("&"))
        if sep and key == public_key
    ]
    if not ours:
        raise WebhookSignatureError("bt_signature has no pair for our public key.")
    key = _hmac_key(private_key)
    expected = [
        hmac.new(key, candidate, hashlib.sha1).hexdigest()
        for candidate in (payload, payload + b"\n")
    ]
    matched = False
    for sig in ours:
        for value in expected:
            matched |= hmac.compare_digest(value, sig)
    if not matched:
        raise WebhookSignatureError("bt_signature does not match bt_payload.")


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def parse_notification(body: bytes, public_key: str, private_key: str) -> list[InboundEvent]:
    """Verify a webhook POST body and return its one notification as an event."""
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise WebhookSignatureError("The webhook body is not a form.") from exc
    signature, payload_text = _field(form, "bt_signature"), _field(form, "bt_payload")
    payload = payload_text.encode("ascii") if payload_text is not None else None
    verify(signature, payload, public_key, private_key)
    assert payload is not None
    try:
        parsed = XmlUtil.dict_from_xml(base64.decodebytes(payload))
    except (binascii.Error, ValueError, ExpatError) as exc:
        raise InvalidRequestError("bt_payload is not a Braintree notification.") from exc
    notification = _jsonable(parsed.get("notification") or {})
    kind = str(notification.get("kind", ""))
    subject = notification.get("subject") or {}
    txn = subject.get("transaction") if isinstance(subject, dict) else None
    status = KIND_STATUS.get(kind)
    if status is GatewayStatus.CAPTURED and isinstance(txn, dict) and txn.get("type") == "credit":
        status = GatewayStatus.REFUNDED
    return [
        InboundEvent(
            connector="braintree",
            event_type=kind,
            connector_reference=str(txn["id"]) if isinstance(txn, dict) and txn.get("id") else None,
            status=status,
            raw=scrub(notification),
        )
    ]
