"""Free-text fields a merchant sets (payment description, metadata, return URL, refund
reason, webhook URL) are refused with 400 card_data_in_text when they hold a card number,
in any pasted shape; nothing is written, and the number is in no response, log or row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests.apps import Api
from tests.unit.redaction.card_shapes import digits_of

from .test_payments_api import _post, _token

CANARY = "4000056655665556"  # a published test card, never the one tokenized below
SHAPES = {
    "plain": CANARY,
    "nbsp": "\u00a0".join(CANARY[k : k + 4] for k in range(0, 16, 4)),
    "fullwidth": "".join(chr(0xFF10 + int(d)) for d in CANARY),
    "doubled spaces": "  ".join(CANARY[k : k + 4] for k in range(0, 16, 4)),
    "plus": "+".join(CANARY[k : k + 4] for k in range(0, 16, 4)),
    "glued": f"card:{CANARY}x",
    "mixed": f"{CANARY[:4]} {CANARY[4:8]}-{CANARY[8:12]}/{CANARY[12:]}",
    "8-8 tab": f"{CANARY[:8]}\t{CANARY[8:]}",
}


def _payment(api: Api, **extra: Any) -> dict[str, Any]:
    return {"amount": 1999, "currency": "eur", "token": _token(api), **extra}


def _table_text(api: Api) -> str:
    engine = api.runtime.engine
    cells: list[str] = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                cells += [str(v) for v in row]
    return "\n".join(cells)


def _assert_nowhere(api: Api, caplog: pytest.LogCaptureFixture, *bodies: str) -> None:
    for blob in (*bodies, caplog.text, *_table_text(api).split("\n")):
        assert CANARY not in digits_of(blob)
    url = api.runtime.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        raw = Path(url.database).read_bytes()
        for shape in SHAPES.values():
            assert shape.encode() not in raw and CANARY.encode() not in raw


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_payment_description_with_a_card_is_refused(
    api: Api, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    resp = _post(api, "/v1/payments", _payment(api, description=f"order {SHAPES[shape]} thanks"))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == {
        "type": "invalid_request_error",
        "code": "card_data_in_text",
        "message": resp.json()["error"]["message"],
        "param": "description",
    }
    listed = api.client.get("/v1/payments", headers=api.sk()).json()
    assert listed["data"] == []
    events = api.client.get("/v1/events", headers=api.sk()).json()
    assert events["data"] == []
    _assert_nowhere(api, caplog, resp.text, str(listed), str(events))


@pytest.mark.parametrize(
    ("field", "param"),
    [
        ({"metadata": {"order_note": f"pan {SHAPES['nbsp']}"}}, "metadata[order_note]"),
        ({"metadata": {SHAPES["plain"]: "x"}}, "metadata"),
        ({"return_url": f"https://shop.example/back?c={SHAPES['plus']}"}, "return_url"),
    ],
    ids=["metadata value", "metadata key", "return_url"],
)
def test_other_payment_text_fields(
    api: Api, caplog: pytest.LogCaptureFixture, field: dict[str, Any], param: str
) -> None:
    resp = _post(api, "/v1/payments", _payment(api, **field), idem="order-7")
    assert resp.status_code == 400, resp.text
    assert (resp.json()["error"]["code"], resp.json()["error"]["param"]) == (
        "card_data_in_text",
        param,
    )
    assert api.client.get("/v1/payments", headers=api.sk()).json()["data"] == []
    # The refusal was not stored under the idempotency key either: a clean retry goes through.
    ok = _post(api, "/v1/payments", _payment(api, description="order 7"), idem="order-7")
    assert ok.status_code == 200, ok.text
    _assert_nowhere(api, caplog, resp.text, ok.text)


def test_refund_reason_and_webhook_url(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    pay = _post(api, "/v1/payments", _payment(api)).json()
    refund = _post(api, "/v1/refunds", {"payment": pay["id"], "reason": SHAPES["fullwidth"]})
    assert refund.status_code == 400, refund.text
    assert refund.json()["error"]["param"] == "reason"
    got = api.client.get(f"/v1/payments/{pay['id']}", headers=api.sk()).json()
    assert got["amount_refunded"] == 0
    hook = _post(api, "/v1/webhook_endpoints", {"url": f"https://hooks.example/{SHAPES['glued']}"})
    assert hook.status_code == 400, hook.text
    assert (hook.json()["error"]["code"], hook.json()["error"]["param"]) == (
        "card_data_in_text",
        "url",
    )
    _assert_nowhere(api, caplog, refund.text, hook.text, str(got))


def test_ordinary_text_still_goes_through(api: Api) -> None:
    resp = _post(
        api,
        "/v1/payments",
        _payment(
            api,
            description="Order 1714567296789, 2 items, call +1 415 555 0100",
            metadata={
                "order_id": "94242424242424242",
                "sku": "123e4567-e89b-12d3-a456-426614174000",
            },
        ),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["description"].startswith("Order 1714567296789")
