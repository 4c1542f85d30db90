"""``/v1/payment_methods``: saved (reusable) cards, made from a single-use token.

Saving the same card again (same number and expiry) gives the same payment method: that
is how a merchant tells whether two cards are one, compared here rather than by handing
out the card's fingerprint, which would let it test candidate numbers offline.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from cardshield.security.apikeys import ApiKeyInfo
from cardshield.vault import CardRecord
from cardshield.vault.errors import TokenNotFound
from cardshield.web.deps import NowDep, RuntimeDep, SecretKey
from cardshield.web.routers._common import Body
from cardshield.web.routers._schemas import ERRORS, PaymentMethodOut, ok

router = APIRouter(prefix="/v1/payment_methods", tags=["payment_methods"], responses=ERRORS)


class PaymentMethodCreate(Body):
    token: str = Field(max_length=64, description="A single-use tok_ from the hosted fields.")


def payment_method_out(rec: CardRecord) -> dict[str, Any]:
    return {
        "id": rec.token,
        "object": "payment_method",
        "type": "card",
        "card": {
            "brand": rec.brand,
            "last4": rec.last4,
            "exp_month": rec.exp_month,
            "exp_year": rec.exp_year,
        },
        "created": int(rec.created_at.timestamp()),
    }


def _saved(runtime: Any, merchant_id: str, pm_id: str) -> CardRecord:
    rec: CardRecord = runtime.vault.retrieve(merchant_id, pm_id)
    if rec.single_use:
        raise TokenNotFound(param="payment_method")  # a token, not a saved card
    return rec


@router.post(
    "",
    response_model=None,
    responses=ok(PaymentMethodOut),
    summary="Save a card for later payments",
)
def create_payment_method(
    body: PaymentMethodCreate,
    # A write: it consumes the shopper's single-use token and creates a reusable one, so
    # it needs tokens:create (held by default by secret keys), not the read scope.
    key: Annotated[ApiKeyInfo, SecretKey("tokens:create")],
    runtime: RuntimeDep,
    now: NowDep,
) -> dict[str, Any]:
    rec = runtime.vault.save_card(key.merchant_id, body.token, now=now, actor=f"api_key:{key.id}")
    return payment_method_out(rec)


@router.get(
    "/{pm_id}", response_model=None, responses=ok(PaymentMethodOut), summary="Retrieve a saved card"
)
def retrieve_payment_method(
    pm_id: str, key: Annotated[ApiKeyInfo, SecretKey("tokens:read")], runtime: RuntimeDep
) -> dict[str, Any]:
    return payment_method_out(_saved(runtime, key.merchant_id, pm_id))


@router.delete(
    "/{pm_id}",
    response_model=None,
    responses=ok(PaymentMethodOut),
    summary="Delete a saved card (its card data is destroyed)",
)
def delete_payment_method(
    pm_id: str,
    key: Annotated[ApiKeyInfo, SecretKey("tokens:delete")],
    runtime: RuntimeDep,
    now: NowDep,
) -> dict[str, Any]:
    rec = _saved(runtime, key.merchant_id, pm_id)
    runtime.vault.delete(key.merchant_id, pm_id, now=now, actor=f"api_key:{key.id}")
    return {**payment_method_out(rec), "deleted": True}
