"""Charging an order: the token from the browser goes to cardshield with the secret key.

The shop's server is the only place that holds the secret key. It creates the payment with
an idempotency key made of the order and the token (a double submit of the same token is
answered with the first result; a new card after a decline is a new attempt), and turns
the answer into what the browser needs: go to the order page, go to the 3-D Secure
challenge, or show the decline next to the fields.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from cardshield.client import Cardshield, CardshieldClientError, Payment
from examples.shop.store import Order, Store

log = logging.getLogger("shop.checkout")

TOKEN = re.compile(r"tok_[0-9A-Za-z]{8,60}")

# Payment status -> order status while the outcome is not yet confirmed by a webhook.
ORDER_STATUS = {
    "captured": "processing",
    "authorized": "processing",
    "requires_action": "requires_action",
    "failed": "failed",
}


@dataclass(frozen=True)
class Outcome:
    """What the browser is told: where to go next, or why the card was not charged."""

    status_code: int
    body: dict[str, Any]


def _decline(code: str | None, message: str | None) -> Outcome:
    return Outcome(
        402,
        {
            "error": "card_declined",
            "decline_code": code or "card_declined",
            "message": message or "Your card was declined. Try another card.",
        },
    )


def pay(client: Cardshield, store: Store, order: Order, token: str, *, return_url: str) -> Outcome:
    if not TOKEN.fullmatch(token):
        return Outcome(400, {"error": "invalid_token", "message": "The card token is invalid."})
    if not order.payable:
        return Outcome(
            409, {"error": "order_not_payable", "message": f"This order is {order.status}."}
        )
    try:
        payment = client.payments.create(
            amount=order.amount,
            currency=order.currency,
            token=token,
            description=f"Order {order.id}",
            metadata={"order": order.id},
            return_url=return_url,
            idempotency_key=f"shop_{order.id}_{token}",
        )
    except CardshieldClientError as exc:
        # The token was refused (used, expired, another merchant's) or cardshield is down:
        # nothing was charged. The code is safe to show; the message stays generic.
        code = exc.code or "payment_error"
        log.warning("payment refused order=%s code=%s status=%s", order.id, code, exc.status)
        store.record_attempt(
            order.id,
            token=token,
            payment_id=None,
            payment_status="error",
            order_status="failed",
            decline_code=code,
        )
        return Outcome(
            402 if exc.status in (400, 402, 404) else 502,
            {"error": code, "message": "The payment could not be made. Please try again."},
        )
    return _after_payment(store, order, token, payment)


def _after_payment(store: Store, order: Order, token: str, payment: Payment) -> Outcome:
    order_status = ORDER_STATUS.get(payment.status, "failed")
    log.info(
        "payment order=%s payment=%s status=%s decline=%s",
        order.id,
        payment.id,
        payment.status,
        payment.decline_code,
    )
    store.record_attempt(
        order.id,
        token=token,
        payment_id=payment.id,
        payment_status=payment.status,
        order_status=order_status,
        decline_code=payment.decline_code,
    )
    if payment.status == "requires_action":
        url = (payment.next_action or {}).get("redirect_to_url", {}).get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return Outcome(200, {"status": "requires_action", "redirect": url})
        return _decline("authentication_required", None)
    if order_status == "failed":
        return _decline(payment.decline_code, payment.failure_message)
    return Outcome(200, {"status": payment.status, "redirect": f"/orders/{order.id}"})


def finish_challenge(client: Cardshield, store: Store, order: Order) -> str:
    """Back from 3-D Secure: ask cardshield for the outcome; returns the order status."""
    if order.status != "requires_action" or order.payment_id is None or order.token is None:
        return order.status
    try:
        payment = client.payments.confirm(order.payment_id)
    except CardshieldClientError as exc:
        log.warning("confirm failed order=%s code=%s", order.id, exc.code)
        return order.status
    _after_payment(store, order, order.token, payment)
    current = store.get(order.id)
    return current.status if current else order.status


def refund(client: Cardshield, order: Order) -> str | None:
    """Ask for a full refund; the webhook marks the order refunded. Returns an error code."""
    if order.status != "paid" or order.payment_id is None:
        return "order_not_refundable"
    try:
        client.refunds.create(payment=order.payment_id, idempotency_key=f"shop_refund_{order.id}")
    except CardshieldClientError as exc:
        log.warning("refund failed order=%s code=%s", order.id, exc.code)
        return exc.code or "refund_failed"
    return None
