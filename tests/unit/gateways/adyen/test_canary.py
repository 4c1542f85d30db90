"""The canary card reaches Adyen's request body and nothing else: logs, errors, results."""

from __future__ import annotations

import json
import logging
import traceback

import httpx
import pytest
import respx

from cardshield.gateways.adyen import AdyenConnector
from cardshield.gateways.base import GatewayError, GatewayResult
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.gateways.adyen.conftest import BASE, auth_request, card, vectors

PAYMENTS = vectors("payments")


def _no_cvv(text: str) -> None:
    # The CVV is three digits; look for it where a leak would put it, as a JSON value.
    for pattern in (
        f'"{CANARY_CVV}"',
        f"'{CANARY_CVV}'",
        f"cvc={CANARY_CVV}",
        f"cvc: {CANARY_CVV}",
    ):
        assert pattern not in text, "CVV found in output"


def _check_result(result: GatewayResult) -> None:
    dumped = json.dumps(result.raw) + repr(result)
    assert_no_card_data(dumped)
    _no_cvv(dumped)


def _check_error(error: BaseException) -> None:
    text = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert_no_card_data(text)
    _no_cvv(text)
    # No httpx exception (its .request keeps the body, card included) stays reachable.
    link: BaseException | None = error
    while link is not None:
        assert not isinstance(link, httpx.HTTPError), "httpx exception kept in the chain"
        link = link.__cause__ or link.__context__


@respx.mock
def test_canary_leaves_only_in_the_request_body(
    adyen: AdyenConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = auth_request(card=card(CANARY_PAN, CANARY_CVV))
    route = respx.post(f"{BASE}/payments")
    # A processor that echoes the card back (it should not) is scrubbed, not passed on.
    echo = {**PAYMENTS["authorised"], "paymentMethod": {"number": CANARY_PAN, "cvc": CANARY_CVV}}
    echo["additionalData"] = {**echo["additionalData"], "note": f"card {CANARY_PAN}"}
    answers = [
        httpx.Response(200, json=echo),
        httpx.Response(
            200, json={**PAYMENTS["error_result"], "refusalReason": f"bad {CANARY_PAN}"}
        ),
        httpx.Response(422, json=PAYMENTS["error_422_invalid_card"]),
        httpx.Response(200, json=PAYMENTS["redirect_shopper"]),
    ]
    for answer in answers:
        route.mock(return_value=answer)
        _check_result(adyen.authorize(request))

    errors: list[BaseException] = []
    for failure in (
        httpx.Response(401, json=PAYMENTS["error_401"]),
        httpx.Response(422, json={**PAYMENTS["error_422_missing_amount"], "message": CANARY_PAN}),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.Response(500, text=f"<html>{CANARY_PAN}</html>"),
    ):
        route.mock(side_effect=[failure] * 3)
        with pytest.raises(GatewayError) as info:
            adyen.authorize(request)
        errors.append(info.value)
    for error in errors:
        _check_error(error)

    # The card did go out, in Adyen's raw-card fields, on every call...
    assert route.calls
    for call in route.calls:
        method = json.loads(call.request.content)["paymentMethod"]
        assert method["number"] == CANARY_PAN
        assert method["cvc"] == CANARY_CVV
    # ...and no log line carries it.
    assert caplog.records
    assert_no_card_data(caplog.text)
    _no_cvv(caplog.text)
