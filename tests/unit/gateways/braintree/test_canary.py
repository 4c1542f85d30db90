"""Canary: the canary card goes out in the sale/verification XML and nowhere else - not in
logs, exceptions (text, repr, traceback, cause chain) or results, even when echoed back."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import respx

from cardshield.gateways import GatewayError
from cardshield.gateways.base import GatewayResult
from cardshield.gateways.braintree import BraintreeConnector
from cardshield.gateways.braintree.webhooks import sign
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.unit.gateways.braintree.conftest import (
    PREFIX,
    PRIVATE_KEY,
    PUBLIC_KEY,
    authorize_request,
    follow_up,
    ids,
    xml,
)

ECHO = f"Card {CANARY_PAN} cvv {CANARY_CVV}"


def echoing(name: str, status: int) -> httpx.Response:
    """A fixture whose texts echo the card, with an injected full number field."""
    text = (
        xml(name)
        .replace(
            "<processor-response-text>Insufficient Funds<", f"<processor-response-text>{ECHO}<"
        )
        .replace("<message>Insufficient Funds<", f"<message>{ECHO}<")
        .replace(
            "<bin>424242</bin>",
            f"<bin>424242</bin><number>{CANARY_PAN}</number><cvv>{CANARY_CVV}</cvv>",
        )
    )
    return httpx.Response(status, text=text)


def validation_echo() -> httpx.Response:
    text = xml("validation_cannot_refund_unless_settled.xml").replace(
        "Cannot refund a transaction unless it is settled.", ECHO
    )
    return httpx.Response(422, text=text)


@pytest.fixture
def raw_log_records() -> Iterator[None]:
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
        assert not isinstance(seen, httpx.HTTPError)  # its request would carry the XML body
        texts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return texts


def outputs_of_result(result: GatewayResult) -> list[str]:
    return [repr(result), json.dumps(result.raw), str(result.decline)]


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        assert_no_card_data(text)
        assert_no_cvv(text)


def test_no_card_data_leaves_through_logs_errors_or_results(
    bt: BraintreeConnector,
    api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    raw_log_records: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    sale = api.post(f"{PREFIX}/transactions")
    verification = api.post(f"{PREFIX}/verifications")
    api.post(f"{PREFIX}/transactions/advanced_search_ids").mock(return_value=ids())
    refund = api.post(f"{PREFIX}/transactions/8x2kq4vd/refund").mock(return_value=validation_echo())
    texts: list[str] = []
    answers = [
        echoing("transaction_authorized.xml", 201),
        echoing("processor_declined.xml", 422),
        httpx.Response(500, text=ECHO),
        httpx.Response(401, text=ECHO),
        httpx.Response(201, text=f"<transaction><number>{CANARY_PAN}"),
        httpx.ReadTimeout(ECHO),
        httpx.RemoteProtocolError(ECHO),
    ]
    for answer in answers:
        sale.mock(side_effect=[answer])
        try:
            texts += outputs_of_result(bt.authorize(authorize_request()))
        except GatewayError as exc:
            texts += outputs_of(exc)
    verification.mock(return_value=echoing("verification_verified.xml", 201))
    texts += outputs_of_result(bt.verify(authorize_request()))
    texts += outputs_of_result(bt.refund(follow_up(500, "pay_01HZX8K2:refund:1")))
    assert refund.called

    sent = [c.request.content.decode() for c in sale.calls + verification.calls]
    assert sent and all(CANARY_PAN in s and CANARY_CVV in s for s in sent)
    texts += [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    assert caplog.records
    assert_clean(texts)


def test_webhook_raw_is_scrubbed(bt: BraintreeConnector) -> None:
    text = (
        xml("webhook_transaction_settled.xml")
        .replace("<bin>424242</bin>", f"<bin>424242</bin><number>{CANARY_PAN}</number>")
        .replace("<order-id>", f"<descriptor-note>{ECHO}</descriptor-note><order-id>")
    )
    payload = base64.encodebytes(text.encode())
    body = urlencode(
        {"bt_signature": sign(PUBLIC_KEY, PRIVATE_KEY, payload), "bt_payload": payload}
    )

    (event,) = bt.parse_webhook({}, body.encode(), "")

    assert_clean([repr(event), json.dumps(event.raw)])
    assert event.raw["subject"]["transaction"]["credit_card"]["last_4"] == "4242"
