"""Braintree: the exact outgoing requests (through the SDK) and documented success answers."""

from __future__ import annotations

import httpx
import respx

from cardshield.gateways.base import GatewayStatus, Money
from cardshield.gateways.braintree import BraintreeConnector
from cardshield.gateways.braintree.transformers import amount_text
from cardshield.gateways.declines import DeclineCode
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.unit.gateways.braintree.conftest import (
    PREFIX,
    authorize_request,
    basic_auth,
    body,
    collection,
    follow_up,
    ids,
    reply,
)


def assert_headers(request: httpx.Request) -> None:
    assert request.headers["Authorization"] == basic_auth()
    assert request.headers["X-ApiVersion"] == "6"
    assert request.headers["Accept"] == "application/xml"
    assert "Idempotency-Key" not in request.headers  # Braintree has none; see order_id


def test_authorize_posts_a_sale_with_the_card_and_our_key_as_order_id(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(
        return_value=reply("transaction_authorized.xml", 201)
    )

    result = bt.authorize(authorize_request())

    assert route.call_count == 1
    request = route.calls.last.request
    assert (
        str(request.url).replace(":443", "")
        == f"https://api.sandbox.braintreegateway.com{PREFIX}/transactions"
    )
    assert_headers(request)
    assert request.headers["Content-Type"] == "application/xml"
    sale = body(request)
    assert sale.tag == "transaction"
    assert {child.tag for child in sale} == {
        "amount", "order_id", "credit_card", "options", "merchant_account_id", "type",
    }  # fmt: skip
    assert sale.findtext("type") == "sale"
    assert sale.findtext("amount") == "20.00"
    assert sale.findtext("order_id") == "pay_01HZX8K2:authorize"
    assert sale.findtext("merchant_account_id") == "cardshieldUSD"
    assert sale.findtext("options/submit_for_settlement") == "false"
    card = sale.find("credit_card")
    assert card is not None
    assert {c.tag: c.text for c in card} == {
        "number": CANARY_PAN,
        "expiration_month": "12",
        "expiration_year": "2030",
        "cvv": CANARY_CVV,
    }
    # The number appears once, in credit-card/number; nothing else holds it or the CVV.
    assert request.content.decode().count(CANARY_PAN) == 1
    assert [e.tag for e in sale.iter() if e.text == CANARY_CVV] == ["cvv"]

    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == "8x2kq4vd"
    assert result.amount == 2000
    assert result.raw["credit_card"] == {
        "bin": "424242", "last_4": "4242", "card_type": "Visa",
        "expiration_month": "12", "expiration_year": "2030",
    }  # fmt: skip
    assert result.raw["processor_response_code"] == "1000"


def test_sale_submits_for_settlement(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(
        return_value=reply("transaction_submitted.xml", 201)
    )

    result = bt.authorize(authorize_request(capture=True))

    assert body(route.calls.last.request).findtext("options/submit_for_settlement") == "true"
    assert result.status is GatewayStatus.CAPTURED
    assert result.amount == 1500


def test_explicit_merchant_account_wins_and_unknown_currency_is_refused_locally(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    route = api.post(f"{PREFIX}/transactions").mock(
        return_value=reply("transaction_authorized.xml", 201)
    )

    bt.authorize(authorize_request(merchant_account="cardshieldEUR"))
    assert body(route.calls.last.request).findtext("merchant_account_id") == "cardshieldEUR"

    result = bt.authorize(authorize_request(money=Money(2000, "GBP")))
    assert result.status is GatewayStatus.FAILED
    assert result.decline is not None
    assert result.decline.code is DeclineCode.CURRENCY_NOT_SUPPORTED
    assert route.call_count == 1


def test_amounts_use_the_currency_exponent() -> None:
    assert amount_text(Money(2000, "USD")) == "20.00"
    assert amount_text(Money(5, "EUR")) == "0.05"
    assert amount_text(Money(1000, "JPY")) == "1000"
    assert amount_text(Money(1234, "KWD")) == "1.234"


def test_capture_submits_the_amount_for_settlement(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    route = api.put(f"{PREFIX}/transactions/8x2kq4vd/submit_for_settlement").mock(
        return_value=reply("transaction_submitted.xml")
    )

    result = bt.capture(follow_up(1500, "pay_01HZX8K2:capture"))

    request = route.calls.last.request
    assert_headers(request)
    assert [(e.tag, e.text) for e in body(request)] == [("amount", "15.00")]
    assert result.status is GatewayStatus.CAPTURED
    assert result.amount == 1500


def test_void(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    route = api.put(f"{PREFIX}/transactions/8x2kq4vd/void").mock(
        return_value=reply("transaction_voided.xml")
    )

    result = bt.void(follow_up(2000, "pay_01HZX8K2:void"))

    assert_headers(route.calls.last.request)
    assert result.status is GatewayStatus.VOIDED


def test_refund_searches_its_key_then_posts_amount_and_order_id(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    search = api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    route = api.post(f"{PREFIX}/transactions/8x2kq4vd/refund").mock(
        return_value=reply("refund_credit.xml", 201)
    )

    result = bt.refund(follow_up(500, "pay_01HZX8K2:refund:1"))

    assert body(search.calls.last.request).findtext("order_id/is") == "pay_01HZX8K2:refund:1"
    refund = body(route.calls.last.request)
    assert {e.tag: e.text for e in refund} == {
        "amount": "5.00",
        "order_id": "pay_01HZX8K2:refund:1",
    }
    assert result.status is GatewayStatus.REFUNDED
    assert result.connector_reference == "r3fk9m2p"
    assert result.amount == 500


def test_a_repeated_refund_returns_the_first_instead_of_refunding_twice(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids("r3fk9m2p"))
    api.post(f"{PREFIX}/transactions/advanced_search").mock(
        return_value=collection("refund_credit.xml")
    )
    route = api.post(f"{PREFIX}/transactions/8x2kq4vd/refund")

    result = bt.refund(follow_up(500, "pay_01HZX8K2:refund:1"))

    assert not route.called
    assert result.status is GatewayStatus.REFUNDED
    assert result.connector_reference == "r3fk9m2p"


def test_verify_creates_a_credit_card_verification(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    route = api.post(f"{PREFIX}/verifications").mock(
        return_value=reply("verification_verified.xml", 201)
    )

    result = bt.verify(authorize_request(money=Money(0, "USD")))

    verification = body(route.calls.last.request)
    assert verification.tag == "verification"
    assert verification.findtext("credit_card/number") == CANARY_PAN
    assert verification.findtext("credit_card/cvv") == CANARY_CVV
    assert verification.findtext("options/merchant_account_id") == "cardshieldUSD"
    assert verification.find("options/amount") is None  # $0: the processor's own check
    assert result.status is GatewayStatus.VERIFIED
    assert result.connector_reference == "v3rf1c8n"


def test_sync_searches_by_order_id(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    search_ids = api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(
        return_value=ids("8x2kq4vd")
    )
    fetch = api.post(f"{PREFIX}/transactions/advanced_search").mock(
        return_value=reply("search_transactions.xml")
    )

    result = bt.sync("pay_01HZX8K2:authorize", None)

    assert body(search_ids.calls.last.request).findtext("order_id/is") == "pay_01HZX8K2:authorize"
    assert body(fetch.calls.last.request).findtext("ids/item") == "8x2kq4vd"
    assert result.status is GatewayStatus.AUTHORIZED
    assert result.connector_reference == "8x2kq4vd"
    assert "matches" not in result.raw


def test_sync_reports_two_transactions_for_one_key(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(
        return_value=ids("d9p2ww7c", "8x2kq4vd")
    )
    api.post(f"{PREFIX}/transactions/advanced_search").mock(
        return_value=collection("transaction_voided.xml", "transaction_authorized.xml")
    )

    result = bt.sync("pay_01HZX8K2:authorize", None)

    assert result.raw["matches"] == 2


def test_sync_falls_back_to_the_reference(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    find = api.get(f"{PREFIX}/transactions/8x2kq4vd").mock(
        return_value=reply("transaction_voided.xml")
    )

    result = bt.sync("pay_01HZX8K2:void", "8x2kq4vd")

    assert find.calls.last.request.content == b""
    assert result.status is GatewayStatus.VOIDED


def test_sync_finds_a_verification_by_reference(
    bt: BraintreeConnector, api: respx.MockRouter
) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    api.get(f"{PREFIX}/transactions/v3rf1c8n").mock(return_value=httpx.Response(404))
    api.get(f"{PREFIX}/verifications/v3rf1c8n").mock(
        return_value=reply("verification_verified.xml")
    )

    assert bt.sync("pay_01HZXB22:verify", "v3rf1c8n").status is GatewayStatus.VERIFIED


def test_sync_miss_is_pending_not_failed(bt: BraintreeConnector, api: respx.MockRouter) -> None:
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    api.get(f"{PREFIX}/transactions/gone1234").mock(return_value=httpx.Response(404))
    api.get(f"{PREFIX}/verifications/gone1234").mock(return_value=httpx.Response(404))

    for ref in (None, "gone1234"):
        result = bt.sync("pay_01HZXZZZ:authorize", ref)
        assert result.status is GatewayStatus.PENDING
        assert result.raw == {"found": False}
