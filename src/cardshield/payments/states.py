"""The payment state machine, as data, and the pure mapping of gateway results onto it.

::

    created ──► requires_action ──► authorized ──► captured ──► partially_refunded ──► refunded
       │              │                 │    (full or partial;       (several refunds)
       │              │                 │     amount_captured tells)
       │              │                 └──► voided
       ├──────────────┴──► failed            (an authorization that did not go through)
       └──► verified | failed                ($0 verification)

:data:`STARTS` says from which statuses each operation may begin, :data:`TRANSITIONS`
which statuses each operation's outcome may lead to. Nothing else decides: the service
asks :func:`require` before writing anything and :func:`check_transition` before recording.

A capture, void or refund that the processor refuses leaves the payment where it was (the
money did not move): the operation is recorded as failed and the caller gets
``operation_declined``. ``failed`` is where authorizations and verifications that did not
go through end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from cardshield.errors import InternalError
from cardshield.gateways.base import GatewayResult, GatewayStatus
from cardshield.gateways.declines import Decline, DeclineCode
from cardshield.payments.errors import AmountTooLarge, InvalidPaymentState
from cardshield.payments.money import check_amount


class PaymentStatus(StrEnum):
    CREATED = "created"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"
    VERIFIED = "verified"


class Operation(StrEnum):
    """A gateway operation (``payment_operations.kind``)."""

    AUTHORIZE = "authorize"
    VERIFY = "verify"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


S = PaymentStatus

# Where each public action may start. complete_action resumes the authorization of a
# payment waiting for its 3-D Secure challenge.
STARTS: Mapping[str, frozenset[PaymentStatus]] = {
    "authorize": frozenset({S.CREATED}),
    "verify": frozenset({S.CREATED}),
    "complete_action": frozenset({S.REQUIRES_ACTION}),
    "capture": frozenset({S.AUTHORIZED}),
    "void": frozenset({S.AUTHORIZED}),
    "refund": frozenset({S.CAPTURED, S.PARTIALLY_REFUNDED}),
}

# operation -> status while it runs -> statuses its outcome may lead to (staying put is
# always allowed: a refused capture, a challenge not yet answered).
TRANSITIONS: Mapping[Operation, Mapping[PaymentStatus, frozenset[PaymentStatus]]] = {
    Operation.AUTHORIZE: {
        S.CREATED: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.FAILED}),
        S.REQUIRES_ACTION: frozenset({S.AUTHORIZED, S.CAPTURED, S.FAILED}),
    },
    Operation.VERIFY: {S.CREATED: frozenset({S.VERIFIED, S.FAILED})},
    Operation.CAPTURE: {S.AUTHORIZED: frozenset({S.CAPTURED})},
    Operation.VOID: {S.AUTHORIZED: frozenset({S.VOIDED})},
    Operation.REFUND: {
        S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
        S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    },
}

TERMINAL = frozenset({S.REFUNDED, S.VOIDED, S.FAILED, S.VERIFIED})

# The event each status change emits (payment.captured etc.).
EVENTS: Mapping[PaymentStatus, str] = {
    S.REQUIRES_ACTION: "payment.requires_action",
    S.AUTHORIZED: "payment.authorized",
    S.CAPTURED: "payment.captured",
    S.PARTIALLY_REFUNDED: "payment.refunded",
    S.REFUNDED: "payment.refunded",
    S.VOIDED: "payment.voided",
    S.FAILED: "payment.failed",
    S.VERIFIED: "payment.verified",
}

# Verbs for error messages: "You cannot capture this payment because ..."
_VERBS = {"complete_action": "complete the action of", "authorize": "authorize"}


def require(action: str, status: str) -> None:
    """Raise ``payment_invalid_state`` unless ``action`` may start from ``status``."""
    if PaymentStatus(status) not in STARTS[action]:
        raise InvalidPaymentState(_VERBS.get(action, action), status)


def check_transition(operation: Operation, src: PaymentStatus, dst: PaymentStatus) -> None:
    """An outcome outside the table is a bug in a connector mapping, never recorded."""
    if dst != src and dst not in TRANSITIONS[operation].get(src, frozenset()):
        raise InternalError(f"illegal payment transition {src} -> {dst} by {operation}")


def capture_amount(requested: int | None, authorized: int) -> int:
    """The amount to capture: all of the authorization unless a smaller amount is given."""
    if requested is None:
        return authorized
    check_amount(requested)
    if requested > authorized:
        raise AmountTooLarge(
            f"The capture amount ({requested}) exceeds the authorized amount ({authorized}).",
            param="amount",
        )
    return requested


def refund_amount(requested: int | None, captured: int, refunded: int, pending: int) -> int:
    """The amount to refund; refunds in flight count against what is left."""
    left = captured - refunded - pending
    if requested is None:
        if left <= 0:
            raise AmountTooLarge("Nothing is left to refund on this payment.", param="amount")
        return left
    check_amount(requested)
    if requested > left:
        raise AmountTooLarge(
            f"The refund amount ({requested}) exceeds what is left to refund ({left}).",
            param="amount",
        )
    return requested


@dataclass(frozen=True, slots=True)
class Current:
    """The parts of a payment an outcome depends on."""

    status: PaymentStatus
    amount: int
    amount_authorized: int
    amount_captured: int
    amount_refunded: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one gateway result does to the operation and the payment."""

    op_status: str  # succeeded | failed | pending (a 3-D Secure challenge is outstanding)
    status: PaymentStatus
    amount_authorized: int
    amount_captured: int
    amount_refunded: int
    decline: Decline | None = None
    next_action: Mapping[str, Any] | None = None
    events: tuple[str, ...] = ()
    refund_status: str | None = None  # for refunds: succeeded | failed


