"""``POST /v1/phone/amazon-connect/tokens``: a merchant's Amazon Connect Lambda hands over the
caller's encrypted input (Store customer input, encryption on) and gets a vault token back,
and a payment when it asks for a charge.

The route is open to the internet and authenticated by ``Cardshield-Signature`` (HMAC-SHA256
under the merchant's signing secret over the timestamp and the raw body; see
:mod:`cardshield.phone.connect.signature`) instead of an API key: the Lambda holds only that
secret. The body names the merchant whose secrets verify it, so its shape is checked first
(a malformed body is refused without looking any secret up), then the signature, before any
ciphertext is opened. The answer holds the token, brand, last four and expiry: never a digit
more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from cardshield.phone.connect import Charge, ConnectTokens, EncryptedCard, TokenRequest
from cardshield.phone.connect.signature import SIGNATURE_HEADER
from cardshield.runtime import Runtime
from cardshield.security.permissions import Access, declare
from cardshield.web.deps import NowDep, RuntimeDep
from cardshield.web.routers._common import Body
from cardshield.web.routers._schemas import ERRORS, PaymentOut, ok

# Open to anyone, authenticated by the merchant's Lambda signing secret.
CONNECT_SIGNED = Access("public", "connect_signature")
_CIPHERTEXT = Field(
    min_length=1,
    max_length=4096,
    description="The contact attribute's value: Connect's base64 AWS Encryption SDK message.",
)
_EXAMPLE_CIPHERTEXT = "AYADeKz0...(base64 from Store customer input)"


@dataclass(frozen=True, slots=True)
class SignedBody:
    raw: bytes
    header: str | None


async def _signed_body(request: Request) -> SignedBody:
    # Only read here; verified in the route, once the body says whose secret signs it.
    return SignedBody(await request.body(), request.headers.get(SIGNATURE_HEADER))


Signed = Annotated[SignedBody, Depends(declare(_signed_body, CONNECT_SIGNED))]


class ChargeIn(Body):
    amount: int = Field(description="Minor units (cents).")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")


class ConnectTokenCreate(Body):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "merchant": "mer_4Qm1cV7pZ2sX9kT3bN8dLw",
                    "contact_id": "9a0f3c52-6d1e-4b7a-8f2c-1e5d7b9a3c40",
                    "instance_arn": "arn:aws:connect:eu-west-2:123456789012:instance/"
                    "5b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    "card_number": _EXAMPLE_CIPHERTEXT,
                    "expiry": _EXAMPLE_CIPHERTEXT,
                    "security_code": _EXAMPLE_CIPHERTEXT,
                    "reusable": False,
                    "charge": {"amount": 1999, "currency": "eur"},
                }
            ]
        },
    )

    merchant: str = Field(min_length=1, max_length=64, description="The merchant (mer_...).")
    contact_id: str = Field(min_length=1, max_length=64, description="Connect's ContactId.")
    instance_arn: str = Field(min_length=1, max_length=200, description="Connect's InstanceARN.")
    card_number: str = _CIPHERTEXT
    # The vault keeps every card with its expiry, so the flow must collect it (MMYY).
    expiry: str = _CIPHERTEXT
    security_code: str | None = Field(default=None, min_length=1, max_length=4096)
    reusable: bool = Field(default=False, description="A reusable token instead of single use.")
    charge: ChargeIn | None = Field(default=None, description="Charge the card at once.")


class ConnectTokenOut(BaseModel):
    """Documents the answer (the route builds it as a dict); unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "token": "tok_3FS08uG0sg2kc0N8T3sc9F",
                    "brand": "visa",
                    "last4": "4242",
                    "exp_month": 12,
                    "exp_year": 2030,
                }
            ]
        },
    )

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    # null unless a charge was asked for. Not "required" in the schema: FastAPI drops null
    # values from documented examples, so an example answer without a charge would not match.
    payment: PaymentOut | None = None


router = APIRouter(tags=["phone"], responses=ERRORS)


def _service(runtime: Runtime) -> ConnectTokens:
    return ConnectTokens(
        runtime.engine,
        runtime.vault,
        runtime.payments,
        tolerance_s=runtime.settings.amazon_connect_signature_tolerance_s,
    )


@router.post(
    "/v1/phone/amazon-connect/tokens",
    response_model=None,
    responses=ok(ConnectTokenOut),
    summary="Tokenize a card an Amazon Connect flow collected encrypted",
)
def create_connect_token(
    body: ConnectTokenCreate, signed: Signed, runtime: RuntimeDep, now: NowDep
) -> dict[str, Any]:
    charge = None if body.charge is None else Charge(body.charge.amount, body.charge.currency)
    request = TokenRequest(
        merchant_id=body.merchant,
        contact_id=body.contact_id,
        instance_arn=body.instance_arn,
        card=EncryptedCard(body.card_number, body.expiry, body.security_code),
        reusable=body.reusable,
        charge=charge,
    )
    result = _service(runtime).tokenize(request, body=signed.raw, header=signed.header, now=now)
    card = result.card
    return {
        "token": card.token,
        "brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "payment": None if result.payment is None else result.payment.to_dict(),
    }
