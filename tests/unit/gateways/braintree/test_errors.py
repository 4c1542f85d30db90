"""Braintree: declines, rejections, repeat-safe capture/void, refusals, HTTP failures and
the retry rules (never re-send a mutation unless At-Most-Once is on)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from cardshield.errors import ConfigError
from cardshield.gateways import GatewayError, GatewayTimeout, get_connector
from cardshield.gateways.base import GatewayStatus
from cardshield.gateways.braintree import BraintreeConnector
from cardshield.gateways.declines import DeclineCode
from cardshield.gateways.http import (
    ProcessorAuthError,
    ProcessorOutcomeUnknown,
    ProcessorRateLimited,
)
from tests.conftest import load_vectors
from tests.unit.gateways.braintree.conftest import (
    MERCHANT,
    PREFIX,
    PRIVATE_KEY,
    PUBLIC_KEY,
    authorize_request,
    body,
    collection,
    follow_up,
    ids,
    make,
    reply,
    xml,
)

DECLINES = load_vectors("gateways/braintree/declines.json")["cases"]


def declined(code: str, text: str) -> httpx.Response:
    template = xml("processor_declined.xml")
    assert template.count("<processor-response-code>2001<") == 1
    filled = template.replace(
        "<processor-response-code>2001<", f"<processor-response-code>{code}<"
    ).replace("<processor-response-text>Insufficient Funds<", f"<processor-response-text>{text}<")
    return httpx.Response(422, text=filled)


@pytest.mark.parametrize("case", DECLINES, ids=[c["code"] for c in DECLINES])
def test_processor_declines_map_to_unified_codes(
    bt: BraintreeConnector, api: respx.MockRouter, case: dict[str, Any]
) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(
        return_value=declined(case["code"], case["text"])
    )

    result = bt.authorize(authorize_request())

    assert route.call_count == 1
    assert result.status is GatewayStatus.DECLINED
    assert result.connector_reference == "8x2kq4vd"
    assert result.decline is not None
    assert result.decline.code == DeclineCode(case["unified"])
    assert result.decline.raw_code == case["code"]
    assert result.decline.raw_message == case["text"]


def test_gateway_rejection_for_cvv(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    api.post(f"{PREFIX}/transactions").mock(return_value=reply("gateway_rejected_cvv.xml"))

    result = bt.authorize(authorize_request())

    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.INCORRECT_CVC
    assert result.decline.raw_code == "gateway_rejected:cvv"


def test_duplicate_rejection_answers_with_the_original_sale(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.post(f"{PREFIX}/transactions").mock(return_value=reply("gateway_rejected_duplicate.xml"))
    search = api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(
        return_value=ids("8x2kq4vd")
    )
    api.post(f"{PREFIX}/transactions/advanced_search").mock(
        return_value=collection("transaction_authorized.xml")
    )

    result = bt.authorize(authorize_request())

    assert body(search.calls.last.request).findtext("order_id/is") == "pay_01HZX8K2:authorize"
    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == "8x2kq4vd"


def test_capture_repeated_after_a_lost_answer_reports_the_capture(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.put(f"{PREFIX}/transactions/8x2kq4vd/submit_for_settlement").mock(
        return_value=reply("validation_cannot_submit_for_settlement.xml")
    )
    api.get(f"{PREFIX}/transactions/8x2kq4vd").mock(return_value=reply("transaction_submitted.xml"))

    again = bt.capture(follow_up(1500, "pay_01HZX8K2:capture"))
    other_amount = bt.capture(follow_up(2000, "pay_01HZX8K2:capture"))

    assert again.status is GatewayStatus.CAPTURED and again.amount == 1500
    assert other_amount.status is GatewayStatus.FAILED
    assert other_amount.decline is not None and other_amount.decline.raw_code == "91507"


def test_void_repeated_reports_the_void(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    api.put(f"{PREFIX}/transactions/8x2kq4vd/void").mock(
        return_value=reply("validation_cannot_be_voided.xml")
    )
    find = api.get(f"{PREFIX}/transactions/8x2kq4vd").mock(
        return_value=reply("transaction_voided.xml")
    )

    assert bt.void(follow_up(2000, "pay_01HZX8K2:void")).status is GatewayStatus.VOIDED

    find.mock(return_value=reply("transaction_submitted.xml"))  # settled: too late to void
    refused = bt.void(follow_up(2000, "pay_01HZX8K2:void"))
    assert refused.status is GatewayStatus.FAILED
    assert refused.decline is not None and refused.decline.raw_code == "91504"


def test_refund_of_an_unsettled_sale_is_refused(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    api.post(f"{PREFIX}/transactions/8x2kq4vd/refund").mock(
        return_value=reply("validation_cannot_refund_unless_settled.xml")
    )

    result = bt.refund(follow_up(500, "pay_01HZX8K2:refund:1"))

    assert result.status is GatewayStatus.FAILED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.INVALID_REQUEST
    assert result.decline.raw_code == "91506"


def test_unknown_transaction_is_a_failed_result(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.put(f"{PREFIX}/transactions/nope1234/submit_for_settlement").mock(
        return_value=httpx.Response(404)
    )

    result = bt.capture(follow_up(100, "k", ref="nope1234"))

    assert result.status is GatewayStatus.FAILED
    assert result.decline is not None and result.decline.raw_code == "not_found"


def test_verification_decline(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    api.post(f"{PREFIX}/verifications").mock(return_value=reply("verification_declined.xml"))

    result = bt.verify(authorize_request())

    assert result.status is GatewayStatus.DECLINED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.INCORRECT_CVC
    assert result.decline.raw_code == "2010"


def test_bad_credentials(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(return_value=httpx.Response(401))

    with pytest.raises(ProcessorAuthError):
        bt.authorize(authorize_request())
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(500), ProcessorOutcomeUnknown),
        (httpx.Response(503), ProcessorOutcomeUnknown),
        (httpx.Response(429), ProcessorRateLimited),
        (httpx.ReadTimeout("slow"), GatewayTimeout),
        (httpx.RemoteProtocolError("dropped"), ProcessorOutcomeUnknown),
    ],
    ids=["500", "503", "429", "timeout", "dropped"],
)
def test_a_sale_is_never_resent_once_it_may_have_arrived(
    bt: BraintreeConnector,
    api: respx.MockRouter,
    response: httpx.Response | Exception,
    expected: type[GatewayError],
) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(
        side_effect=[response, reply("transaction_authorized.xml", 201)]
    )

    with pytest.raises(expected):
        bt.authorize(authorize_request())

    assert route.call_count == 1


def test_a_sale_that_never_left_is_sent_again(
    bt: BraintreeConnector, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(
        side_effect=[httpx.ConnectError("refused"), reply("transaction_authorized.xml", 201)]
    )

    assert bt.authorize(authorize_request()).status is GatewayStatus.AUTHORIZED
    assert route.call_count == 2 and len(sleeps) == 1


def test_reads_are_retried(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    find = api.get(f"{PREFIX}/transactions/8x2kq4vd").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            reply("transaction_voided.xml"),
        ]
    )

    assert bt.sync("k", "8x2kq4vd").status is GatewayStatus.VOIDED
    assert find.call_count == 3

    find.mock(return_value=httpx.Response(500))
    with pytest.raises(GatewayError) as info:
        bt.sync("k", "8x2kq4vd")
    assert not isinstance(info.value, GatewayTimeout)  # a failed read changed nothing


def test_at_most_once_sends_the_key_and_makes_mutations_retryable(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter
) -> None:
    bt = make(sleeps, monkeypatch, at_most_once=True)
    sale = api.post(f"{PREFIX}/transactions").mock(
        side_effect=[httpx.Response(500), reply("transaction_authorized.xml", 201)]
    )
    void = api.put(f"{PREFIX}/transactions/8x2kq4vd/void").mock(
        side_effect=[httpx.ReadTimeout("slow"), reply("transaction_voided.xml")]
    )

    assert bt.authorize(authorize_request()).status is GatewayStatus.AUTHORIZED
    assert bt.void(follow_up(2000, "pay_01HZX8K2:void")).status is GatewayStatus.VOIDED

    assert sale.call_count == 2 and void.call_count == 2
    assert {body(c.request).findtext("api_request_key") for c in sale.calls} == {
        "pay_01HZX8K2:authorize"
    }
    assert body(void.calls.last.request).findtext("api_request_key") == "pay_01HZX8K2:void"


def test_at_most_once_in_flight_answer_means_outcome_unknown(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter
) -> None:
    bt = make(sleeps, monkeypatch, at_most_once=True)
    api.post(f"{PREFIX}/transactions").mock(
        return_value=reply("validation_api_request_key_in_flight.xml")
    )

    with pytest.raises(ProcessorOutcomeUnknown):
        bt.authorize(authorize_request())


def test_an_unreadable_answer_to_a_sale_is_outcome_unknown(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.post(f"{PREFIX}/transactions").mock(
        return_value=httpx.Response(201, text="<transaction><id>")
    )

    with pytest.raises(ProcessorOutcomeUnknown):
        bt.authorize(authorize_request())


def test_base_url_option_redirects_the_sdk(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    bt = make(sleeps, monkeypatch, base_url="http://127.0.0.1:8099/")
    with respx.mock(base_url="http://127.0.0.1:8099", assert_all_called=True) as local:
        local.post(f"{PREFIX}/transactions").mock(
            return_value=reply("transaction_authorized.xml", 201)
        )
        assert bt.authorize(authorize_request()).status is GatewayStatus.AUTHORIZED


@pytest.mark.parametrize(
    "options",
    [
        {"public_key": PUBLIC_KEY, "private_key": PRIVATE_KEY},
        {"merchant_id": MERCHANT, "private_key": PRIVATE_KEY},
        {"merchant_id": MERCHANT, "public_key": PUBLIC_KEY},
        {
            "merchant_id": MERCHANT,
            "public_key": PUBLIC_KEY,
            "private_key": PRIVATE_KEY,
            "environment": "qa",
        },
    ],
    ids=["no-merchant", "no-public-key", "no-private-key", "bad-environment"],
)
def test_build_checks_its_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        get_connector("braintree", options)