def _decline(result: GatewayResult) -> Decline:
    return result.decline or Decline(DeclineCode.PROCESSING_ERROR, result.status.value)


_REFUSED = frozenset({GatewayStatus.DECLINED, GatewayStatus.FAILED})
_FOLLOW_UP_SUCCESS = {
    Operation.CAPTURE: GatewayStatus.CAPTURED,
    Operation.VOID: GatewayStatus.VOIDED,
    Operation.REFUND: GatewayStatus.REFUNDED,
}


def outcome(
    operation: Operation,
    cur: Current,
    op_amount: int,
    result: GatewayResult,
    *,
    return_url: str | None = None,
) -> Outcome | None:
    """The outcome of ``result`` for ``operation``; None when it is not known yet."""
    st = result.status
    stay = Outcome(
        "pending", cur.status, cur.amount_authorized, cur.amount_captured, cur.amount_refunded
    )
    if operation is Operation.AUTHORIZE:
        amount = result.amount if result.amount is not None else op_amount
        if st is GatewayStatus.AUTHORIZED:
            return _move(stay, "succeeded", S.AUTHORIZED, amount_authorized=amount)
        if st is GatewayStatus.CAPTURED:
            return _move(
                stay,
                "succeeded",
                S.CAPTURED,
                amount_authorized=amount,
                amount_captured=amount,
                first=("payment.authorized",) if cur.status is not S.AUTHORIZED else (),
            )
        if st is GatewayStatus.REQUIRES_ACTION and result.next_action_url:
            action = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": result.next_action_url, "return_url": return_url},
            }
            return _move(stay, "pending", S.REQUIRES_ACTION, next_action=action)
        if st in _REFUSED:
            return _move(stay, "failed", S.FAILED, decline=_decline(result))
        return None
    if operation is Operation.VERIFY:
        if st in (GatewayStatus.VERIFIED, GatewayStatus.AUTHORIZED):
            return _move(stay, "succeeded", S.VERIFIED)
        if st is GatewayStatus.REQUIRES_ACTION:
            decline = Decline(DeclineCode.AUTHENTICATION_REQUIRED, "requires_action")
            return _move(stay, "failed", S.FAILED, decline=decline)
        if st in _REFUSED:
            return _move(stay, "failed", S.FAILED, decline=_decline(result))
        return None
    if st is _FOLLOW_UP_SUCCESS[operation]:
        if operation is Operation.CAPTURE:
            return _move(stay, "succeeded", S.CAPTURED, amount_captured=op_amount)
        if operation is Operation.VOID:
            return _move(stay, "succeeded", S.VOIDED)
        refunded = cur.amount_refunded + op_amount
        dst = S.REFUNDED if refunded >= cur.amount_captured else S.PARTIALLY_REFUNDED
        done = _move(stay, "succeeded", dst, amount_refunded=refunded, first=("refund.succeeded",))
        return replace(done, refund_status="succeeded")
    if st in _REFUSED:
        # The money did not move: the payment stays as it was, the operation failed.
        is_refund = operation is Operation.REFUND
        return replace(
            stay,
            op_status="failed",
            decline=_decline(result),
            events=("refund.failed",) if is_refund else (),
            refund_status="failed" if is_refund else None,
        )
    return None


def _move(
    stay: Outcome,
    op_status: str,
    status: PaymentStatus,
    *,
    amount_authorized: int | None = None,
    amount_captured: int | None = None,
    amount_refunded: int | None = None,
    decline: Decline | None = None,
    next_action: Mapping[str, Any] | None = None,
    first: tuple[str, ...] = (),
) -> Outcome:
    # Every refund reports payment.refunded, even when the status stays partially_refunded.
    changed = status != stay.status or status is S.PARTIALLY_REFUNDED
    return Outcome(
        op_status=op_status,
        status=status,
        amount_authorized=stay.amount_authorized
        if amount_authorized is None
        else amount_authorized,
        amount_captured=stay.amount_captured if amount_captured is None else amount_captured,
        amount_refunded=stay.amount_refunded if amount_refunded is None else amount_refunded,
        decline=decline,
        next_action=next_action,
        events=first + ((EVENTS[status],) if changed else ()),
    )
