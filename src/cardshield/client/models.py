"""Typed views of API objects. Unknown fields are kept (``extra="allow"``) so a newer
server never breaks an older client."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Card(_Object):
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    bin: str | None = None


class Token(_Object):
    id: str
    object: str = "token"
    single_use: bool
    used: bool
    card: Card
    created: int
    expires: int | None = None


class Payment(_Object):
    id: str
    object: str = "payment"
    amount: int
    currency: str
    status: str
    amount_captured: int = 0
    amount_refunded: int = 0
    capture_method: str | None = None
    card: Card | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    next_action: dict[str, Any] | None = None
    description: str | None = None
    metadata: dict[str, Any] = {}
    created: int | None = None


class Refund(_Object):
    id: str
    object: str = "refund"
    payment: str
    amount: int
    currency: str
    status: str
    reason: str | None = None
    created: int | None = None


class PaymentMethod(_Object):
    id: str
    object: str = "payment_method"
    card: Card
    created: int | None = None


class Event(_Object):
    id: str
    object: str = "event"
    type: str
    created: int
    data: dict[str, Any]


T = TypeVar("T", bound=_Object)


class ListPage(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="allow", frozen=True)

    object: str = "list"
    data: list[T]
    has_more: bool
