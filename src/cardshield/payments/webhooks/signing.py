"""Signing outgoing webhooks: ``Cardshield-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``.

``v1`` is the hex HMAC-SHA256, keyed with the endpoint secret, of the ASCII timestamp, a
dot and the exact body bytes sent. During a secret rotation the header carries one ``v1``
per live secret (newest first), so receivers holding either secret accept the delivery.
Receivers verify with :func:`cardshield.client.verify_webhook`, which is written
independently of this module on purpose: the tests hold the two against each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cardshield.redaction.scrub import scrub

SIGNATURE_HEADER = "Cardshield-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 256 random bits, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets_: Sequence[str], *, timestamp: int) -> str:
    """The header value for ``payload`` signed at ``timestamp`` with every secret given."""
    if not secrets_:
        raise ValueError("at least one secret is needed to sign")
    parts = [f"t={timestamp}"] + [f"v1={signature(s, timestamp, payload)}" for s in secrets_]
    return ",".join(parts)


def event_body(*, event_id: str, type: str, created: datetime, data: Mapping[str, Any]) -> bytes:
    """The JSON body of a delivery: ``{"id", "type", "created", "data"}``.

    Event data holds tokens and masked card data only (the outbox redacts it when the
    event is written); it is redacted again here so that no code path can send a PAN.
    """
    body = {
        "id": event_id,
        "type": type,
        "created": int(created.timestamp()),
        "data": scrub(data),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode(
        "utf-8"
    )
