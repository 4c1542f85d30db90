"""The example shop against a real cardshield app: checkout, declines, 3-D Secure, webhooks,
refunds, the page's CSP and SRI pin, and what the shop keeps (tokens and ids only)."""

from __future__ import annotations

import json
import re
import time

import pytest

from cardshield.client import verify_webhook
from cardshield.payments.webhooks.signing import signature_header
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.examples.shop.conftest import World

DECLINE = "4000000000000002"
NO_FUNDS = "4000000000009995"
THREE_DS = "4000000000003220"


def _shop_kept_no_card_data(world: World, logs: str) -> None:
    assert "order created" in logs  # the shop's log was captured, so the check means something
    for path in world.database.parent.glob("shop.db*"):
        data = path.read_bytes()
        assert_no_card_data(data, (CANARY_PAN, DECLINE, NO_FUNDS, THREE_DS))
    assert_no_card_data(logs, (CANARY_PAN, DECLINE, NO_FUNDS, THREE_DS))
    assert not re.search(rf"\b{CANARY_CVV}\b", logs)


def test_every_page_has_a_csp_that_allows_only_the_shop_and_cardshield(world: World) -> None:
    order = world.new_order()
    page = world.shop.get(f"/orders/{order}/pay")
    assert page.status_code == 200
    for resp in (world.shop.get("/"), world.shop.get("/cart"), page):
        assert resp.headers["content-security-policy"] == (
            "default-src 'self'; script-src 'self' http://127.0.0.1:8750; "
            "frame-src http://127.0.0.1:8750; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
            "frame-ancestors 'none'"
        )
        assert resp.headers["x-frame-options"] == "DENY"
    sri = world.cardshield.get("/elements/v1/sri.json").json()["cardshield.js"]
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts == [
        f'<script src="http://127.0.0.1:8750/elements/v1/cardshield.js" integrity="{sri}" '
        'crossorigin="anonymous">',
        '<script src="/static/checkout.js">',
    ]
    assert f'data-key="{world.publishable}"' in page.text
    js = world.shop.get("/static/checkout.js")
    assert js.status_code == 200 and "card.tokenize()" in js.text


