"""The Python client for merchant backends: tokens only, never card data.

For now it holds the webhook signature check (:func:`verify_webhook`).
"""

from __future__ import annotations

from cardshield.client.webhooks import (
    SIGNATURE_HEADER,
    InvalidPayload,
    MalformedSignatureHeader,
    MissingSignatureHeader,
    NoMatchingSignature,
    TimestampOutsideTolerance,
    WebhookVerificationError,
    verify_webhook,
)

__all__ = [
    "SIGNATURE_HEADER",
    "InvalidPayload",
    "MalformedSignatureHeader",
    "MissingSignatureHeader",
    "NoMatchingSignature",
    "TimestampOutsideTolerance",
    "WebhookVerificationError",
    "verify_webhook",
]
