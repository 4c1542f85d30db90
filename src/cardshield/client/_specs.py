"""What each API call is, independent of how it is sent (sync or async).

A :class:`Spec` names the method, path, body and the model the answer parses into; the
sync and async clients only differ in how they run one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from cardshield.client.models import Event, ListPage, Payment, PaymentMethod, Refund, Token

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Spec(Generic[M]):
    method: str
    path: str
    model: type[M]
    body: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _list_params(limit: int | None, starting_after: str | None, **more: Any) -> dict[str, Any]:
    return _clean({"limit": limit, "starting_after": starting_after, **more})


def payment_create(
    *,
    amount: int,
    currency: str,
    token: str | None = None,
    payment_method: str | None = None,
    capture_method: str = "automatic",
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
    return_url: str | None = None,
    idempotency_key: str | None = None,
) -> Spec[Payment]:
    body = _clean(
        {
            "amount": amount,
            "currency": currency,
            "token": token,
            "payment_method": payment_method,
            "capture_method": capture_method,
            "description": description,
            "metadata": dict(metadata) if metadata else None,
            "return_url": return_url,
        }
    )
    return Spec("POST", "/v1/payments", Payment, body, idempotency_key=idempotency_key)


def payment_retrieve(payment_id: str) -> Spec[Payment]:
    return Spec("GET", f"/v1/payments/{payment_id}", Payment)


def payment_list(
    *, limit: int | None = None, starting_after: str | None = None, status: str | None = None
) -> Spec[ListPage[Payment]]:
    params = _list_params(limit, starting_after, status=status)
    return Spec("GET", "/v1/payments", ListPage[Payment], params=params)


def payment_action(
    payment_id: str, action: str, *, amount: int | None = None, idempotency_key: str | None = None
) -> Spec[Payment]:
    body = _clean({"amount": amount})
    path = f"/v1/payments/{payment_id}/{action}"
    return Spec("POST", path, Payment, body, idempotency_key=idempotency_key)


def refund_create(
    *,
    payment: str,
    amount: int | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Spec[Refund]:
    body = _clean({"payment": payment, "amount": amount, "reason": reason})
    return Spec("POST", "/v1/refunds", Refund, body, idempotency_key=idempotency_key)


def refund_retrieve(refund_id: str) -> Spec[Refund]:
    return Spec("GET", f"/v1/refunds/{refund_id}", Refund)


def verification_create(
    *,
    currency: str,
    token: str | None = None,
    payment_method: str | None = None,
    idempotency_key: str | None = None,
) -> Spec[Payment]:
    body = _clean({"currency": currency, "token": token, "payment_method": payment_method})
    return Spec("POST", "/v1/verifications", Payment, body, idempotency_key=idempotency_key)


def payment_method_create(*, token: str, idempotency_key: str | None = None) -> Spec[PaymentMethod]:
    return Spec(
        "POST",
        "/v1/payment_methods",
        PaymentMethod,
        {"token": token},
        idempotency_key=idempotency_key,
    )


def payment_method_retrieve(pm_id: str) -> Spec[PaymentMethod]:
    return Spec("GET", f"/v1/payment_methods/{pm_id}", PaymentMethod)


def payment_method_delete(pm_id: str) -> Spec[PaymentMethod]:
    return Spec("DELETE", f"/v1/payment_methods/{pm_id}", PaymentMethod)


def token_retrieve(token_id: str) -> Spec[Token]:
    return Spec("GET", f"/v1/tokens/{token_id}", Token)


def event_retrieve(event_id: str) -> Spec[Event]:
    return Spec("GET", f"/v1/events/{event_id}", Event)


def event_list(
    *, limit: int | None = None, starting_after: str | None = None, type: str | None = None
) -> Spec[ListPage[Event]]:
    return Spec(
        "GET", "/v1/events", ListPage[Event], params=_list_params(limit, starting_after, type=type)
    )
