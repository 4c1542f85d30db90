"""The connector plug point: what every payment processor integration implements.

A connector turns our requests into one processor's API calls and its answers into
:class:`GatewayResult`. Request/response mapping lives in the connector's
``transformers.py``, the HTTP or SDK calls in its ``connector.py``, and each connector has
an explicit map from the processor's statuses and decline codes to ours.

Rules every connector follows:

* Raw card data arrives only as :class:`~cardshield.vault.CardData` (PAN/CVV typed, masked
  repr) inside the vault's ``use_for_forwarding`` block, and goes only into the processor's
  raw-card API. Nothing a connector logs, raises or returns holds it.
* Every mutating call carries ``idempotency_key`` to the processor (header or field), so a
  retry after a crash or timeout cannot charge twice; connectors retry with backoff only
  where the operation is idempotent.
* Declines are results (``status=DECLINED`` with a :class:`Decline`), not exceptions.
  Transport failures raise :class:`GatewayError`/:class:`GatewayTimeout`; the payment
  service then resolves the outcome with :meth:`Connector.sync`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from cardshield.errors import CardshieldError, InvalidRequestError
from cardshield.gateways.declines import Decline
from cardshield.vault.service import CardData


class GatewayStatus(StrEnum):
    AUTHORIZED = "authorized"  # funds held, capture pending
    CAPTURED = "captured"  # money moved (sale, or capture of an authorization)
    VOIDED = "voided"
    REFUNDED = "refunded"
    VERIFIED = "verified"  # $0 verification passed
    PENDING = "pending"  # the processor has not decided yet; sync later
    REQUIRES_ACTION = "requires_action"  # 3-D Secure challenge: see next_action_url
    DECLINED = "declined"
    FAILED = "failed"  # processor error, not a decline


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units (cents); see cardshield.payments.money for exponents
    currency: str  # ISO 4217, upper case


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    money: Money
    card: CardData
    capture: bool  # True: authorize and capture in one call (a sale)
    idempotency_key: str  # derived from the merchant's key and the operation; stable
    merchant_account: str  # the processor-side account (sandbox account, Adyen merchant...)
    reference: str  # our payment id, for the processor's dashboard and reconciliation
    description: str | None = None
    return_url: str | None = None  # where a 3-D Secure challenge sends the customer back
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FollowUpRequest:
    """Capture, void or refund of an earlier authorization."""

    money: Money
    connector_reference: str  # the processor's id of the authorization / charge
    idempotency_key: str
    merchant_account: str
    reference: str


@dataclass(frozen=True, slots=True)
class GatewayResult:
    status: GatewayStatus
    connector_reference: str | None = None
    amount: int | None = None
    decline: Decline | None = None
    next_action_url: str | None = None
    # The processor's own response, for the operations log; connectors drop card fields.
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A processor's webhook, after its signature was verified."""

    connector: str
    event_type: str  # the processor's own name for it
    connector_reference: str | None
    status: GatewayStatus | None
    raw: Mapping[str, Any] = field(default_factory=dict)


class GatewayError(CardshieldError):
    """The processor could not be reached or answered with an error we cannot map."""

    type = "api_error"
    code = "gateway_error"
    http_status = 502
    default_message = "The payment processor returned an error."


class GatewayTimeout(GatewayError):
    """No answer in time: the operation may or may not have happened (sync to find out)."""

    code = "gateway_timeout"
    http_status = 504
    default_message = "The payment processor did not answer in time."


class WebhookSignatureError(InvalidRequestError):
    code = "invalid_signature"
    default_message = "The webhook signature is missing, invalid or too old."


class Connector(Protocol):
    name: str

    def authorize(self, request: AuthorizeRequest) -> GatewayResult: ...

    def capture(self, request: FollowUpRequest) -> GatewayResult: ...

    def void(self, request: FollowUpRequest) -> GatewayResult: ...

    def refund(self, request: FollowUpRequest) -> GatewayResult: ...

    def verify(self, request: AuthorizeRequest) -> GatewayResult:
        """A $0 (or the network's minimum) authorization that checks the card."""
        ...

    def sync(self, idempotency_key: str, connector_reference: str | None) -> GatewayResult:
        """The processor's current view of an operation, after a timeout or a crash."""
        ...

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, url: str
    ) -> list[InboundEvent]:
        """Verify the signature over the raw body, then parse; WebhookSignatureError if bad."""
        ...
