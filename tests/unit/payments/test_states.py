"""The state machine as data: legal starts and outcomes, refusals, amount bounds."""

from __future__ import annotations

import pytest

from cardshield.errors import InternalError
from cardshield.gateways.base import GatewayResult, GatewayStatus
from cardshield.gateways.declines import Decline, DeclineCode
from cardshield.payments.errors import AmountTooLarge, InvalidPaymentState
from cardshield.payments.money import InvalidAmount
from cardshield.payments.states import (
    STARTS,
    TERMINAL,
    TRANSITIONS,
    Current,
    Operation,
    PaymentStatus,
    capture_amount,
    check_transition,
    outcome,
    refund_amount,
    require,
)

S = PaymentStatus
G = GatewayStatus


def cur(status: S, authorized: int = 0, captured: int = 0, refunded: int = 0) -> Current:
    return Current(status, 1000, authorized, captured, refunded)


@pytest.mark.parametrize("action", sorted(STARTS))
@pytest.mark.parametrize("status", list(S))
def test_every_action_from_every_status(action: str, status: S) -> None:
    if status in STARTS[action]:
        require(action, status)
        return
    with pytest.raises(InvalidPaymentState) as info:
        require(action, status)
    err = info.value
    assert err.code == "payment_invalid_state"
    assert err.http_status == 400
    assert f"status is {status.value}" in err.message
    assert err.status == status.value


def test_terminal_statuses_start_nothing_and_tables_agree() -> None:
    for action, starts in STARTS.items():
        assert not (starts & TERMINAL), action
    for op, table in TRANSITIONS.items():
        for src, dsts in table.items():
            assert src not in TERMINAL
            for dst in dsts:
                check_transition(op, src, dst)
    # Follow-up operations start exactly where their transitions are defined.
    for op in (Operation.CAPTURE, Operation.VOID, Operation.REFUND):
        assert set(TRANSITIONS[op]) == set(STARTS[op.value])


@pytest.mark.parametrize(
    ("op", "src", "dst"),
    [
        (Operation.CAPTURE, S.AUTHORIZED, S.REFUNDED),
        (Operation.VOID, S.CAPTURED, S.VOIDED),
        (Operation.AUTHORIZE, S.CAPTURED, S.AUTHORIZED),
        (Operation.REFUND, S.AUTHORIZED, S.REFUNDED),
        (Operation.VERIFY, S.CREATED, S.CAPTURED),
    ],
)
def test_illegal_transitions_are_refused(op: Operation, src: S, dst: S) -> None:
    with pytest.raises(InternalError):
        check_transition(op, src, dst)


def test_authorize_outcomes() -> None:
    c = cur(S.CREATED)
    auth = outcome(Operation.AUTHORIZE, c, 1000, GatewayResult(G.AUTHORIZED, "ch_1", 1000))
    assert auth is not None
    assert (auth.op_status, auth.status, auth.amount_authorized) == (
        "succeeded",
        S.AUTHORIZED,
        1000,
    )
    assert auth.events == ("payment.authorized",)

    sale = outcome(Operation.AUTHORIZE, c, 1000, GatewayResult(G.CAPTURED, "ch_1", 1000))
    assert sale is not None
    assert (sale.status, sale.amount_authorized, sale.amount_captured) == (S.CAPTURED, 1000, 1000)
    assert sale.events == ("payment.authorized", "payment.captured")

    three_ds = outcome(
        Operation.AUTHORIZE,
        c,
        1000,
        GatewayResult(G.REQUIRES_ACTION, "ch_1", next_action_url="https://x/3ds/ch_1"),
        return_url="https://shop/back",
    )
    assert three_ds is not None
    assert (three_ds.op_status, three_ds.status) == ("pending", S.REQUIRES_ACTION)
    assert three_ds.next_action == {
        "type": "redirect_to_url",
        "redirect_to_url": {"url": "https://x/3ds/ch_1", "return_url": "https://shop/back"},
    }
    assert three_ds.events == ("payment.requires_action",)
    # Still waiting for the challenge: nothing changes, nothing is emitted.
    again = outcome(
        Operation.AUTHORIZE,
        cur(S.REQUIRES_ACTION),
        1000,
        GatewayResult(G.REQUIRES_ACTION, "ch_1", next_action_url="https://x/3ds/ch_1"),
    )
    assert again is not None
    assert (again.status, again.events) == (S.REQUIRES_ACTION, ())

    decline = Decline(DeclineCode.INSUFFICIENT_FUNDS, "insufficient_funds")
    declined = outcome(Operation.AUTHORIZE, c, 1000, GatewayResult(G.DECLINED, decline=decline))
    assert declined is not None
    assert (declined.op_status, declined.status, declined.decline) == ("failed", S.FAILED, decline)
    assert declined.events == ("payment.failed",)

    broken = outcome(Operation.AUTHORIZE, c, 1000, GatewayResult(G.FAILED))
    assert broken is not None and broken.decline is not None
    assert broken.decline.code is DeclineCode.PROCESSING_ERROR

    assert outcome(Operation.AUTHORIZE, c, 1000, GatewayResult(G.PENDING)) is None


