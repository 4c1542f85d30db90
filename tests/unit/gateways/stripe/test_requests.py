"""Stripe: the exact outgoing requests and the mapping of documented success responses."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import respx

from cardshield.gateways.base import GatewayStatus, Money
from cardshield.gateways.stripe import API_VERSION, StripeConnector
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.unit.gateways.stripe.conftest import (
    API_KEY,
    authorize_request,
    follow_up,
    reply,
)


def form(request: httpx.Request) -> list[tuple[str, str]]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return parse_qsl(request.content.decode("ascii"), keep_blank_values=True)


def assert_common_headers(request: httpx.Request, key: str | None) -> None:
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Stripe-Version"] == API_VERSION
    assert request.headers.get("Idempotency-Key") == key


def test_authorize_sends_one_confirmed_manual_capture_intent(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(
        return_value=reply("payment_intent_requires_capture")
    )

    result = stripe.authorize(authorize_request(metadata={"order": "1001"}))

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == "https://api.stripe.com/v1/payment_intents"
    assert_common_headers(request, "pay_01HZX8K2:authorize")
    assert form(request) == [
        ("amount", "2000"),
        ("currency", "usd"),
        ("capture_method", "manual"),
        ("confirm", "true"),
        ("payment_method_types[]", "card"),
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][number]", CANARY_PAN),
        ("payment_method_data[card][exp_month]", "12"),
        ("payment_method_data[card][exp_year]", "2030"),
        ("payment_method_data[card][cvc]", CANARY_CVV),
        ("description", "Order 1001"),
        ("metadata[order]", "1001"),
        ("metadata[cardshield_key]", "pay_01HZX8K2:authorize"),
        ("metadata[cardshield_reference]", "pay_01HZX8K2"),
    ]
    # The card number and CVC travel in their raw-card fields and nowhere else.
    assert [k for k, v in form(request) if CANARY_PAN in v] == ["payment_method_data[card][number]"]
    assert [k for k, v in form(request) if v == CANARY_CVV] == ["payment_method_data[card][cvc]"]
    assert CANARY_PAN not in str(request.url) and CANARY_PAN not in str(request.headers)

    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == "pi_3PqKx2LkdIwHu7ix0Abc1234"
    assert result.amount == 2000
    assert result.decline is None and result.next_action_url is None
    assert result.raw["latest_charge"] == "ch_3PqKx2LkdIwHu7ix0Def5678"


def test_sale_uses_automatic_capture_and_reports_the_amount_received(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(return_value=reply("payment_intent_succeeded"))

    result = stripe.authorize(authorize_request(capture=True))

    assert ("capture_method", "automatic") in form(route.calls.last.request)
    assert result.status is GatewayStatus.CAPTURED
    assert result.amount == 1500  # amount_received, not the requested amount


def test_three_d_secure_returns_the_redirect_url(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents").mock(
        return_value=reply("payment_intent_requires_action")
    )

    result = stripe.authorize(authorize_request(return_url="https://shop.example/checkout/return"))

    assert ("return_url", "https://shop.example/checkout/return") in form(route.calls.last.request)
    assert result.status is GatewayStatus.REQUIRES_ACTION
    assert result.connector_reference == "pi_3PqKz9LkdIwHu7ix1Ghi9012"
    assert result.next_action_url is not None
    assert result.next_action_url.startswith("https://hooks.stripe.com/3d_secure_2/hosted?")


def test_capture_posts_amount_to_capture_with_its_own_key(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/payment_intents/pi_3PqKx2LkdIwHu7ix0Abc1234/capture").mock(
        return_value=reply("payment_intent_succeeded")
    )

    result = stripe.capture(follow_up(1500, "pay_01HZX8K2:capture"))

    request = route.calls.last.request
    assert_common_headers(request, "pay_01HZX8K2:capture")
    assert form(request) == [("amount_to_capture", "1500")]
    assert result.status is GatewayStatus.CAPTURED
    assert result.amount == 1500


def test_void_cancels_the_intent(stripe: StripeConnector, api: respx.MockRouter) -> None:
    route = api.post("/v1/payment_intents/pi_3PqKx2LkdIwHu7ix0Abc1234/cancel").mock(
        return_value=reply("payment_intent_canceled")
    )

    result = stripe.void(follow_up(2000, "pay_01HZX8K2:void"))

    assert_common_headers(route.calls.last.request, "pay_01HZX8K2:void")
    assert form(route.calls.last.request) == [("cancellation_reason", "requested_by_customer")]
    assert result.status is GatewayStatus.VOIDED


def test_refund_posts_to_refunds_with_intent_amount_and_key(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/refunds").mock(return_value=reply("refund_succeeded"))

    result = stripe.refund(follow_up(500, "pay_01HZX8K2:refund:1"))

    assert_common_headers(route.calls.last.request, "pay_01HZX8K2:refund:1")
    assert form(route.calls.last.request) == [
        ("payment_intent", "pi_3PqKx2LkdIwHu7ix0Abc1234"),
        ("amount", "500"),
        ("metadata[cardshield_key]", "pay_01HZX8K2:refund:1"),
        ("metadata[cardshield_reference]", "pay_01HZX8K2"),
    ]
    assert result.status is GatewayStatus.REFUNDED
    assert result.connector_reference == "re_3PqKx2LkdIwHu7ix0Ref0001"
    assert result.amount == 500


def test_verify_confirms_a_setup_intent_and_charges_nothing(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.post("/v1/setup_intents").mock(return_value=reply("setup_intent_succeeded"))
    charge = api.post("/v1/payment_intents")

    result = stripe.verify(
        authorize_request(money=Money(0, "USD"), idempotency_key="pay_01HZXB22:verify")
    )

    fields = dict(form(route.calls.last.request))
    assert fields["confirm"] == "true" and fields["usage"] == "off_session"
    assert fields["payment_method_data[card][number]"] == CANARY_PAN
    assert "amount" not in fields
    assert route.calls.last.request.headers["Idempotency-Key"] == "pay_01HZXB22:verify"
    assert not charge.called
    assert result.status is GatewayStatus.VERIFIED
    assert result.connector_reference == "seti_1PqL3bLkdIwHu7ixStu45678"


def test_sync_by_intent_checks_its_refunds_then_the_intent(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    refunds = api.get("/v1/refunds").mock(return_value=reply("refund_list_empty"))
    intent = api.get("/v1/payment_intents/pi_3PqKx2LkdIwHu7ix0Abc1234").mock(
        return_value=reply("payment_intent_requires_capture")
    )

    result = stripe.sync("pay_01HZX8K2:capture", "pi_3PqKx2LkdIwHu7ix0Abc1234")

    assert refunds.calls.last.request.url.params["payment_intent"] == "pi_3PqKx2LkdIwHu7ix0Abc1234"
    assert intent.calls.last.request.method == "GET"
    assert "Idempotency-Key" not in intent.calls.last.request.headers
    assert result.status is GatewayStatus.AUTHORIZED


def test_sync_finds_a_refund_whose_answer_was_lost(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    api.get("/v1/refunds").mock(return_value=reply("refund_list"))
    intent = api.get("/v1/payment_intents/pi_3PqKx2LkdIwHu7ix0Abc1234")

    result = stripe.sync("pay_01HZX8K2:refund:1", "pi_3PqKx2LkdIwHu7ix0Abc1234")

    assert result.status is GatewayStatus.REFUNDED
    assert result.connector_reference == "re_3PqKx2LkdIwHu7ix0Ref0001"
    assert not intent.called


def test_sync_of_a_declined_intent_reports_the_decline(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    api.get("/v1/refunds").mock(return_value=reply("refund_list_empty"))
    api.get("/v1/payment_intents/pi_3PqL0aLkdIwHu7ix2Mno7890").mock(
        return_value=reply("payment_intent_declined_retrieved")
    )

    result = stripe.sync("pay_01HZXA11:authorize", "pi_3PqL0aLkdIwHu7ix2Mno7890")

    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None and result.decline.raw_code == "insufficient_funds"


def test_sync_without_reference_searches_by_our_key(
    stripe: StripeConnector, api: respx.MockRouter
) -> None:
    route = api.get("/v1/payment_intents/search").mock(return_value=reply("search_found"))

    result = stripe.sync("pay_01HZX8K2:authorize", None)

    query = route.calls.last.request.url.params["query"]
    assert query == "metadata['cardshield_key']:'pay_01HZX8K2:authorize'"
    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == "pi_3PqKx2LkdIwHu7ix0Abc1234"


def test_sync_miss_is_pending_not_failed(stripe: StripeConnector, api: respx.MockRouter) -> None:
    route = api.get("/v1/payment_intents/search").mock(return_value=reply("search_empty"))

    result = stripe.sync("it's:a\\key", None)

    assert route.calls.last.request.url.params["query"] == (
        "metadata['cardshield_key']:'it\\'s:a\\\\key'"
    )
    assert result.status is GatewayStatus.PENDING
    assert result.connector_reference is None
    assert result.raw == {"found": False}
