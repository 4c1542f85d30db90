"""Sandbox request/response mapping: test-card outcomes, the explicit status map, declines.

Ledger rows (``sandbox_ledger``) are the sandbox's own records; :func:`to_result` turns one
into our :class:`GatewayResult` through :data:`STATUS_MAP` and :data:`DECLINE_MAP`, the
way a real connector maps a processor's JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from cardshield.cards.testcards import Outcome
from cardshield.gateways.base import GatewayResult, GatewayStatus
from cardshield.gateways.declines import DeclineCode, from_map

# Ledger operations: a charge is an "authorize" (held) or a "sale" (authorize + capture).
CHARGES = frozenset({"authorize", "sale"})

# Ledger row status per test-card outcome, with the sandbox's raw decline code.
OUTCOMES: Mapping[Outcome, tuple[str, str | None]] = {
    Outcome.SUCCESS: ("succeeded", None),
    Outcome.GENERIC_DECLINE: ("declined", "generic_decline"),
    Outcome.INSUFFICIENT_FUNDS: ("declined", "insufficient_funds"),
    Outcome.EXPIRED_CARD: ("declined", "expired_card"),
    Outcome.INCORRECT_CVC: ("declined", "incorrect_cvc"),
    Outcome.PROCESSING_ERROR: ("declined", "processing_error"),
    Outcome.AUTHENTICATION_REQUIRED: ("requires_action", None),
}

# (ledger operation, ledger status) -> our status. Anything not listed is a FAILED result.
STATUS_MAP: Mapping[tuple[str, str], GatewayStatus] = {
    ("authorize", "succeeded"): GatewayStatus.AUTHORIZED,
    ("sale", "succeeded"): GatewayStatus.CAPTURED,
    ("verify", "succeeded"): GatewayStatus.VERIFIED,
    ("capture", "succeeded"): GatewayStatus.CAPTURED,
    ("void", "succeeded"): GatewayStatus.VOIDED,
    ("refund", "succeeded"): GatewayStatus.REFUNDED,
    ("authorize", "requires_action"): GatewayStatus.REQUIRES_ACTION,
    ("sale", "requires_action"): GatewayStatus.REQUIRES_ACTION,
    ("authorize", "declined"): GatewayStatus.DECLINED,
    ("sale", "declined"): GatewayStatus.DECLINED,
    ("verify", "declined"): GatewayStatus.DECLINED,
    ("capture", "declined"): GatewayStatus.DECLINED,
    ("void", "declined"): GatewayStatus.DECLINED,
    ("refund", "declined"): GatewayStatus.DECLINED,
}

# The sandbox's raw decline codes -> unified codes.
DECLINE_MAP: dict[str, DeclineCode] = {
    "generic_decline": DeclineCode.CARD_DECLINED,
    "insufficient_funds": DeclineCode.INSUFFICIENT_FUNDS,
    "expired_card": DeclineCode.EXPIRED_CARD,
    "incorrect_cvc": DeclineCode.INCORRECT_CVC,
    "processing_error": DeclineCode.PROCESSING_ERROR,
    "authentication_required": DeclineCode.AUTHENTICATION_REQUIRED,
    "authentication_failed": DeclineCode.AUTHENTICATION_REQUIRED,
    "invalid_amount": DeclineCode.INVALID_REQUEST,
    "amount_too_large": DeclineCode.INVALID_REQUEST,
    "already_captured": DeclineCode.INVALID_REQUEST,
    "already_voided": DeclineCode.INVALID_REQUEST,
    "charge_not_capturable": DeclineCode.INVALID_REQUEST,
    "no_such_charge": DeclineCode.INVALID_REQUEST,
    "idempotency_mismatch": DeclineCode.INVALID_REQUEST,
}


class Behaviour(StrEnum):
    """Processor misbehaviour chosen by the last three digits of the amount (see __init__)."""

    NORMAL = "normal"
    TIMEOUT_AFTER_CHARGE = "timeout_after_charge"  # ...991
    TIMEOUT_BEFORE_CHARGE = "timeout_before_charge"  # ...992
    SLOW = "slow"  # ...993
    GATEWAY_ERROR = "gateway_error"  # ...994


_BY_SUFFIX = {
    991: Behaviour.TIMEOUT_AFTER_CHARGE,
    992: Behaviour.TIMEOUT_BEFORE_CHARGE,
    993: Behaviour.SLOW,
    994: Behaviour.GATEWAY_ERROR,
}


def behaviour_for(amount: int) -> Behaviour:
    return _BY_SUFFIX.get(amount % 1000, Behaviour.NORMAL) if amount > 0 else Behaviour.NORMAL


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One row of the sandbox's ledger: brand and last 4 only, never a full number."""

    id: str
    account: str
    idempotency_key: str
    operation: str
    parent_id: str | None
    status: str  # succeeded | declined | requires_action | failed
    amount: int
    currency: str
    card_brand: str | None
    card_last4: str | None
    decline_code: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> LedgerEntry:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def is_charge(self) -> bool:
        """Money taken from the card (held or captured)."""
        return self.operation in CHARGES and self.status == "succeeded"

    def raw(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "parent_id": self.parent_id,
            "decline_code": self.decline_code,
            "card": {"brand": self.card_brand, "last4": self.card_last4},
        }


def challenge_url(public_base: str, entry_id: str) -> str:
    return f"{public_base.rstrip('/')}/sandbox/3ds/{entry_id}"


def to_result(entry: LedgerEntry, public_base: str) -> GatewayResult:
    status = STATUS_MAP.get((entry.operation, entry.status), GatewayStatus.FAILED)
    decline = None
    if status is GatewayStatus.DECLINED:
        decline = from_map(DECLINE_MAP, entry.decline_code or "generic_decline")
    return GatewayResult(
        status=status,
        connector_reference=entry.id,
        amount=entry.amount,
        decline=decline,
        next_action_url=challenge_url(public_base, entry.id)
        if status is GatewayStatus.REQUIRES_ACTION
        else None,
        raw=entry.raw(),
    )


def not_found(idempotency_key: str) -> GatewayResult:
    """What ``sync`` answers for an operation the sandbox never received."""
    return GatewayResult(
        status=GatewayStatus.FAILED,
        raw={"error": "no_such_operation", "idempotency_key": idempotency_key},
    )
