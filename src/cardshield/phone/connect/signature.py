"""The signature on requests from a merchant's Amazon Connect Lambda.

The same scheme as cardshield's own webhooks (:mod:`cardshield.payments.webhooks.signing`),
in the other direction::

    Cardshield-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The server holds the merchant's live signing secrets and accepts the request when any
``v1`` matches any of them (every pair compared, each in constant time, no early exit) and
``t`` is within the tolerance of now. The timestamp is checked only after a signature
matched, so an unsigned caller learns nothing but "invalid". Time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cardshield.crypto.secret import Secret
from cardshield.phone.connect.errors import ConnectSignatureExpired, ConnectSignatureInvalid

SIGNATURE_HEADER = "Cardshield-Signature"
SCHEME = "v1"
MAX_HEADER = 1024
MAX_SIGNATURES = 4


@dataclass(frozen=True, slots=True)
class Verified:
    index: int  # which of the secrets matched
    timestamp: int
    signature: str  # the matching v1 value, for the replay guard


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The header value for ``body`` signed at ``timestamp`` (what the Lambda sends)."""
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    if len(header) > MAX_HEADER:
        raise ConnectSignatureInvalid
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise ConnectSignatureInvalid
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise ConnectSignatureInvalid
            if len(value) > 12:
                raise ConnectSignatureInvalid
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures or len(signatures) > MAX_SIGNATURES:
        raise ConnectSignatureInvalid
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[Secret[str]],
    *,
    now: datetime,
    tolerance_s: int,
) -> Verified:
    """Which secret signed ``body``; ConnectSignatureInvalid or ConnectSignatureExpired."""
    if not header or not secrets:
        raise ConnectSignatureInvalid
    timestamp, candidates = _parse(header)
    offered = [c.encode("utf-8", "replace") for c in candidates]
    found: Verified | None = None
    for index, secret in enumerate(secrets):
        expected = signature(secret.reveal(), timestamp, body).encode("ascii")
        for raw, text in zip(offered, candidates, strict=True):
            if hmac.compare_digest(expected, raw) and found is None:
                found = Verified(index, timestamp, text)
    if found is None:
        raise ConnectSignatureInvalid
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise ConnectSignatureExpired
    return found
