"""One example per request and answer body of the HTTP API, by component schema name.

Answers show what they really carry of a card: brand, first six, last four, expiry. The
token request (``TokenCreate``, in its own model) is the only body with a card number,
and shows the published test card. Each example is checked against its schema by the
tests, so an example cannot drift from the model it illustrates.
"""

from __future__ import annotations

from typing import Any

_CREATED = 1795000000
_CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
_PAYMENT: dict[str, Any] = {
    "id": "pay_7Hc2kQ0mZ9xTq4Lr1VbN3d",
    "object": "payment",
    "amount": 1999,
    "currency": "eur",
    "status": "captured",
    "amount_authorized": 1999,
    "amount_capturable": 0,
    "amount_captured": 1999,
    "amount_refunded": 0,
    "capture_method": "automatic",
    "card": _CARD,
    "token": "tok_3FS08uG0sg2kc0N8T3sc9F",
    "connector": "sandbox",
    "connector_reference": "sbx_ch_5d1c9e0a7b2f4e61",
    "decline_code": None,
    "failure_message": None,
    "next_action": None,
    "return_url": None,
    "description": "Order 1042",
    "metadata": {"order_id": "1042"},
    "created": _CREATED,
}
_EVENT: dict[str, Any] = {
    "id": "evt_9f2c41d07a8b3e5c6d1f0a2b",
    "object": "event",
    "type": "payment.captured",
    "created": _CREATED,
    "data": {"object": _PAYMENT},
}
_ENDPOINT: dict[str, Any] = {
    "id": "we_4b9d2e7f1a0c3e5d8f6a2b1c",
    "object": "webhook_endpoint",
    "url": "https://shop.example.com/webhooks/cardshield",
    "enabled_events": ["payment.captured", "payment.failed", "payment.refunded"],
    "status": "enabled",
    "created": _CREATED,
}

EXAMPLES: dict[str, dict[str, Any]] = {
    # Requests
    "AmountBody": {"amount": 1000},
    "EmptyBody": {},
    "RefundCreate": {
        "payment": "pay_7Hc2kQ0mZ9xTq4Lr1VbN3d",
        "amount": 500,
        "reason": "requested_by_customer",
    },
    "VerificationCreate": {"token": "tok_3FS08uG0sg2kc0N8T3sc9F", "currency": "eur"},
    "PaymentMethodCreate": {"token": "tok_3FS08uG0sg2kc0N8T3sc9F"},
    "EndpointCreate": {
        "url": "https://shop.example.com/webhooks/cardshield",
        "enabled_events": ["payment.captured", "payment.failed", "payment.refunded"],
    },
    "ForwardCreate": {
        "token": "tok_6Yq1pW8sLx2Vn5Rb0KcT7e",
        "request": {
            "method": "POST",
            "url": "https://api.partner.example.com/v1/cards",
            "headers": {"content-type": "application/json"},
            "body": '{"pan": "{{card.number}}", "exp": "{{card.exp_month}}/{{card.exp_year}}"}',
        },
    },
    "SessionIn": {
        "call_sid": "CA5f0c2d9e8b7a6f5e4d3c2b1a0f9e8d7c",
        "agent_host": "10.20.0.15",
        "agent_port": 40000,
        "event_payload_type": 101,
    },
    # Answers
    "TokenOut": {
        "id": "tok_3FS08uG0sg2kc0N8T3sc9F",
        "object": "token",
        "type": "card",
        "single_use": True,
        "used": False,
        "card": {**_CARD, "bin": "424242"},
        "created": _CREATED,
        "expires": _CREATED + 900,
    },
    "PaymentOut": _PAYMENT,
    "PaymentList": {
        "object": "list",
        "url": "/v1/payments",
        "has_more": False,
        "data": [_PAYMENT],
    },
    "RefundOut": {
        "id": "re_2Lm8Qx0Vb4Nc7Rt1Kd9Wp3",
        "object": "refund",
        "payment": "pay_7Hc2kQ0mZ9xTq4Lr1VbN3d",
        "amount": 500,
        "currency": "eur",
        "status": "succeeded",
        "reason": "requested_by_customer",
        "failure_code": None,
        "created": _CREATED,
    },
    "PaymentMethodOut": {
        "id": "tok_8Jd3Rk1Wn6Vb0Qx4Lc2Tz9",
        "object": "payment_method",
        "type": "card",
        "card": _CARD,
        "created": _CREATED,
    },
    "EventOut": _EVENT,
    "EventList": {"object": "list", "url": "/v1/events", "has_more": False, "data": [_EVENT]},
    "WebhookEndpointOut": {**_ENDPOINT, "secret": "whsec_shown_once_on_creation"},
    "WebhookEndpointList": {
        "object": "list",
        "url": "/v1/webhook_endpoints",
        "has_more": False,
        "data": [_ENDPOINT],
    },
    "ForwardOut": {
        "object": "forward_response",
        "status": 201,
        "headers": [["content-type", "application/json"]],
        "body": '{"id": "card_81726354", "status": "stored"}',
    },
    "HealthOut": {"status": "ok"},
    "ReadyOut": {
        "status": "ready",
        "checks": {"database": "ok", "kms": "ok", "volatile_store": "ok"},
    },
    "ErrorOut": {
        "error": {
            "type": "invalid_request_error",
            "code": "amount_too_large",
            "message": "The amount is larger than what the payment allows.",
            "param": "amount",
        }
    },
}
