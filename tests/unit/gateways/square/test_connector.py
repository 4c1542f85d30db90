"""Square connector against recorded Payments/Refunds API answers."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest
import respx

from cardshield.cards import CVV, PAN, Expiry
from cardshield.errors import ConfigError, InvalidRequestError
from cardshield.gateways import get_connector
from cardshield.gateways.base import (
    AuthorizeRequest,
    GatewayError,
    GatewayStatus,
    GatewayTimeout,
    Money,
)
from cardshield.gateways.declines import DeclineCode
from cardshield.gateways.http import (
    ProcessorAuthError,
    ProcessorOutcomeUnknown,
    ProcessorRateLimited,
)
from cardshield.gateways.square import SquareConnector, UnsupportedByConnector, build
from cardshield.vault.service import CardData
from tests.unit.gateways.square.conftest import (
    BASE,
    OPTIONS,
    PAYMENT_ID,
    TOKEN,
    VERSION,
    follow_up,
    source_request,
    vectors,
)

P = vectors("payments")


def _body(route: respx.Route, index: int = -1) -> dict[str, object]:
    return json.loads(route.calls[index].request.content)


def _assert_headers(request: httpx.Request) -> None:
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Square-Version"] == VERSION
    assert request.headers["Content-Type"] == "application/json"


def _raw_card_request() -> AuthorizeRequest:
    card = CardData(pan=PAN("4111111111111111"), expiry=Expiry(2030, 11), cvv=CVV("111"))
    return AuthorizeRequest(
        money=Money(1000, "USD"),
        card=card,
        capture=False,
        idempotency_key="idem-pay_0001-authorize",
        merchant_account="L88917AVBK2S5",
        reference="pay_0001",
    )


def test_raw_card_data_is_refused_before_any_call(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    for operation in (square.authorize, square.verify):
        with pytest.raises(UnsupportedByConnector) as info:
            operation(_raw_card_request())
        assert info.value.code == "unsupported_by_connector"
        assert info.value.http_status == 400
        assert "Web Payments SDK" in info.value.message
    assert not respx_mock.calls


def test_a_pan_passed_as_source_id_is_refused(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(UnsupportedByConnector) as info:
        square.authorize_source(source_request(source_id="4111 1111 1111 1111"))
    assert info.value.param == "source_id"
    assert not respx_mock.calls


def test_authorize_source_sends_the_documented_create_payment(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").respond(200, json=P["approved"])
    result = square.authorize_source(
        source_request(customer_id="W92WH6P11H4Z77CTET0RNTGFW8", verification_token="verf:abc")
    )
    request = route.calls[0].request
    _assert_headers(request)
    assert "Idempotency-Key" not in request.headers  # Square takes it in the body
    assert _body(route) == {
        "source_id": "cnon:card-nonce-ok",
        "idempotency_key": "idem-pay_0001-authorize",
        "amount_money": {"amount": 1000, "currency": "USD"},
        "autocomplete": False,
        "location_id": "L88917AVBK2S5",
        "reference_id": "pay_0001",
        "customer_id": "W92WH6P11H4Z77CTET0RNTGFW8",
        "verification_token": "verf:abc",
    }
    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == PAYMENT_ID
    assert result.amount == 1000
    assert result.raw["payment"]["card_details"]["card"]["last_4"] == "1111"


def test_a_sale_autocompletes(square: SquareConnector, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").respond(200, json=P["completed"])
    result = square.authorize_source(source_request(capture=True, location_id="LOC2"))
    assert _body(route)["autocomplete"] is True
    assert _body(route)["location_id"] == "LOC2"
    assert result.status is GatewayStatus.CAPTURED


@pytest.mark.parametrize("http_status", [400, 402])
@pytest.mark.parametrize("case", P["declines"], ids=lambda c: c["raw_code"])
def test_declines_map_to_unified_codes(
    square: SquareConnector, respx_mock: respx.MockRouter, case: dict[str, object], http_status: int
) -> None:
    answer = {"errors": case["errors"], "payment": P["failed_payment"]}
    route = respx_mock.post(f"{BASE}/v2/payments").respond(http_status, json=answer)
    result = square.authorize_source(source_request())
    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None
    assert result.decline.code == DeclineCode(str(case["unified"]))
    assert result.decline.raw_code == case["raw_code"]
    assert result.connector_reference == P["failed_payment"]["id"]
    assert route.call_count == 1


def test_failed_payment_with_success_status_is_still_a_decline(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(f"{BASE}/v2/payments").respond(200, json={"payment": P["failed_payment"]})
    result = square.authorize_source(source_request())
    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None and result.decline.code is DeclineCode.CARD_DECLINED


def test_capture_completes_the_approved_payment(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    get = respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(200, json=P["approved"])
    complete = respx_mock.post(f"{BASE}/v2/payments/{PAYMENT_ID}/complete").respond(
        200, json=P["completed"]
    )
    result = square.capture(follow_up())
    _assert_headers(get.calls[0].request)
    _assert_headers(complete.calls[0].request)
    assert _body(complete) == {}
    assert result.status is GatewayStatus.CAPTURED
    assert result.connector_reference == PAYMENT_ID


def test_partial_capture_lowers_the_amount_first(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(200, json=P["approved"])
    update = respx_mock.put(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(
        200, json=P["updated_amount"]
    )
    respx_mock.post(f"{BASE}/v2/payments/{PAYMENT_ID}/complete").respond(
        200, json=P["partially_completed"]
    )
    result = square.capture(follow_up(amount=600))
    digest = hashlib.sha256(b"idem-pay_0001-capture-1\x1fupdate-amount").digest()
    assert _body(update) == {
        "idempotency_key": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "payment": {
            "amount_money": {"amount": 600, "currency": "USD"},
            "version_token": P["approved"]["payment"]["version_token"],
        },
    }
    assert result.status is GatewayStatus.CAPTURED
    assert result.amount == 600


def test_capture_of_a_completed_payment_does_not_complete_again(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(200, json=P["completed"])
    result = square.capture(follow_up())
    assert result.status is GatewayStatus.CAPTURED
    assert len(respx_mock.calls) == 1  # the GET only


def test_complete_refused_as_already_captured_reads_the_payment(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    get = respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}")
    get.side_effect = [
        httpx.Response(200, json=P["approved"]),
        httpx.Response(200, json=P["completed"]),
    ]
    respx_mock.post(f"{BASE}/v2/payments/{PAYMENT_ID}/complete").respond(
        400, json=P["error_already_captured"]
    )
    assert square.capture(follow_up()).status is GatewayStatus.CAPTURED


def test_void_cancels_the_payment(square: SquareConnector, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments/{PAYMENT_ID}/cancel").respond(
        200, json=P["canceled"]
    )
    result = square.void(follow_up())
    _assert_headers(route.calls[0].request)
    assert _body(route) == {}
    assert result.status is GatewayStatus.VOIDED

    route.respond(400, json=P["error_already_canceled"])
    respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(200, json=P["canceled"])
    assert square.void(follow_up()).status is GatewayStatus.VOIDED


def test_refund_sends_the_key_in_the_body(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/refunds").respond(200, json=P["refund_pending"])
    result = square.refund(follow_up(amount=250, key="idem-pay_0001-refund-1"))
    _assert_headers(route.calls[0].request)
    assert _body(route) == {
        "idempotency_key": "idem-pay_0001-refund-1",
        "amount_money": {"amount": 250, "currency": "USD"},
        "payment_id": PAYMENT_ID,
    }
    assert result.status is GatewayStatus.PENDING  # Square completes refunds asynchronously
    assert result.connector_reference == P["refund_pending"]["refund"]["id"]
    assert result.amount == 250


def test_declined_refund_is_a_result(square: SquareConnector, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/v2/refunds").respond(400, json=P["refund_declined"])
    result = square.refund(follow_up(amount=250))
    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None and result.decline.raw_code == "REFUND_DECLINED"


def test_sync_reads_the_payment(square: SquareConnector, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(200, json=P["completed"])
    result = square.sync("idem-pay_0001-authorize", PAYMENT_ID)
    _assert_headers(route.calls[0].request)
    assert result.status is GatewayStatus.CAPTURED


def test_sync_without_a_payment_id_explains_the_recovery(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(UnsupportedByConnector, match="cancel_by_idempotency_key"):
        square.sync("idem-pay_0001-authorize", None)
    route = respx_mock.post(f"{BASE}/v2/payments/cancel").respond(200, json={})
    assert (
        square.cancel_by_idempotency_key("idem-pay_0001-authorize").status is GatewayStatus.VOIDED
    )
    assert _body(route) == {"idempotency_key": "idem-pay_0001-authorize"}


def test_unauthorized_raises_without_retrying(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").respond(401, json=P["error_401"])
    with pytest.raises(ProcessorAuthError, match="AUTHENTICATION_ERROR UNAUTHORIZED"):
        square.authorize_source(source_request())
    assert route.call_count == 1


@pytest.mark.parametrize("fixture", ["error_400_reference", "error_token_used"])
def test_invalid_requests_raise_with_squares_code(
    square: SquareConnector, respx_mock: respx.MockRouter, fixture: str
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").respond(400, json=P[fixture])
    with pytest.raises(GatewayError, match=P[fixture]["errors"][0]["code"]):
        square.authorize_source(source_request())
    assert route.call_count == 1


def test_long_references_are_refused_locally(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(InvalidRequestError, match="40"):
        square.authorize_source(source_request(reference="p" * 41))
    assert not respx_mock.calls


def test_rate_limit_is_retried_with_the_same_body(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments")
    route.side_effect = [
        httpx.Response(429, json=P["error_429"]),
        httpx.Response(500, json=P["error_500"]),
        httpx.Response(200, json=P["approved"]),
    ]
    assert square.authorize_source(source_request()).status is GatewayStatus.AUTHORIZED
    assert route.call_count == 3
    assert len({call.request.content for call in route.calls}) == 1


def test_rate_limit_exhausts_the_retries(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").respond(429, json=P["error_429"])
    with pytest.raises(ProcessorRateLimited):
        square.authorize_source(source_request())
    assert route.call_count == 3


def test_server_errors_on_a_payment_leave_the_outcome_unknown(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").respond(500, json=P["error_500"])
    with pytest.raises(ProcessorOutcomeUnknown, match="HTTP 500"):
        square.authorize_source(source_request())
    assert route.call_count == 3
    respx_mock.get(f"{BASE}/v2/payments/{PAYMENT_ID}").respond(500, json=P["error_500"])
    with pytest.raises(GatewayError) as info:  # a failed read is just an error
        square.sync("k", PAYMENT_ID)
    assert type(info.value) is GatewayError


def test_timeouts_raise_gateway_timeout(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"{BASE}/v2/payments").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(GatewayTimeout):
        square.authorize_source(source_request())
    assert route.call_count == 3
    respx_mock.post(f"{BASE}/v2/refunds").respond(504, json={"errors": []})
    with pytest.raises(GatewayTimeout):
        square.refund(follow_up(amount=250))


def test_long_idempotency_keys_become_a_stable_digest(
    square: SquareConnector, respx_mock: respx.MockRouter
) -> None:
    key = "merchant_42:" + "k" * 80 + ":authorize"
    route = respx_mock.post(f"{BASE}/v2/payments").respond(200, json=P["approved"])
    square.authorize_source(source_request(idempotency_key=key))
    square.authorize_source(source_request(idempotency_key=key))
    sent = [json.loads(c.request.content)["idempotency_key"] for c in route.calls]
    assert sent[0] == sent[1]
    assert len(sent[0]) <= 45


def test_build_reads_options_and_the_registry_finds_it() -> None:
    connector = get_connector("square", {**OPTIONS, "environment": "production"})
    assert isinstance(connector, SquareConnector)
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"https://connect.squareup.com/v2/payments/{PAYMENT_ID}").respond(
            200, json=P["approved"]
        )
        assert connector.sync("k", PAYMENT_ID).status is GatewayStatus.AUTHORIZED
    connector.close()
    with pytest.raises(ConfigError, match="access_token"):
        build({"location_id": "L1"})
    with pytest.raises(ConfigError, match="environment"):
        build({**OPTIONS, "environment": "staging"})
    no_location = build({"access_token": TOKEN})
    with pytest.raises(ConfigError, match="location"):
        no_location.authorize_source(source_request())
    no_location.close()
