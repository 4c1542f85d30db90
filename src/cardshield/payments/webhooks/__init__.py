"""Merchant webhooks: endpoints, signing, the delivery worker and replay.

Events enter through :func:`cardshield.payments.outbox.emit_event` (same transaction as the
state change). :func:`deliver_due` / :func:`run_forever` send them, signed with
``Cardshield-Signature``; merchants check it with :func:`cardshield.client.verify_webhook`.
"""

from __future__ import annotations

from cardshield.payments.webhooks.delivery import RetryPolicy, deliver_due, run_forever
from cardshield.payments.webhooks.endpoints import (
    CreatedEndpoint,
    WebhookEndpoint,
    check_url,
    create_endpoint,
    disable_endpoint,
    get_endpoint,
    list_endpoints,
    roll_secret,
)
from cardshield.payments.webhooks.replay import replay
from cardshield.payments.webhooks.signing import SIGNATURE_HEADER, signature_header

__all__ = [
    "SIGNATURE_HEADER",
    "CreatedEndpoint",
    "RetryPolicy",
    "WebhookEndpoint",
    "check_url",
    "create_endpoint",
    "deliver_due",
    "disable_endpoint",
    "get_endpoint",
    "list_endpoints",
    "replay",
    "roll_secret",
    "run_forever",
    "signature_header",
]
