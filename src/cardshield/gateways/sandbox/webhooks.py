"""The sandbox's signed webhooks: building, signing, sending and verifying them.

Scheme (the same shape as Stripe's)::

    Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

Several ``v1`` entries may appear (a secret being rotated); one matching is enough. The
receiver verifies against the raw body before parsing it, compares in constant time and
refuses timestamps more than 300 seconds from its clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from cardshield.gateways.base import WebhookSignatureError
from cardshield.gateways.sandbox.transformers import LedgerEntry

SIGNATURE_HEADER = "Sandbox-Signature"
TOLERANCE_S = 300

log = logging.getLogger(__name__)

# Event type per (operation, ledger status).
_TYPES = {
    ("authorize", "succeeded"): "charge.authorized",
    ("sale", "succeeded"): "charge.succeeded",
    ("authorize", "requires_action"): "charge.requires_action",
    ("sale", "requires_action"): "charge.requires_action",
    ("authorize", "declined"): "charge.declined",
    ("sale", "declined"): "charge.declined",
    ("verify", "succeeded"): "verification.succeeded",
    ("verify", "declined"): "verification.declined",
    ("capture", "succeeded"): "capture.succeeded",
    ("void", "succeeded"): "void.succeeded",
    ("refund", "succeeded"): "refund.succeeded",
}


def event_type(entry: LedgerEntry) -> str:
    return _TYPES.get((entry.operation, entry.status), f"{entry.operation}.{entry.status}")


def event_body(entry: LedgerEntry, *, created: int) -> bytes:
    event = {
        "id": "sbx_evt_" + secrets.token_hex(12),
        "type": event_type(entry),
        "created": created,
        "data": {"object": entry.raw() | {"idempotency_key": entry.idempotency_key}},
    }
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str | None, body: bytes, *, now: float, tolerance: int = TOLERANCE_S
) -> None:
    """Raise :class:`WebhookSignatureError` unless ``header`` signs ``body`` in time."""
    if not header:
        raise WebhookSignatureError("The Sandbox-Signature header is missing.")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookSignatureError("The Sandbox-Signature header is malformed.")
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    # Compare with every candidate (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookSignatureError("The Sandbox-Signature does not match the body.")
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureError("The Sandbox-Signature timestamp is too old.")


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookSignatureError("The webhook body is not JSON.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise WebhookSignatureError("The webhook body is not a sandbox event.")
    return event


def signed(
    entry: LedgerEntry, secret: str, *, now: int | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body of the webhook for ``entry``."""
    ts = int(time.time()) if now is None else now
    body = event_body(entry, created=ts)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, ts)}
    return headers, body


def send(url: str, headers: Mapping[str, str], body: bytes, *, timeout: float = 5.0) -> int:
    """POST one webhook; returns the HTTP status, or 0 when the receiver is unreachable."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        # urllib also opens file: and ftp: URLs; a webhook target is only ever HTTP(S).
        log.warning("sandbox webhook not sent: the URL is not http(s)")
        return 0
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        # B310 does not apply: the scheme is checked to be http(s) just above.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        log.warning("sandbox webhook to %s failed: %s", url, type(exc).__name__)
        return 0
