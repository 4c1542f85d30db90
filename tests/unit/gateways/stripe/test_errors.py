"""Stripe: declines, refused requests, HTTP errors, retries and timeouts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from cardshield.errors import ConfigError
from cardshield.gateways import GatewayError, GatewayTimeout, get_connector
from cardshield.gateways.base import GatewayStatus
from cardshield.gateways.declines import DeclineCode
from cardshield.gateways.http import (
    ProcessorAuthError,
    ProcessorOutcomeUnknown,
    ProcessorRateLimited,
)
from cardshield.gateways.stripe import StripeConnector
from tests.conftest import load_vectors
from tests.unit.gateways.stripe.conftest import RESPONSES, authorize_request, follow_up, reply

DECLINES = load_vectors("gateways/stripe/declines.json")["cases"]


def decline_body(case: dict[str, Any]) -> dict[str, Any]:
    intent = dict(RESPONSES["payment_intent_declined_retrieved"]["body"])
    error = {
        "charge": "ch_3PqL0aLkdIwHu7ix2Pqr1234",
        "code": case["code"],
        "doc_url": f"https://stripe.com/docs/error-codes/{case['code'].replace('_', '-')}",
        "message": case["message"],
        "payment_intent": intent,
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_Hj2Kl4Mn6Bv8?t=1724230500",
        "type": "card_error",
    }
    if case["decline_code"] is not None:
        error["decline_code"] = case["decline_code"]
    return {"error": error}


@pytest.mark.parametrize("case", DECLINES, ids=[c["raw"] for c in DECLINES])
def test_declines_are_results_with_unified_and_raw_codes(
    stripe: StripeConnector, api: respx.MockRouter, case: dict[str, Any]
) -> None:
    route = api.post("/v1/payment_intents").mock(
        return_value=httpx.Response(
            402, json=decline_body(case), headers={"Stripe-Should-Retry": "false"}
        )
    )

    result = stripe.authorize(authorize_request())

    assert route.call_count == 1  # a decline is an answer, never retried
    assert result.status is GatewayStatus.DECLINED
    assert result.connector_reference == "pi_3PqL0aLkdIwHu7ix2Mno7890"
    assert result.decline is not None
    assert result.decline.code == DeclineCode(case["unified"])
    assert result.decline.raw_code == case["raw"]
    assert result.decline.raw_message == case["message"]


def test_setup_intent_decline_is_a_declined_verify(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    body = {
        "error": {
            "code": "card_declined",
            "decline_code": "do_not_honor",
            "message": "Your card was declined.",
            "setup_intent": {"id": "seti_1PqL4cLkdIwHu7ixBcd12345", "object": "setup_intent"},
            "type": "card_error",
        }
    }
    api.post("/v1/setup_intents").mock(return_value=httpx.Response(402, json=body))

    result = stripe.verify(authorize_request())

    assert result.status is GatewayStatus.DECLINED
    assert result.connector_reference == "seti_1PqL4cLkdIwHu7ixBcd12345"
    assert result.decline is not None and result.decline.code is DeclineCode.DO_NOT_HONOR


@pytest.mark.parametrize(
    ("fixture", "raw_code"),
    [
        ("error_invalid_request", "payment_intent_unexpected_state"),
        ("error_resource_missing", "resource_missing"),
    ],
)
def test_refused_requests_are_failed_results(
    stripe: StripeConnector, api: respx.MockRouter, fixture: str, raw_code: str
) -> None:
    route = api.post("/v1/payment_intents/pi_3PqKx2LkdIwHu7ix0Abc1234/capture").mock(
        return_value=reply(fixture)
    )

    result = stripe.capture(follow_up(2000, "pay_01HZX8K2:capture"))

    assert route.call_count == 1
    assert result.status is GatewayStatus.FAILED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.INVALID_REQUEST
    assert result.decline.raw_code == raw_code


def test_bad_credentials_raise_without_retrying(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(return_value=reply("error_authentication"))

    with pytest.raises(ProcessorAuthError) as info:
        stripe.authorize(authorize_request())

    assert route.call_count == 1
    assert isinstance(info.value, GatewayError)
    assert "sk_test_51Ab" not in str(info.value)  # Stripe masks the key; we never add it


def test_rate_limit_is_retried_with_the_same_idempotency_key(
    stripe: StripeConnector, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/v1/payment_intents").mock(
        side_effect=[reply("error_rate_limit"), reply("payment_intent_requires_capture")]
    )

    result = stripe.authorize(authorize_request())

    assert result.status is GatewayStatus.AUTHORIZED
    assert route.call_count == 2
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    bodies = {call.request.content for call in route.calls}
    assert keys == {"pay_01HZX8K2:authorize"} and len(bodies) == 1
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 0.25


def test_rate_limit_that_persists_raises_rate_limited(
    stripe: StripeConnector, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/v1/payment_intents").mock(return_value=reply("error_rate_limit"))

    with pytest.raises(ProcessorRateLimited):
        stripe.authorize(authorize_request())

    assert route.call_count == 3  # the first try and two retries
    assert len(sleeps) == 2 and sleeps[1] <= 0.5  # full jitter under base * 2^n


def test_server_errors_are_retried_then_reported_as_outcome_unknown(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(return_value=reply("error_api"))

    with pytest.raises(ProcessorOutcomeUnknown) as info:
        stripe.authorize(authorize_request())

    assert route.call_count == 3
    assert isinstance(info.value, GatewayTimeout)  # the payment service syncs on it


def test_stripe_should_retry_false_is_obeyed(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(
        return_value=reply("error_api", **{"Stripe-Should-Retry": "false"})
    )

    with pytest.raises(ProcessorOutcomeUnknown):
        stripe.authorize(authorize_request())

    assert route.call_count == 1


def test_server_error_then_success(stripe: StripeConnector, api: respx.MockRouter) -> None:
    route = api.post("/v1/refunds").mock(
        side_effect=[reply("error_api"), reply("refund_succeeded")]
    )

    result = stripe.refund(follow_up(500, "pay_01HZX8K2:refund:1"))

    assert result.status is GatewayStatus.REFUNDED
    assert route.call_count == 2


def test_read_timeouts_are_retried_then_raise_gateway_timeout(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(GatewayTimeout) as info:
        stripe.authorize(authorize_request())

    assert route.call_count == 3
    assert not isinstance(info.value.__cause__, httpx.HTTPError)  # sanitized stand-in
    assert info.value.__context__ is None


def test_timeout_then_stored_answer(stripe: StripeConnector, api: respx.MockRouter) -> None:
    route = api.post("/v1/payment_intents").mock(
        side_effect=[httpx.ReadTimeout("timed out"), reply("payment_intent_requires_capture")]
    )

    assert stripe.authorize(authorize_request()).status is GatewayStatus.AUTHORIZED
    assert route.call_count == 2


def test_unreachable_is_a_gateway_error_not_a_timeout(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(GatewayError) as info:
        stripe.authorize(authorize_request())

    assert not isinstance(info.value, GatewayTimeout)  # nothing was sent: nothing happened
    assert route.call_count == 3


def test_reused_key_with_other_parameters_means_outcome_unknown(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(return_value=reply("error_idempotency"))

    with pytest.raises(ProcessorOutcomeUnknown):
        stripe.authorize(authorize_request())

    assert route.call_count == 1


def test_sync_read_failure_is_a_plain_gateway_error(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    api.get("/v1/payment_intents/search").mock(return_value=reply("error_api"))

    with pytest.raises(GatewayError) as info:
        stripe.sync("pay_01HZX8K2:authorize", None)

    assert not isinstance(info.value, GatewayTimeout)


@pytest.mark.parametrize(
    "options",
    [{}, {"api_key": "pk_test_123"}, {"api_key": 42}],
    ids=["missing", "publishable", "not-a-string"],
)
def test_build_requires_a_secret_key(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        get_connector("stripe", options)
