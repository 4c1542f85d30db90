"""What callers see of a payment or a refund, and its public JSON shape.

``PaymentView.to_dict()``::

    {"id": "pay_...", "object": "payment", "amount": 1050, "currency": "eur",
     "status": "authorized", "amount_authorized": 1050, "amount_capturable": 1050,
     "amount_captured": 0, "amount_refunded": 0, "capture_method": "manual",
     "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
     "token": "tok_...", "connector": "sandbox", "connector_reference": "sbx_ch_...",
     "decline_code": null, "failure_message": null,
     "next_action": null | {"type": "redirect_to_url",
                            "redirect_to_url": {"url": "...", "return_url": "..."}},
     "return_url": null, "description": null, "metadata": {}, "created": 1795000000}

Currencies are lower-case in JSON (as Stripe shows them) and upper-case ISO 4217 inside.
Amounts are integers in the currency's minor unit. ``capture_method`` is ``automatic`` or
``manual``, and ``none`` for a $0 verification. A view never holds a PAN or a CVV: the card
is brand, last 4 and expiry only; description and metadata are redacted on the way in.

``RefundView.to_dict()``::

    {"id": "re_...", "object": "refund", "payment": "pay_...", "amount": 500,
     "currency": "eur", "status": "pending" | "succeeded" | "failed", "reason": null,
     "failure_code": null, "created": 1795000000}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CardView:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class PaymentView:
    id: str
    amount: int
    currency: str  # upper-case ISO 4217
    status: str
    amount_authorized: int
    amount_captured: int
    amount_refunded: int
    capture_method: str
    card: CardView | None
    token: str | None
    connector: str
    connector_reference: str | None
    decline_code: str | None
    failure_message: str | None
    next_action: Mapping[str, Any] | None
    return_url: str | None
    description: str | None
    metadata: Mapping[str, str]
    created: datetime
    # True when this answer is the stored first response to a repeated Idempotency-Key
    # (the HTTP layer may send ``Idempotent-Replayed: true``); not part of the JSON.
    replayed: bool = field(default=False, compare=False)

    @property
    def amount_capturable(self) -> int:
        return self.amount_authorized - self.amount_captured if self.status == "authorized" else 0

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> PaymentView:
        card = None
        if row["card_last4"] is not None:
            card = CardView(
                brand=row["card_brand"],
                last4=row["card_last4"],
                exp_month=row["card_exp_month"],
                exp_year=row["card_exp_year"],
            )
        # ``payments.next_action`` holds {"return_url": ..., "action": ...}: the return URL
        # is known from the start, the action only while a challenge is open.
        stored = row["next_action"] or {}
        action = stored.get("action") if row["status"] == "requires_action" else None
        return cls(
            id=row["id"],
            amount=row["amount"],
            currency=row["currency"],
            status=row["status"],
            amount_authorized=row["amount_authorized"],
            amount_captured=row["amount_captured"],
            amount_refunded=row["amount_refunded"],
            capture_method=row["capture_method"],
            card=card,
            token=row["token"],
            connector=row["connector"],
            connector_reference=row["connector_reference"],
            decline_code=row["decline_code"],
            failure_message=row["failure_message"],
            next_action=action,
            return_url=stored.get("return_url"),
            description=row["description"],
            metadata=dict(row["metadata"] or {}),
            created=row["created_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "payment",
            "amount": self.amount,
            "currency": self.currency.lower(),
            "status": self.status,
            "amount_authorized": self.amount_authorized,
            "amount_capturable": self.amount_capturable,
            "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "capture_method": self.capture_method,
            "card": None
            if self.card is None
            else {
                "brand": self.card.brand,
                "last4": self.card.last4,
                "exp_month": self.card.exp_month,
                "exp_year": self.card.exp_year,
            },
            "token": self.token,
            "connector": self.connector,
            "connector_reference": self.connector_reference,
            "decline_code": self.decline_code,
            "failure_message": self.failure_message,
            "next_action": None if self.next_action is None else dict(self.next_action),
            "return_url": self.return_url,
            "description": self.description,
            "metadata": dict(self.metadata),
            "created": int(self.created.timestamp()),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, replayed: bool = False) -> PaymentView:
        """The inverse of :meth:`to_dict` (for replaying a stored response)."""
        card = data.get("card")
        return cls(
            id=data["id"],
            amount=data["amount"],
            currency=str(data["currency"]).upper(),
            status=data["status"],
            amount_authorized=data["amount_authorized"],
            amount_captured=data["amount_captured"],
            amount_refunded=data["amount_refunded"],
            capture_method=data["capture_method"],
            card=None if card is None else CardView(**card),
            token=data.get("token"),
            connector=data["connector"],
            connector_reference=data.get("connector_reference"),
            decline_code=data.get("decline_code"),
            failure_message=data.get("failure_message"),
            next_action=data.get("next_action"),
            return_url=data.get("return_url"),
            description=data.get("description"),
            metadata=dict(data.get("metadata") or {}),
            created=datetime.fromtimestamp(data["created"], UTC),
            replayed=replayed,
        )


@dataclass(frozen=True, slots=True)
class RefundView:
    id: str
    payment: str
    amount: int
    currency: str
    status: str
    reason: str | None
    failure_code: str | None
    created: datetime
    replayed: bool = field(default=False, compare=False)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], failure_code: str | None = None) -> RefundView:
        return cls(
            id=row["id"],
            payment=row["payment_id"],
            amount=row["amount"],
            currency=row["currency"],
            status=row["status"],
            reason=row["reason"],
            failure_code=failure_code,
            created=row["created_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "refund",
            "payment": self.payment,
            "amount": self.amount,
            "currency": self.currency.lower(),
            "status": self.status,
            "reason": self.reason,
            "failure_code": self.failure_code,
            "created": int(self.created.timestamp()),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, replayed: bool = False) -> RefundView:
        return cls(
            id=data["id"],
            payment=data["payment"],
            amount=data["amount"],
            currency=str(data["currency"]).upper(),
            status=data["status"],
            reason=data.get("reason"),
            failure_code=data.get("failure_code"),
            created=datetime.fromtimestamp(data["created"], UTC),
            replayed=replayed,
        )
