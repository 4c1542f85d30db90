from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cardshield.payments.webhooks.signing import (
    SECRET_PREFIX,
    event_body,
    new_secret,
    signature,
    signature_header,
)
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_secrets_are_prefixed_random_and_long() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    for s in made:
        assert s.startswith(SECRET_PREFIX) and len(s) >= len(SECRET_PREFIX) + 43


def test_header_lists_one_v1_per_secret_in_order() -> None:
    header = signature_header(b"{}", ["a", "b"], timestamp=5)
    assert header == f"t=5,v1={signature('a', 5, b'{}')},v1={signature('b', 5, b'{}')}"
    with pytest.raises(ValueError, match="at least one secret"):
        signature_header(b"{}", [], timestamp=5)


def test_event_body_shape_and_card_data_safety_net() -> None:
    body = event_body(
        event_id="evt_9",
        type="payment.failed",
        created=NOW,
        data={"id": "pay_9", "note": f"card {CANARY_PAN} cvv={CANARY_CVV}"},
    )
    parsed = json.loads(body)
    assert parsed["id"] == "evt_9" and parsed["type"] == "payment.failed"
    assert parsed["created"] == int(NOW.timestamp())
    assert parsed["data"]["id"] == "pay_9"
    assert_no_card_data(body)
    assert f"cvv={CANARY_CVV}" not in body.decode()


def test_codes_under_code_like_keys_are_masked_other_numbers_kept() -> None:
    body = event_body(
        event_id="evt_1",
        type="payment.failed",
        created=NOW,
        data={
            "cvc": 123,
            "amount": 737,
            "card": {"security_code": "1234", "last4": "4242"},
            "items": [{"cvv2": "987"}],
            "captured": True,
        },
    )
    data = json.loads(body)["data"]
    assert data["cvc"] == "***" and data["card"]["security_code"] == "***"
    assert data["items"] == [{"cvv2": "***"}]
    assert data["amount"] == 737 and data["card"]["last4"] == "4242" and data["captured"] is True
