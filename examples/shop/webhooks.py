"""The webhook receiver: cardshield's signed events mark orders paid, failed or refunded.

The signature is checked over the raw body before anything is parsed
(:func:`cardshield.client.verify_webhook`); an event seen before is acknowledged and
skipped, since deliveries are at least once. Only the event id and type are kept.
"""

from __future__ import annotations

import logging
from typing import Any

from cardshield.client import WebhookVerificationError, verify_webhook
from examples.shop.store import Order, Store

log = logging.getLogger("shop.webhooks")


def _order_for(store: Store, payment: dict[str, Any]) -> Order | None:
    metadata = payment.get("metadata")
    order_id = metadata.get("order") if isinstance(metadata, dict) else None
    if isinstance(order_id, str):
        found = store.get(order_id)
        if found is not None:
            return found
    payment_id = payment.get("id")
    return store.by_payment(payment_id) if isinstance(payment_id, str) else None


def _apply(store: Store, event_type: str, payment: dict[str, Any]) -> str | None:
    """Move the order the event is about; returns its id (None: not one of ours)."""
    order = _order_for(store, payment)
    payment_id = payment.get("id")
    if order is None or not isinstance(payment_id, str):
        return None
    if event_type == "payment.captured":
        store.settle(order.id, payment_id=payment_id, status="paid")
    elif event_type == "payment.failed":
        store.settle(
            order.id,
            payment_id=payment_id,
            status="failed",
            decline_code=payment.get("decline_code") or "card_declined",
        )
    elif event_type == "payment.refunded":
        refunded = int(payment.get("amount_refunded") or 0)
        full = payment.get("status") == "refunded" or refunded >= order.amount
        store.settle(
            order.id,
            payment_id=payment_id,
            status="refunded" if full else "partially_refunded",
            amount_refunded=refunded,
        )
    return order.id


def receive(store: Store, secret: str, body: bytes, header: str | None) -> tuple[int, str]:
    """Handle one delivery; returns the HTTP status and a short answer."""
    try:
        event = verify_webhook(body, header, secret)
    except WebhookVerificationError as exc:
        log.warning("webhook refused: %s", exc.code)
        return 400, exc.code
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        return 400, "webhook_payload_invalid"
    if not store.first_sight(event_id, event_type, None):
        return 200, "duplicate"
    try:
        order_id = _apply(store, event_type, data) if isinstance(data, dict) else None
    except Exception:
        store.forget_event(event_id)  # let the retry try again
        raise
    log.info("webhook %s %s order=%s", event_id, event_type, order_id)
    return 200, "ok"
