"""Canary: the canary card goes out in the request body and nowhere else - not in logs,
exceptions (text, repr, traceback, cause chain) or results, even when Stripe echoes it."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from cardshield.gateways import GatewayError
from cardshield.gateways.base import GatewayResult
from cardshield.gateways.stripe import StripeConnector
from cardshield.gateways.stripe.webhooks import sign
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.unit.gateways.stripe.conftest import NOW, RESPONSES, authorize_request, reply

GROUPED = " ".join(CANARY_PAN[i : i + 4] for i in range(0, 16, 4))
ECHO = f"Card {CANARY_PAN} with cvc {CANARY_CVV} / {GROUPED}"


def echoing_decline() -> httpx.Response:
    intent = dict(RESPONSES["payment_intent_declined_retrieved"]["body"])
    intent["description"] = ECHO
    body = {
        "error": {
            "code": "card_declined",
            "decline_code": "do_not_honor",
            "message": ECHO,
            "payment_intent": intent,
            "payment_method": {
                "id": "pm_1PqL0aLkdIwHu7ixEcho0001",
                "object": "payment_method",
                "card": {"brand": "visa", "last4": "4242", "number": CANARY_PAN, "cvc": CANARY_CVV},
                "type": "card",
            },
            "type": "card_error",
        }
    }
    return httpx.Response(402, json=body)


@pytest.fixture
def raw_log_records() -> Iterator[None]:
    # Test our code, not the redacting record factory another test may have installed.
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)


def outputs_of(error: BaseException) -> list[str]:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        # No exception in the chain may hold httpx's request (it carries the form body).
        assert not isinstance(seen, httpx.HTTPError)
        texts += [str(seen), repr(seen), repr(vars(seen)) if hasattr(seen, "__dict__") else ""]
        seen = seen.__cause__ or seen.__context__
    return texts


def outputs_of_result(result: GatewayResult) -> list[str]:
    return [repr(result), json.dumps(result.raw), str(result.decline)]


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        assert_no_card_data(text)
        assert_no_cvv(text)


def test_no_card_data_leaves_through_logs_errors_or_results(
    stripe: StripeConnector,
    api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    raw_log_records: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    route = api.post("/v1/payment_intents")
    texts: list[str] = []
    scenarios: list[Callable[[], Any]] = [
        lambda: reply("payment_intent_requires_capture"),
        echoing_decline,
        lambda: httpx.Response(500, json={"error": {"type": "api_error", "message": ECHO}}),
        lambda: httpx.Response(
            401, json={"error": {"type": "invalid_request_error", "message": ECHO}}
        ),
        lambda: httpx.Response(
            400, json={"error": {"type": "invalid_request_error", "code": "x", "message": ECHO}}
        ),
        lambda: httpx.Response(418, text=ECHO),
    ]
    for make in scenarios:
        route.mock(side_effect=lambda request, make=make: make())
        try:
            texts += outputs_of_result(stripe.authorize(authorize_request()))
        except GatewayError as exc:
            texts += outputs_of(exc)
    for failure in (
        httpx.ReadTimeout(ECHO),
        httpx.ConnectError(ECHO),
        httpx.RemoteProtocolError(ECHO),
    ):
        route.mock(side_effect=failure)
        with pytest.raises(GatewayError) as info:
            stripe.authorize(authorize_request())
        texts += outputs_of(info.value)

    # The card did go out, in the request body only.
    assert all(CANARY_PAN in call.request.content.decode() for call in route.calls)
    texts += [r.getMessage() for r in caplog.records]
    texts += [r.exc_text or "" for r in caplog.records]
    assert len(caplog.records) > 0
    assert_clean(texts)


def test_webhook_raw_events_are_scrubbed(stripe: StripeConnector) -> None:
    event = {
        "id": "evt_1PqL6dLkdIwHu7ixEcho0002",
        "object": "event",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_3PqKx2LkdIwHu7ix0Def5678",
                "object": "charge",
                "payment_intent": "pi_3PqKx2LkdIwHu7ix0Abc1234",
                "description": ECHO,
                "payment_method_details": {"card": {"number": CANARY_PAN, "cvc": CANARY_CVV}},
            }
        },
    }
    body = json.dumps(event).encode()
    headers = {
        "Stripe-Signature": f"t={int(NOW)},v1={sign('whsec_test_9f8e7d6c5b4a', int(NOW), body)}"
    }

    (parsed,) = stripe.parse_webhook(headers, body, "")

    assert_clean([repr(parsed), json.dumps(parsed.raw)])
    assert "card" in parsed.raw["data"]["object"]["payment_method_details"]
