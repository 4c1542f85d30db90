"""Adyen connector against recorded Checkout API answers: exact requests, mapped results."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
import respx

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError
from cardshield.gateways import get_connector
from cardshield.gateways.adyen import AdyenConnector, build
from cardshield.gateways.adyen.connector import RETRY_STATUSES
from cardshield.gateways.base import GatewayError, GatewayStatus, GatewayTimeout
from cardshield.gateways.declines import DeclineCode
from cardshield.gateways.http import (
    ProcessorAuthError,
    ProcessorClient,
    ProcessorOutcomeUnknown,
    RetryPolicy,
    TransportFailure,
)
from tests.unit.gateways.adyen.conftest import (
    ADYEN_TEST_PAN,
    API_KEY,
    BASE,
    OPTIONS,
    auth_request,
    follow_up,
    vectors,
)

PAYMENTS = vectors("payments")
MODS = vectors("modifications")


def _sent(route: respx.Route, index: int = -1) -> tuple[httpx.Request, dict[str, object]]:
    request = route.calls[index].request
    return request, json.loads(request.content)


def test_authorize_sends_the_documented_raw_card_request(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(200, json=PAYMENTS["authorised"])
    result = adyen.authorize(auth_request())
    request, body = _sent(route)
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/payments"
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Idempotency-Key"] == "idem-pay_0001-authorize"
    assert request.headers["Content-Type"] == "application/json"
    assert body == {
        "amount": {"value": 1000, "currency": "EUR"},
        "reference": "pay_0001",
        "merchantAccount": "CardshieldTest",
        "paymentMethod": {
            "type": "scheme",
            "number": ADYEN_TEST_PAN,
            "expiryMonth": "03",
            "expiryYear": "2030",
            "cvc": "737",
        },
        "shopperInteraction": "Ecommerce",
        "channel": "Web",
        "returnUrl": "https://shop.example/return",
        "additionalData": {"manualCapture": "true"},
    }
    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == "DZ4DPSHB4WD2WN82"
    assert result.amount == 1000
    assert result.decline is None
    assert result.raw["additionalData"]["authCode"] == "058513"


def test_sale_leaves_capture_to_adyen_and_reports_captured(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(200, json=PAYMENTS["authorised"])
    result = adyen.authorize(auth_request(capture=True, metadata={"order": "A-17"}))
    _, body = _sent(route)
    assert "additionalData" not in body
    assert body["metadata"] == {"order": "A-17"}
    assert result.status is GatewayStatus.CAPTURED


def test_verify_is_a_zero_value_authorization(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(200, json=PAYMENTS["authorised_zero"])
    result = adyen.verify(auth_request(key="idem-pay_0003-verify"))
    _, body = _sent(route)
    assert body["amount"] == {"value": 0, "currency": "EUR"}
    assert result.status is GatewayStatus.VERIFIED
    assert result.connector_reference == "QFQTPCQ8HXSKGK82"


@pytest.mark.parametrize("refusal", PAYMENTS["refused"], ids=lambda r: r["refusalReasonCode"])
def test_refusals_map_to_unified_codes_keeping_the_raw_code(
    adyen: AdyenConnector, refusal: dict[str, str], respx_mock: respx.MockRouter
) -> None:
    answer = {
        "pspReference": "V4HZ4RBFJGXXGN82",
        "resultCode": "Refused",
        "refusalReason": refusal["refusalReason"],
        "refusalReasonCode": refusal["refusalReasonCode"],
        "merchantReference": "pay_0001",
    }
    respx_mock.post(f"{BASE}/payments").respond(200, json=answer)
    result = adyen.authorize(auth_request())
    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None
    assert result.decline.code == DeclineCode(refusal["unified"])
    assert result.decline.raw_code == refusal["refusalReasonCode"]
    assert result.decline.raw_message == refusal["refusalReason"]
    assert result.connector_reference == "V4HZ4RBFJGXXGN82"


def test_error_result_code_is_a_failure_with_processing_error(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{BASE}/payments").respond(200, json=PAYMENTS["error_result"])
    result = adyen.authorize(auth_request())
    assert result.status is GatewayStatus.FAILED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.PROCESSING_ERROR
    assert result.decline.raw_code == "4"


def test_3ds_redirect_requires_action_with_adyens_url(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{BASE}/payments").respond(200, json=PAYMENTS["redirect_shopper"])
    result = adyen.authorize(auth_request())
    assert result.status is GatewayStatus.REQUIRES_ACTION
    assert result.next_action_url == PAYMENTS["redirect_shopper"]["action"]["url"]


@pytest.mark.parametrize(
    ("method", "path", "fixture", "expected_body"),
    [
        (
            "capture",
            "captures",
            "capture",
            {
                "merchantAccount": "CardshieldTest",
                "amount": {"value": 600, "currency": "EUR"},
                "reference": "cap_0001",
            },
        ),
        (
            "void",
            "cancels",
            "cancel",
            {"merchantAccount": "CardshieldTest", "reference": "cap_0001"},
        ),
        (
            "refund",
            "refunds",
            "refund",
            {
                "merchantAccount": "CardshieldTest",
                "amount": {"value": 600, "currency": "EUR"},
                "reference": "cap_0001",
            },
        ),
    ],
)
def test_modifications_post_to_the_payment_and_wait_for_the_webhook(
    adyen: AdyenConnector,
    method: str,
    path: str,
    fixture: str,
    expected_body: dict[str, object],
    respx_mock: respx.MockRouter,
) -> None:
    route = respx_mock.post(f"{BASE}/payments/DZ4DPSHB4WD2WN82/{path}").respond(
        201, json=MODS[fixture]
    )
    result = getattr(adyen, method)(follow_up())
    request, body = _sent(route)
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Idempotency-Key"] == "idem-pay_0001-capture-1"
    assert body == expected_body
    # "received": Adyen reports the outcome in a CAPTURE / CANCELLATION / REFUND webhook.
    assert result.status is GatewayStatus.PENDING
    assert result.connector_reference == MODS[fixture]["pspReference"]
    assert result.raw["paymentPspReference"] == "DZ4DPSHB4WD2WN82"


def test_unauthorized_raises_without_retrying(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(401, json=PAYMENTS["error_401"])
    with pytest.raises(GatewayError) as info:
        adyen.authorize(auth_request())
    assert type(info.value) is ProcessorAuthError
    assert "401" in info.value.message and "security" in info.value.message
    assert route.call_count == 1


def test_invalid_card_number_422_is_a_decline(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{BASE}/payments").respond(422, json=PAYMENTS["error_422_invalid_card"])
    result = adyen.authorize(auth_request())
    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.INCORRECT_NUMBER
    assert result.decline.raw_code == "101"


def test_other_validation_errors_raise_with_adyens_code(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(
        422, json=PAYMENTS["error_422_missing_amount"]
    )
    with pytest.raises(GatewayError, match="validation 100"):
        adyen.authorize(auth_request())
    assert route.call_count == 1  # a 422 is an answer, not a transient failure


def test_rate_limit_is_retried_with_the_same_idempotency_key(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments")
    route.side_effect = [
        httpx.Response(429, json=PAYMENTS["error_429"]),
        httpx.Response(200, json=PAYMENTS["authorised"]),
    ]
    result = adyen.authorize(auth_request())
    assert result.status is GatewayStatus.AUTHORIZED
    assert route.call_count == 2
    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    bodies = {call.request.content for call in route.calls}
    assert keys == {"idem-pay_0001-authorize"}
    assert len(bodies) == 1  # the replay is the identical request


def test_retry_after_and_jittered_backoff_are_honoured(respx_mock: respx.MockRouter) -> None:
    waits: list[float] = []
    client = ProcessorClient(
        BASE,
        policy=RetryPolicy(retries=2, base_delay_s=0.5, max_delay_s=4.0),
        retry_statuses=RETRY_STATUSES,
        sleep=waits.append,
        rand=lambda: 1.0,
    )
    adyen = AdyenConnector(client, Secret(API_KEY), merchant_account="CardshieldTest")
    route = respx_mock.post(f"{BASE}/payments")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "2"}, json=PAYMENTS["error_429"]),
        httpx.Response(503, json=PAYMENTS["error_500"]),
        httpx.Response(200, json=PAYMENTS["authorised"]),
    ]
    assert adyen.authorize(auth_request()).status is GatewayStatus.AUTHORIZED
    # Retry-After first, then base * 2**1 (the jitter draw pinned to its maximum).
    assert waits == [2.0, 1.0]


def test_server_errors_exhaust_the_retries(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(500, json=PAYMENTS["error_500"])
    with pytest.raises(GatewayError) as info:
        adyen.authorize(auth_request())
    # A POST that failed on Adyen's side may have been acted on: outcome unknown.
    assert type(info.value) is ProcessorOutcomeUnknown
    assert route.call_count == 3


def test_adyen_gateway_timeout_means_outcome_unknown(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{BASE}/payments").respond(504, json=PAYMENTS["error_504"])
    with pytest.raises(GatewayTimeout):
        adyen.authorize(auth_request())


def test_read_timeouts_are_retried_then_raise_gateway_timeout(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(GatewayTimeout) as info:
        adyen.authorize(auth_request())
    assert info.value.code == "gateway_timeout"
    assert isinstance(info.value.__cause__, TransportFailure)
    assert info.value.__context__ is None or not isinstance(info.value.__context__, httpx.HTTPError)
    assert route.call_count == 3


def test_without_an_idempotency_key_nothing_sent_is_replayed(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments").respond(503, json=PAYMENTS["error_500"])
    with pytest.raises(GatewayError):
        adyen.authorize(auth_request(key=""))
    assert route.call_count == 1
    assert "Idempotency-Key" not in route.calls[0].request.headers

    route.reset()
    route.mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(GatewayTimeout):
        adyen.authorize(auth_request(key=""))
    assert route.call_count == 1


def test_requests_that_never_left_are_retried_even_without_a_key(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/payments")
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.Response(200, json=PAYMENTS["authorised"]),
    ]
    assert adyen.authorize(auth_request(key="")).status is GatewayStatus.AUTHORIZED
    assert route.call_count == 2

    route.reset()
    route.side_effect = httpx.ConnectError("refused")
    with pytest.raises(GatewayError) as info:
        adyen.authorize(auth_request())
    assert type(info.value) is GatewayError  # certainly not charged: not a timeout


def test_long_idempotency_keys_become_a_stable_64_character_digest(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    key = "merchant_42:" + "k" * 200 + ":authorize"
    route = respx_mock.post(f"{BASE}/payments").respond(200, json=PAYMENTS["authorised"])
    adyen.authorize(auth_request(key=key))
    adyen.authorize(auth_request(key=key))
    sent = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert sent == [hashlib.sha256(key.encode()).hexdigest()] * 2
    assert len(sent[0]) == 64


def test_sync_has_no_lookup_call_and_defers_to_webhooks(
    adyen: AdyenConnector, respx_mock: respx.MockRouter
) -> None:
    result = adyen.sync("idem-pay_0001-authorize", "DZ4DPSHB4WD2WN82")
    assert result.status is GatewayStatus.PENDING
    assert result.connector_reference == "DZ4DPSHB4WD2WN82"
    assert not respx_mock.calls  # any HTTP call would have failed assert_all_mocked


def test_build_reads_options_and_the_registry_finds_it() -> None:
    connector = get_connector("adyen", {**OPTIONS, "live_url_prefix": "1797a841fbb37ca7-AdyenDemo"})
    assert isinstance(connector, AdyenConnector)
    assert connector.name == "adyen"
    with respx.mock(assert_all_called=True) as mock:
        live = "https://1797a841fbb37ca7-AdyenDemo-checkout-live.adyenpayments.com/checkout/v71"
        mock.post(f"{live}/payments").respond(200, json=PAYMENTS["authorised"])
        assert connector.authorize(auth_request()).status is GatewayStatus.AUTHORIZED
    connector.close()


def test_build_refuses_missing_settings() -> None:
    with pytest.raises(ConfigError, match="api_key"):
        build({"merchant_account": "CardshieldTest"})
    connector = build({"api_key": API_KEY})
    with pytest.raises(ConfigError, match="merchant account"):
        connector.authorize(auth_request(merchant_account=""))
    connector.close()
