"""The canary card never leaves through the Square connector, in any output."""

from __future__ import annotations

import json
import logging
import traceback

import httpx
import pytest
import respx

from cardshield.cards import CVV, PAN, Expiry
from cardshield.gateways.base import AuthorizeRequest, GatewayError, Money
from cardshield.gateways.square import SquareConnector, UnsupportedByConnector
from cardshield.vault.service import CardData
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.gateways.square.conftest import BASE, source_request, vectors

P = vectors("payments")


def _text(error: BaseException) -> str:
    chain, link = [], error
    while link is not None:
        assert not isinstance(link, httpx.HTTPError), "httpx exception kept in the chain"
        chain.append(link)
        link = link.__cause__ or link.__context__
    return str(error) + repr(error) + "".join(traceback.format_exception(error))


def _no_cvv(text: str) -> None:
    for pattern in (f'"{CANARY_CVV}"', f"'{CANARY_CVV}'", f"cvv={CANARY_CVV}"):
        assert pattern not in text, "CVV found in output"


def test_canary_goes_nowhere(
    square: SquareConnector, respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    card = CardData(pan=PAN(CANARY_PAN), expiry=Expiry(2030, 12), cvv=CVV(CANARY_CVV))
    request = AuthorizeRequest(
        money=Money(1000, "USD"),
        card=card,
        capture=True,
        idempotency_key="idem-canary",
        merchant_account="L88917AVBK2S5",
        reference="pay_canary",
    )
    texts: list[str] = []
    for operation in (square.authorize, square.verify):
        with pytest.raises(UnsupportedByConnector) as info:
            operation(request)
        texts.append(_text(info.value))
    with pytest.raises(UnsupportedByConnector) as refused:
        square.authorize_source(source_request(source_id=CANARY_PAN))
    texts.append(_text(refused.value))
    assert not respx_mock.calls  # the card never left the process

    # A processor that echoes card data in its answers is scrubbed, not passed on.
    echo = {
        "errors": [
            {
                "category": "PAYMENT_METHOD_ERROR",
                "code": "CVV_FAILURE",
                "detail": f"card {CANARY_PAN} cvv={CANARY_CVV}",
            }
        ],
        "payment": {**P["failed_payment"], "note": CANARY_PAN},
    }
    route = respx_mock.post(f"{BASE}/v2/payments").respond(400, json=echo)
    result = square.authorize_source(source_request())
    texts.append(json.dumps(result.raw) + repr(result))
    route.respond(
        400,
        json={
            "errors": [
                {"category": "INVALID_REQUEST_ERROR", "code": "INVALID_VALUE", "detail": CANARY_PAN}
            ]
        },
    )
    with pytest.raises(GatewayError) as info:
        square.authorize_source(source_request())
    texts.append(_text(info.value))
    route.mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(GatewayError) as timeout:
        square.authorize_source(source_request())
    texts.append(_text(timeout.value))

    texts.append(caplog.text)
    for text in texts:
        assert_no_card_data(text)
        _no_cvv(text)
