"""Check the signature of a webhook cardshield sent to your backend.

cardshield signs every webhook delivery with the endpoint's secret (``whsec_...``)::

    Cardshield-Signature: t=1700000000,v1=5257a869e7ec...(64 hex digits)

``v1`` is the hex HMAC-SHA256 of ``f"{t}.{raw body}"`` under the secret. While a secret is
being rotated the header carries one ``v1`` per valid secret; any one matching is enough.
Unknown schemes (``v0=...``) are ignored, so new ones can be added without breaking you.

Verify against the raw request body, before parsing it::

    event = verify_webhook(request.body, request.headers["Cardshield-Signature"], secret)

This module needs only the standard library, so a merchant backend can copy or vendor it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from cardshield.errors import CardshieldError

SIGNATURE_HEADER = "Cardshield-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(CardshieldError):
    """The webhook is not proven to come from cardshield: do not act on it (answer 400)."""

    type = "invalid_request_error"
    code = "webhook_verification_failed"
    http_status = 400
    default_message = "The webhook could not be verified."


class MissingSignatureHeader(WebhookVerificationError):
    code = "signature_header_missing"
    default_message = "The Cardshield-Signature header is missing."


class MalformedSignatureHeader(WebhookVerificationError):
    code = "signature_header_malformed"
    default_message = "The Cardshield-Signature header is not t=<unix>,v1=<hex>[,v1=<hex>]."


class NoMatchingSignature(WebhookVerificationError):
    code = "signature_mismatch"
    default_message = "No signature in the header matches the payload and secret."


class TimestampOutsideTolerance(WebhookVerificationError):
    code = "signature_timestamp_outside_tolerance"
    default_message = "The signature timestamp is outside the tolerance (a replay?)."


class InvalidPayload(WebhookVerificationError):
    code = "webhook_payload_invalid"
    default_message = "The signed payload is not a JSON object."


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise MalformedSignatureHeader
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise MalformedSignatureHeader
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise MalformedSignatureHeader
    return timestamp, signatures


def _expected(secret: str, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _unix(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return now.timestamp()
    return float(now)


def verify_webhook(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int | None = DEFAULT_TOLERANCE,
    now: datetime | float | None = None,
) -> dict[str, Any]:
    """Verify a delivery and return the event (``{"id", "type", "created", "data"}``).

    Raises a :class:`WebhookVerificationError` subclass naming what is wrong: the header is
    missing, garbled, no ``v1`` signature matches, or the timestamp is more than
    ``tolerance`` seconds away from ``now`` (default: the current time; ``None`` skips the
    check, for replaying stored deliveries in tests). Signatures are compared in constant
    time.
    """
    if not header or not header.strip():
        raise MissingSignatureHeader
    timestamp, signatures = _parse(header)
    expected = _expected(secret, timestamp, payload).encode("ascii")
    # Compare against every candidate (no early exit), each in constant time.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise NoMatchingSignature
    if tolerance is not None and abs(_unix(now) - timestamp) > tolerance:
        raise TimestampOutsideTolerance
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayload from exc
    if not isinstance(event, dict):
        raise InvalidPayload
    return event
