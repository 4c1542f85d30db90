"""``/v1/payments``, ``/v1/refunds`` and ``/v1/verifications``: charging tokens.

The merchant's server sends a token from the hosted fields (or a saved payment method) and
an amount; cardshield decrypts the card only inside the vault, for the processor call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field, model_validator

from cardshield.security.apikeys import ApiKeyInfo
from cardshield.web.deps import NowDep, RuntimeDep, SecretKey
from cardshield.web.routers._common import Body, IdempotencyKey, list_out
from cardshield.web.routers._schemas import ERRORS, PaymentList, PaymentOut, RefundOut, ok

router = APIRouter(tags=["payments"], responses=ERRORS)

Read = Annotated[ApiKeyInfo, SecretKey("payments:read")]
Write = Annotated[ApiKeyInfo, SecretKey("payments:write")]


class _CardSource(Body):
    token: str | None = Field(default=None, max_length=64, description="A tok_ from the fields.")
    payment_method: str | None = Field(
        default=None, max_length=64, description="A saved payment method (reusable token)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> _CardSource:
        if (self.token is None) == (self.payment_method is None):
            raise ValueError("give exactly one of token or payment_method")
        return self

    @property
    def source(self) -> str:
        return self.token or self.payment_method or ""


class PaymentCreate(_CardSource):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"amount": 1999, "currency": "eur", "token": "tok_3FS08uG0sg2kc0N8T3sc9F"}]
        },
    )

    amount: int = Field(description="Minor units (cents).")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")
    capture_method: str = Field(default="automatic", description="automatic or manual.")
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[str, str] | None = Field(default=None)
    return_url: str | None = Field(default=None, max_length=2000)


class AmountBody(Body):
    amount: int | None = Field(default=None, description="Minor units; default all.")


class EmptyBody(Body):
    pass


class RefundCreate(Body):
    payment: str = Field(max_length=64)
    amount: int | None = None
    reason: str | None = Field(default=None, max_length=64)


class VerificationCreate(_CardSource):
    currency: str = Field(min_length=3, max_length=3)


@router.post(
    "/v1/payments",
    response_model=None,
    responses=ok(PaymentOut),
    summary="Create a payment (authorize, or charge) from a token",
)
def create_payment(
    body: PaymentCreate, key: Write, runtime: RuntimeDep, now: NowDep, idem: IdempotencyKey = None
) -> dict[str, Any]:
    return runtime.payments.create(
        key.merchant_id,
        amount=body.amount,
        currency=body.currency,
        token=body.source,
        capture_method=body.capture_method,
        description=body.description,
        metadata=body.metadata,
        return_url=body.return_url,
        idempotency_key=idem,
        now=now,
    ).to_dict()


@router.get(
    "/v1/payments",
    response_model=None,
    responses=ok(PaymentList),
    summary="List payments, newest first",
)
def list_payments(
    key: Read,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    items, more = runtime.payments.list(
        key.merchant_id, limit=limit, starting_after=starting_after, status=status
    )
    return list_out("/v1/payments", (p.to_dict() for p in items), more)


@router.get(
    "/v1/payments/{payment_id}",
    response_model=None,
    responses=ok(PaymentOut),
    summary="Retrieve a payment",
)
def retrieve_payment(payment_id: str, key: Read, runtime: RuntimeDep) -> dict[str, Any]:
    return runtime.payments.retrieve(key.merchant_id, payment_id).to_dict()


@router.post(
    "/v1/payments/{payment_id}/capture",
    response_model=None,
    responses=ok(PaymentOut),
    summary="Capture an authorized payment",
)
def capture_payment(
    payment_id: str,
    key: Write,
    runtime: RuntimeDep,
    now: NowDep,
    body: AmountBody | None = None,
    idem: IdempotencyKey = None,
) -> dict[str, Any]:
    amount = body.amount if body else None
    return runtime.payments.capture(
        key.merchant_id, payment_id, amount=amount, idempotency_key=idem, now=now
    ).to_dict()


@router.post(
    "/v1/payments/{payment_id}/void",
    response_model=None,
    responses=ok(PaymentOut),
    summary="Void an uncaptured authorization",
)
def void_payment(
    payment_id: str,
    key: Write,
    runtime: RuntimeDep,
    now: NowDep,
    body: EmptyBody | None = None,
    idem: IdempotencyKey = None,
) -> dict[str, Any]:
    return runtime.payments.void(
        key.merchant_id, payment_id, idempotency_key=idem, now=now
    ).to_dict()


@router.post(
    "/v1/payments/{payment_id}/confirm",
    response_model=None,
    responses=ok(PaymentOut),
    summary="Finish a payment after the customer's 3-D Secure challenge",
)
def confirm_payment(
    payment_id: str, key: Write, runtime: RuntimeDep, now: NowDep, body: EmptyBody | None = None
) -> dict[str, Any]:
    return runtime.payments.complete_action(key.merchant_id, payment_id, now=now).to_dict()


@router.post(
    "/v1/refunds",
    response_model=None,
    responses=ok(RefundOut),
    summary="Refund a captured payment (all or part)",
)
def create_refund(
    body: RefundCreate, key: Write, runtime: RuntimeDep, now: NowDep, idem: IdempotencyKey = None
) -> dict[str, Any]:
    return runtime.payments.refund(
        key.merchant_id,
        body.payment,
        amount=body.amount,
        reason=body.reason,
        idempotency_key=idem,
        now=now,
    ).to_dict()


@router.get(
    "/v1/refunds/{refund_id}",
    response_model=None,
    responses=ok(RefundOut),
    summary="Retrieve a refund",
)
def retrieve_refund(refund_id: str, key: Read, runtime: RuntimeDep) -> dict[str, Any]:
    return runtime.payments.retrieve_refund(key.merchant_id, refund_id).to_dict()


@router.post(
    "/v1/verifications",
    response_model=None,
    responses=ok(PaymentOut),
    summary="Verify a card with a zero-amount authorization",
)
def create_verification(
    body: VerificationCreate,
    key: Write,
    runtime: RuntimeDep,
    now: NowDep,
    idem: IdempotencyKey = None,
) -> dict[str, Any]:
    return runtime.payments.verify(
        key.merchant_id, token=body.source, currency=body.currency, idempotency_key=idem, now=now
    ).to_dict()
