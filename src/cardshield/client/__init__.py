"""The Python client for merchant backends: tokens only, never card data.

::

    from cardshield.client import Cardshield, verify_webhook

    cs = Cardshield("sk_live_...", base_url="https://vault.example")
    payment = cs.payments.create(amount=1999, currency="eur", token=token_from_browser)
    cs.refunds.create(payment=payment.id, amount=500)

:class:`AsyncCardshield` has the same resources with ``await``. Every POST carries an
``Idempotency-Key`` (generated unless given), so connection errors, 429 and 5xx answers are
retried safely. Errors are :mod:`cardshield.client.errors` classes chosen by status.
:func:`verify_webhook` checks ``Cardshield-Signature`` on incoming webhooks.
"""

from __future__ import annotations

from cardshield.client.async_ import AsyncCardshield
from cardshield.client.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CardError,
    CardshieldClientError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
)
from cardshield.client.models import Card, Event, ListPage, Payment, PaymentMethod, Refund, Token
from cardshield.client.sync import Cardshield
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
    "APIConnectionError",
    "APIError",
    "AsyncCardshield",
    "AuthenticationError",
    "Card",
    "CardError",
    "Cardshield",
    "CardshieldClientError",
    "Event",
    "IdempotencyError",
    "InvalidPayload",
    "InvalidRequestError",
    "ListPage",
    "MalformedSignatureHeader",
    "MissingSignatureHeader",
    "NoMatchingSignature",
    "Payment",
    "PaymentMethod",
    "PermissionDeniedError",
    "RateLimitError",
    "Refund",
    "TimestampOutsideTolerance",
    "Token",
    "WebhookVerificationError",
    "verify_webhook",
]
