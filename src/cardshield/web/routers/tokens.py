"""``/v1/tokens``: card tokens. Created only by the hosted fields (publishable key); read by
the merchant's server (secret key), which sees brand, BIN, last 4 and expiry, never the PAN.

No answer carries the card's fingerprint or anything else that is the same for the same
card: with one, a merchant could tokenize the candidates for a stored card's middle digits
and compare (cardshield.security.probing limits what is left of that: saving candidates).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cardshield.cards import CVV, PAN, Expiry
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.vault import CardRecord
from cardshield.web.deps import NowDep, RuntimeDep, SecretKey
from cardshield.web.ratelimit import LimitedPublishableKey, check_card_probing
from cardshield.web.routers._schemas import ERRORS, ok

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=ERRORS)


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    number: str = Field(min_length=1, max_length=32, description="Card number; spaces allowed.")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2099, description="Four-digit year.")
    cvc: str | None = Field(default=None, min_length=3, max_length=4)
    postal_code: str | None = Field(default=None, max_length=16)


class TokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "card": {
                        "number": "4242424242424242",
                        "exp_month": 12,
                        "exp_year": 2030,
                        "cvc": "123",
                    }
                }
            ]
        },
    )

    card: CardIn


class CardOut(BaseModel):
    brand: str
    bin: str
    last4: str
    exp_month: int
    exp_year: int


class TokenOut(BaseModel):
    id: str
    object: str = "token"
    type: str = "card"
    single_use: bool
    used: bool
    card: CardOut
    created: int
    expires: int | None


def _epoch(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp())


def token_out(rec: CardRecord) -> dict[str, Any]:
    created = _epoch(rec.created_at)
    assert created is not None
    return TokenOut(
        id=rec.token,
        single_use=rec.single_use,
        used=rec.used_at is not None,
        card=CardOut(
            brand=rec.brand,
            bin=rec.bin[:6],
            last4=rec.last4,
            exp_month=rec.exp_month,
            exp_year=rec.exp_year,
        ),
        created=created,
        expires=_epoch(rec.expires_at),
    ).model_dump(exclude_none=True)


# The answer is built through TokenOut already (token_out); response_model=None keeps FastAPI
# from validating it again, which for a sync endpoint is one more thread-pool hop per request.
@router.post(
    "",
    response_model=None,
    responses=ok(TokenOut),
    summary="Tokenize a card (hosted fields only, publishable key)",
)
def create_token(
    body: TokenCreate,
    request: Request,
    key: LimitedPublishableKey,  # per key and address, per key (429 rate_limited)
    runtime: RuntimeDep,
    now: NowDep,
) -> dict[str, Any]:
    pan = PAN(body.card.number)
    expiry = Expiry.from_parts(body.card.exp_month, body.card.exp_year)
    cvv = CVV(body.card.cvc, pan.brand) if body.card.cvc is not None else None
    # Before anything is stored: many cards with this BIN and last 4 is 429.
    check_card_probing(request, runtime, key, pan, now=now)
    rec = runtime.vault.tokenize(
        key.merchant_id, pan, expiry, cvv, now=now, actor=f"api_key:{key.id}"
    )
    return token_out(rec)


@router.get(
    "/{token_id}",
    response_model=TokenOut,
    response_model_exclude_none=True,
    summary="Retrieve a token's card metadata",
)
def retrieve_token(
    token_id: str,
    runtime: RuntimeDep,
    key: Annotated[ApiKeyInfo, SecretKey("tokens:read")],
) -> dict[str, Any]:
    return token_out(runtime.vault.retrieve(key.merchant_id, token_id))
