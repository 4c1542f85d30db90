"""The documented shapes of API answers, for ``/openapi.json``.

The routes build their answers as dicts (from the payment and vault views); these models
only describe them, through ``responses={200: {"model": ...}}``, so documenting an answer
never changes or re-validates it at run time. Every model forbids unknown fields: the
schema says exactly which fields an answer has, and the conformance tests (schemathesis)
fail if an answer carries anything else, a card number field say.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Out):
    type: str
    code: str
    message: str
    param: str | None


class ErrorOut(_Out):
    error: ErrorDetail


# Every 4xx answer of the API has the same shape; 5xx answers are not part of the contract.
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorOut,
        "description": 'The request was refused: `{"error": {"type", "code", "message", '
        '"param"}}`.',
    }
}


def ok(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose 200 answer is ``model``."""
    return {200: {"model": model}}


class PaymentCard(_Out):
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class PaymentOut(_Out):
    id: str
    object: Literal["payment"]
    amount: int
    currency: str
    status: str
    amount_authorized: int
    amount_capturable: int
    amount_captured: int
    amount_refunded: int
    capture_method: str
    card: PaymentCard | None
    token: str | None
    connector: str
    connector_reference: str | None
    decline_code: str | None
    failure_message: str | None
    next_action: dict[str, Any] | None
    return_url: str | None
    description: str | None
    metadata: dict[str, str]
    created: int


class PaymentList(_Out):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[PaymentOut]


class RefundOut(_Out):
    id: str
    object: Literal["refund"]
    payment: str
    amount: int
    currency: str
    status: str
    reason: str | None
    failure_code: str | None
    created: int


class PaymentMethodOut(_Out):
    id: str  # the same for the same card saved again: no fingerprint is handed out
    object: Literal["payment_method"]
    type: Literal["card"]
    card: PaymentCard
    created: int
    deleted: bool | None = None  # only in the answer to DELETE


class EventOut(_Out):
    id: str
    object: Literal["event"]
    type: str
    created: int
    data: dict[str, Any]


class EventList(_Out):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[EventOut]


class WebhookEndpointOut(_Out):
    id: str
    object: Literal["webhook_endpoint"]
    url: str
    enabled_events: list[str]
    status: Literal["enabled", "disabled"]
    created: int
    secret: str | None = None  # only in the answer to POST, once


class WebhookEndpointList(_Out):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[WebhookEndpointOut]


class ForwardOut(_Out):
    object: Literal["forward_response"]
    status: int
    headers: list[list[str]]
    body: str


class HealthOut(_Out):
    status: str


class ReadyOut(_Out):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
