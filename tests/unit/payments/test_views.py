from __future__ import annotations

import json
from datetime import UTC, datetime

from cardshield.payments.errors import (
    IdempotencyKeyReused,
    PaymentProcessing,
    replayed_error,
)
from cardshield.payments.views import PaymentView, RefundView
from tests.conftest import assert_no_card_data

CREATED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

ROW = {
    "id": "pay_1",
    "amount": 1050,
    "currency": "EUR",
    "status": "authorized",
    "amount_authorized": 1050,
    "amount_captured": 0,
    "amount_refunded": 0,
    "capture_method": "manual",
    "card_brand": "visa",
    "card_last4": "4242",
    "card_exp_month": 12,
    "card_exp_year": 2030,
    "token": "tok_abc",
    "connector": "sandbox",
    "connector_reference": "sbx_ch_1",
    "decline_code": None,
    "failure_message": None,
    "next_action": {"return_url": "https://shop.example/back", "action": None},
    "description": "order 7",
    "metadata": {"order": "7"},
    "created_at": CREATED,
}


def test_payment_json_shape_and_round_trip() -> None:
    view = PaymentView.from_row(ROW)
    data = view.to_dict()
    assert data == {
        "id": "pay_1",
        "object": "payment",
        "amount": 1050,
        "currency": "eur",
        "status": "authorized",
        "amount_authorized": 1050,
        "amount_capturable": 1050,
        "amount_captured": 0,
        "amount_refunded": 0,
        "capture_method": "manual",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
        "token": "tok_abc",
        "connector": "sandbox",
        "connector_reference": "sbx_ch_1",
        "decline_code": None,
        "failure_message": None,
        "next_action": None,
        "return_url": "https://shop.example/back",
        "description": "order 7",
        "metadata": {"order": "7"},
        "created": int(CREATED.timestamp()),
    }
    back = PaymentView.from_dict(json.loads(json.dumps(data)), replayed=True)
    assert back.replayed and back.to_dict() == data
    assert_no_card_data(json.dumps(data))


def test_next_action_shows_only_while_a_challenge_is_open() -> None:
    action = {"type": "redirect_to_url", "redirect_to_url": {"url": "u", "return_url": "r"}}
    stored = {"return_url": "r", "action": action}
    waiting = PaymentView.from_row(ROW | {"status": "requires_action", "next_action": stored})
    assert waiting.to_dict()["next_action"] == action
    done = PaymentView.from_row(ROW | {"status": "captured", "next_action": stored})
    assert done.to_dict()["next_action"] is None and done.return_url == "r"


def test_capturable_only_while_authorized() -> None:
    captured = PaymentView.from_row(ROW | {"status": "captured", "amount_captured": 1050})
    assert captured.amount_capturable == 0
    assert PaymentView.from_row(ROW | {"card_last4": None}).to_dict()["card"] is None


def test_refund_json_round_trip() -> None:
    row = {
        "id": "re_1",
        "payment_id": "pay_1",
        "amount": 500,
        "currency": "JPY",
        "status": "succeeded",
        "reason": "requested_by_customer",
        "created_at": CREATED,
    }
    data = RefundView.from_row(row).to_dict()
    assert data["object"] == "refund" and data["currency"] == "jpy"
    assert data["payment"] == "pay_1" and data["failure_code"] is None
    assert RefundView.from_dict(data).to_dict() == data


def test_replayed_errors_keep_status_and_fields() -> None:
    original = IdempotencyKeyReused(param="idempotency_key")
    again = replayed_error(original.http_status, original.to_dict())
    assert again.to_dict() == original.to_dict()
    assert again.http_status == 409
    processing = PaymentProcessing("pay_9", "gateway_timeout")
    assert "pay_9" in processing.message and processing.http_status == 503