def test_verify_outcomes() -> None:
    c = cur(S.CREATED)
    ok = outcome(Operation.VERIFY, c, 0, GatewayResult(G.VERIFIED, "v_1", 0))
    assert ok is not None and (ok.status, ok.events) == (S.VERIFIED, ("payment.verified",))
    challenge = outcome(
        Operation.VERIFY, c, 0, GatewayResult(G.REQUIRES_ACTION, next_action_url="u")
    )
    assert challenge is not None and challenge.decline is not None
    assert challenge.decline.code is DeclineCode.AUTHENTICATION_REQUIRED
    assert outcome(Operation.VERIFY, c, 0, GatewayResult(G.PENDING)) is None


def test_follow_up_outcomes() -> None:
    authorized = cur(S.AUTHORIZED, authorized=1000)
    cap = outcome(Operation.CAPTURE, authorized, 600, GatewayResult(G.CAPTURED, "c", 600))
    assert cap is not None
    assert (cap.status, cap.amount_captured, cap.events) == (
        S.CAPTURED,
        600,
        ("payment.captured",),
    )
    refused = outcome(
        Operation.CAPTURE,
        authorized,
        600,
        GatewayResult(G.DECLINED, decline=Decline(DeclineCode.CARD_DECLINED, "x")),
    )
    assert refused is not None
    assert (refused.op_status, refused.status, refused.events) == ("failed", S.AUTHORIZED, ())

    void = outcome(Operation.VOID, authorized, 1000, GatewayResult(G.VOIDED, "v"))
    assert void is not None and (void.status, void.events) == (S.VOIDED, ("payment.voided",))

    captured = cur(S.CAPTURED, authorized=1000, captured=600)
    part = outcome(Operation.REFUND, captured, 200, GatewayResult(G.REFUNDED, "r", 200))
    assert part is not None
    assert (part.status, part.amount_refunded, part.refund_status) == (
        S.PARTIALLY_REFUNDED,
        200,
        "succeeded",
    )
    assert part.events == ("refund.succeeded", "payment.refunded")
    partial = cur(S.PARTIALLY_REFUNDED, authorized=1000, captured=600, refunded=200)
    rest = outcome(Operation.REFUND, partial, 400, GatewayResult(G.REFUNDED, "r2", 400))
    assert rest is not None and (rest.status, rest.amount_refunded) == (S.REFUNDED, 600)
    more = outcome(Operation.REFUND, partial, 100, GatewayResult(G.REFUNDED, "r3", 100))
    assert more is not None and more.status is S.PARTIALLY_REFUNDED
    assert more.events == ("refund.succeeded", "payment.refunded")
    failed = outcome(Operation.REFUND, partial, 100, GatewayResult(G.FAILED))
    assert failed is not None
    assert (failed.status, failed.refund_status, failed.events) == (
        S.PARTIALLY_REFUNDED,
        "failed",
        ("refund.failed",),
    )
    assert outcome(Operation.REFUND, partial, 100, GatewayResult(G.PENDING)) is None


def test_capture_bounds() -> None:
    assert capture_amount(None, 1000) == 1000
    assert capture_amount(1, 1000) == 1
    assert capture_amount(1000, 1000) == 1000
    with pytest.raises(AmountTooLarge) as info:
        capture_amount(1001, 1000)
    assert info.value.code == "amount_too_large" and info.value.param == "amount"
    for bad in (0, -5):
        with pytest.raises(InvalidAmount):
            capture_amount(bad, 1000)


def test_refund_bounds_count_pending_refunds() -> None:
    assert refund_amount(None, 1000, 300, 0) == 700
    assert refund_amount(None, 1000, 300, 200) == 500
    assert refund_amount(500, 1000, 300, 200) == 500
    with pytest.raises(AmountTooLarge):
        refund_amount(501, 1000, 300, 200)
    with pytest.raises(AmountTooLarge):
        refund_amount(None, 1000, 1000, 0)
    with pytest.raises(InvalidAmount):
        refund_amount(0, 1000, 0, 0)