def test_a_paid_order_is_marked_paid_by_the_webhook(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    order = world.new_order("pen", 1)
    token = world.tokenize(CANARY_PAN)
    resp = world.pay(order, token)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": "captured", "redirect": f"/orders/{order}"}
    # The API answered; the order waits for the signed event before it counts as paid.
    assert world.status(order) == "processing"
    shown = world.shop.get(f"/orders/{order}")
    assert 'http-equiv="refresh"' in shown.text and ">processing<" in shown.text
    assert world.deliver_webhooks() >= 1
    assert world.status(order) == "paid"
    shown = world.shop.get(f"/orders/{order}")
    assert ">paid<" in shown.text and "refresh" not in shown.text

    stored = world.shop.app.state.store.get(order)  # type: ignore[attr-defined]
    payment = world.shop.app.state.store.attempts(order)[0]  # type: ignore[attr-defined]
    assert (stored.token, stored.payment_id) == (token, payment.payment_id)
    api = world.cardshield.get(
        f"/v1/payments/{stored.payment_id}",
        headers={"Authorization": f"Bearer {world.secret}"},
    ).json()
    assert (api["status"], api["amount"], api["metadata"]) == ("captured", 4500, {"order": order})
    # A second submit cannot charge the order again.
    again = world.pay(order, world.tokenize(CANARY_PAN))
    assert again.status_code == 409 and again.json()["error"] == "order_not_payable"
    listing = world.shop.get("/orders")
    assert re.search(rf'id="row-{order}".*?status-paid', listing.text, re.S)
    _shop_kept_no_card_data(world, caplog.text)


@pytest.mark.parametrize(
    ("number", "code"), [(DECLINE, "card_declined"), (NO_FUNDS, "insufficient_funds")]
)
def test_a_decline_goes_back_to_the_browser_and_no_order_is_paid(
    world: World, caplog: pytest.LogCaptureFixture, number: str, code: str
) -> None:
    order = world.new_order()
    resp = world.pay(order, world.tokenize(number))
    assert resp.status_code == 402
    body = resp.json()
    assert body["error"] == "card_declined" and body["decline_code"] == code
    assert body["message"]  # a sentence for the shopper, shown next to the fields
    world.deliver_webhooks()
    assert world.status(order) == "failed"
    assert ">failed<" in world.shop.get("/orders").text
    # Another card on the same order is a new attempt (new token, new idempotency key).
    retry = world.pay(order, world.tokenize(CANARY_PAN))
    assert retry.status_code == 200, retry.text
    world.deliver_webhooks()
    assert world.status(order) == "paid"
    attempts = world.shop.app.state.store.attempts(order)  # type: ignore[attr-defined]
    assert [(a.status, a.decline_code) for a in attempts] == [
        ("failed", code),
        ("captured", None),
    ]
    _shop_kept_no_card_data(world, caplog.text)


@pytest.mark.parametrize(("decision", "final"), [("approve", "paid"), ("fail", "failed")])
def test_three_d_secure_sends_the_shopper_to_the_challenge_and_back(
    world: World, decision: str, final: str
) -> None:
    order = world.new_order()
    resp = world.pay(order, world.tokenize(THREE_DS))
    assert resp.status_code == 200, resp.text
    redirect = resp.json()["redirect"]
    assert redirect.startswith("http://127.0.0.1:8750/sandbox/3ds/")
    assert world.status(order) == "requires_action"
    # Back too early: the challenge is still open, nothing changes.
    world.shop.get(f"/orders/{order}/return")
    assert world.status(order) == "requires_action"
    # The sandbox's challenge page, on cardshield's origin: masked card only.
    path = redirect.removeprefix("http://127.0.0.1:8750")
    page = world.cardshield.get(path)
    assert page.status_code == 200 and "24.00 EUR" in page.text and "ending in 3220" in page.text
    assert "form-action 'self' http://localhost:8000" in page.headers["content-security-policy"]
    decided = world.cardshield.post(path, data={"decision": decision}, follow_redirects=False)
    assert decided.status_code == 303
    back = decided.headers["location"]
    assert back == f"http://localhost:8000/orders/{order}/return"
    shown = world.shop.get(back, follow_redirects=False)
    assert (shown.status_code, shown.headers["location"]) == (303, f"/orders/{order}")
    world.deliver_webhooks()
    assert world.status(order) == final
    assert world.cardshield.post(path, data={"decision": "maybe"}).status_code == 400
    assert world.cardshield.get("/sandbox/3ds/sbx_ch_missing").status_code == 404


def test_refund_is_confirmed_by_the_webhook(world: World) -> None:
    order = world.new_order()
    world.pay(order, world.tokenize(CANARY_PAN))
    world.deliver_webhooks()
    resp = world.shop.post(f"/orders/{order}/refund", follow_redirects=False)
    assert resp.status_code == 303
    world.deliver_webhooks()
    assert world.status(order) == "refunded"
    twice = world.shop.post(f"/orders/{order}/refund")
    assert twice.status_code == 409 and "order_not_refundable" in twice.text


def test_webhooks_must_be_signed_and_are_applied_once(world: World) -> None:
    order = world.new_order()
    world.pay(order, world.tokenize(CANARY_PAN))
    store = world.shop.app.state.store  # type: ignore[attr-defined]
    payment_id = store.get(order).payment_id
    body = json.dumps(
        {
            "id": "evt_forged",
            "type": "payment.refunded",
            "created": 1,
            "data": {"id": payment_id, "status": "refunded", "metadata": {"order": order}},
        }
    ).encode()
    now = int(time.time())
    forged = signature_header(body, ["whsec_not_the_secret"], timestamp=now)
    for header in (None, "garbage", forged):
        headers = {"Content-Type": "application/json"}
        if header:
            headers["Cardshield-Signature"] = header
        resp = world.shop.post("/webhooks/cardshield", content=body, headers=headers)
        assert resp.status_code == 400
    assert world.status(order) == "processing"
    # A correctly signed event applies once; the same delivery again is acknowledged only.
    paid = json.dumps(
        {
            "id": "evt_1",
            "type": "payment.captured",
            "created": now,
            "data": {"id": payment_id, "metadata": {"order": order}},
        }
    ).encode()
    good = signature_header(paid, [world.webhook_secret], timestamp=now)
    verify_webhook(paid, good, world.webhook_secret)  # the shop and cardshield agree
    headers = {"Cardshield-Signature": good}
    first = world.shop.post("/webhooks/cardshield", content=paid, headers=headers)
    again = world.shop.post("/webhooks/cardshield", content=paid, headers=headers)
    assert (first.json(), again.json()) == ({"received": "ok"}, {"received": "duplicate"})
    assert world.status(order) == "paid"


def test_bad_input_is_refused_without_charging(world: World) -> None:
    order = world.new_order()
    assert world.pay(order, "4242424242424242").status_code == 400
    assert world.pay(order, "").status_code == 400
    not_json = world.shop.post(f"/orders/{order}/pay", content=b"token=tok_x")
    assert not_json.status_code == 415
    broken = world.shop.post(
        f"/orders/{order}/pay", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert world.pay("ord_missing", "tok_abcdefgh12345678").status_code == 404
    assert world.shop.get("/orders/ord_missing").status_code == 404
    # Another merchant's token: cardshield refuses it, the shop charges nothing.
    foreign = world.pay(order, world.tokenize(CANARY_PAN, key=world.other_publishable))
    assert foreign.status_code == 402
    assert foreign.json()["error"] == "resource_missing"
    assert world.status(order) == "failed"
    # A used token cannot be charged twice.
    token = world.tokenize(CANARY_PAN)
    assert world.pay(order, token).status_code == 200
    second = world.new_order()
    assert world.pay(second, token).status_code == 402
    # The cart ignores what it does not know.
    world.shop.cookies.set("cart", "pen:1,evil:5,ink:99,<script>:1")
    assert "Bottle of ink" not in world.shop.get("/cart").text
    assert "Fountain pen" in world.shop.get("/cart").text
    checkout = world.shop.post("/checkout", follow_redirects=False)
    new = checkout.headers["location"].split("/")[2]
    assert world.shop.app.state.store.get(new).amount == 4500  # type: ignore[attr-defined]
