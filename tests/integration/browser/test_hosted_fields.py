"""Hosted card fields in a real browser: a shop page on one origin, cardshield on another.

What the shop's page (and so any script on it) can see is checked from inside that page: the
messages it receives, the SDK's events, the tokenize result. The card is typed into the
cross-origin frame as a shopper would, key by key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cardshield.cards import TEST_CARDS, brand_for, luhn_check_digit, luhn_valid
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.integration.browser.conftest import Stack

pytestmark = pytest.mark.integration

CARD_FRAME = "#card iframe"


def _open_checkout(page: Any, stack: Stack, query: str = "") -> Any:
    page.goto(f"{stack.shop}/checkout{query}")
    page.wait_for_function("window.__events.some(e => e.type === 'ready')")
    return page.frame_locator(CARD_FRAME)


def _type_card(frame: Any, number: str, expiry: str = "1230", cvc: str = CANARY_CVV) -> None:
    frame.locator("#cs-number").press_sequentially(number)
    frame.locator("#cs-expiry").press_sequentially(expiry)
    frame.locator("#cs-cvc").press_sequentially(cvc)


def _pay(page: Any) -> Any:
    page.evaluate("delete window.__result")
    page.click("#pay-button")
    page.wait_for_function("window.__result !== undefined")
    return page.evaluate("window.__result")


def _walk(value: Any) -> tuple[set[str], list[Any]]:
    """The keys of every object inside ``value`` and its leaf values."""
    if isinstance(value, dict | list):
        keys: set[str] = set(value) if isinstance(value, dict) else set()
        leaves: list[Any] = []
        for item in value.values() if isinstance(value, dict) else value:
            k, v = _walk(item)
            keys |= k
            leaves += v
        return keys, leaves
    return set(), [value]


def _assert_no_card_data_reached_the_page(page: Any) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = page.evaluate("window.__received")
    events = page.evaluate("window.__events")
    for blob in (received, events, page.evaluate("window.__result ?? null")):
        assert_no_card_data(json.dumps(blob))
        keys, leaves = _walk(blob)
        assert CANARY_CVV not in leaves and int(CANARY_CVV) not in leaves
        assert not {"number", "cvc", "pan", "bin", "fingerprint"} & keys
    return received


def _assert_server_kept_no_card_data(stack: Stack) -> None:
    log = stack.server_log()
    # The log must hold the requests the browser made, or the check below proves nothing.
    assert "'path': '/v1/tokens'" in log and "'path': '/elements/v1/frame'" in log
    assert "Logging error" not in log
    assert_no_card_data(log)
    assert f'"{CANARY_CVV}"' not in log
    assert not re.search(rf"cvc\W{{0,6}}{CANARY_CVV}", log, re.I)
    for path in stack.database.parent.glob("vault.db*"):
        assert_no_card_data(path.read_bytes())


def test_tokenize_gives_the_page_a_token_and_card_metadata_only(
    page: Any, stack: Stack, artifacts: Path
) -> None:
    frame = _open_checkout(page, stack)
    number = frame.locator("#cs-number")
    number.press_sequentially("42")
    assert frame.locator("#cs-brand").inner_text() == "Visa"
    page.wait_for_function("window.__events.some(e => e.type === 'change' && e.event.brand)")
    number.press_sequentially(CANARY_PAN[2:])
    assert number.input_value() == "4242 4242 4242 4242"
    frame.locator("#cs-expiry").press_sequentially("1230")
    assert frame.locator("#cs-expiry").input_value() == "12 / 30"
    frame.locator("#cs-cvc").press_sequentially(CANARY_CVV)
    page.wait_for_function(
        "window.__events.some(e => e.type === 'change' && e.event.complete === true)"
    )
    # The parent's style reached the fields (through the allow-list, as custom properties).
    assert number.evaluate("el => getComputedStyle(el).fontSize") == "17px"
    # The page fits the window: a full-page screenshot of a taller page lays it out again,
    # and the click just after could go to where the frame stood in that layout.
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    page.screenshot(path=str(artifacts / "hosted-fields-checkout.png"), full_page=True)
    assert (artifacts / "hosted-fields-checkout.png").stat().st_size > 1000

    result = _pay(page)
    token = result["token"]
    assert re.fullmatch(r"tok_[0-9A-Za-z]{16,}", token["id"])
    assert token["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
    assert set(result) == {"token"}
    # The token is real: the merchant's server can read its metadata with a secret key.
    stored = stack.get(f"/v1/tokens/{token['id']}")
    assert stored["card"]["last4"] == "4242" and stored["card"]["brand"] == "visa"

    received = _assert_no_card_data_reached_the_page(page)
    assert {m["origin"] for m in received} == {stack.cardshield}
    kinds = {m["data"]["type"] for m in received}
    assert kinds <= {"ready", "change", "focus", "blur", "resize", "result"}
    (posted,) = [m["data"] for m in received if m["data"]["type"] == "result"]
    assert posted["token"] == token
    _assert_server_kept_no_card_data(stack)


def test_the_page_cannot_read_the_frame_or_be_fooled_by_other_windows(
    page: Any, stack: Stack
) -> None:
    frame = _open_checkout(page, stack)
    _type_card(frame, CANARY_PAN)
    access = page.evaluate(
        """() => {
            const f = document.querySelector('#card iframe');
            let doc;
            try { doc = f.contentWindow.document; doc = 'readable'; } catch (e) { doc = e.name; }
            let value;
            try { value = f.contentWindow.eval('1'); } catch (e) { value = e.name; }
            return { contentDocument: f.contentDocument, document: doc, evaluate: value };
        }"""
    )
    assert access == {
        "contentDocument": None,
        "document": "SecurityError",
        "evaluate": "SecurityError",
    }

    # A window on a third origin tells the card frame to tokenize and the SDK that the
    # card is complete. The frame must not answer it; the SDK must not believe it.
    page.evaluate("src => window.addSibling(src)", f"{stack.other}/sibling")
    page.wait_for_function(
        "origin => window.__received.filter(m => m.origin === origin).length === 2",
        arg=stack.other,
    )
    result = _pay(page)
    assert result["token"]["card"]["last4"] == "4242"
    received = _assert_no_card_data_reached_the_page(page)
    from_frame = [m["data"] for m in received if m["origin"] == stack.cardshield]
    assert [m["id"] for m in from_frame if m["type"] == "result"] != []
    assert not [m for m in from_frame if m.get("id") == "forged"]
    events = page.evaluate("window.__events")
    assert [e for e in events if e["type"] == "ready"] == [{"type": "ready", "event": {}}]
    assert not [e for e in events if e["event"].get("brand") == "forged"]
    _assert_server_kept_no_card_data(stack)


def test_an_invalid_number_is_shown_in_the_frame_and_only_its_code_reaches_the_page(
    page: Any, stack: Stack
) -> None:
    frame = _open_checkout(page, stack, "?postal=1")
    _type_card(frame, "4242424242424241")  # the test card with its check digit changed
    frame.locator("#cs-postal").fill("10115")
    error = frame.locator("#cs-number-error")
    assert error.inner_text() == "Your card number is incorrect."
    assert error.get_attribute("role") == "alert"
    assert frame.locator("#cs-number").get_attribute("aria-invalid") == "true"
    page.wait_for_function(
        "window.__events.some(e => e.type === 'change' && e.event.error"
        " && e.event.error.code === 'incorrect_number')"
    )
    result = _pay(page)
    assert result == {
        "error": {"code": "incorrect_number", "message": "Your card number is incorrect."}
    }
    # Correcting the number clears the error and the card goes through, postal code included.
    number = frame.locator("#cs-number")
    number.press("End")
    number.press("Backspace")
    number.press_sequentially("2")
    assert number.input_value() == "4242 4242 4242 4242"
    assert error.inner_text() == ""
    assert "token" in _pay(page)
    _assert_no_card_data_reached_the_page(page)
    _assert_server_kept_no_card_data(stack)


def test_amex_is_grouped_4_6_5_and_takes_a_four_digit_code(page: Any, stack: Stack) -> None:
    frame = _open_checkout(page, stack)
    _type_card(frame, "378282246310005", "0731", "73711")  # published Amex test card
    assert frame.locator("#cs-number").input_value() == "3782 822463 10005"
    assert frame.locator("#cs-brand").inner_text() == "American Express"
    assert frame.locator("#cs-expiry").input_value() == "07 / 31"
    assert frame.locator("#cs-cvc").input_value() == "7371"  # four digits, no more
    result = _pay(page)
    assert result["token"]["card"] == {
        "brand": "amex",
        "last4": "0005",
        "exp_month": 7,
        "exp_year": 2031,
    }
    assert_no_card_data(json.dumps(page.evaluate("window.__received")), ("378282246310005",))


def _generated_numbers() -> list[str]:
    """Luhn-valid numbers at the edges of the brand table, each with a wrong-check-digit twin."""
    out = []
    for prefix in ("4", "51", "2221", "2720", "34", "6011", "644", "65", "622126", "3528",
                   "300", "3095", "36", "62", "50", "56", "1", "9", "2220"):  # fmt: skip
        for length in (12, 13, 14, 15, 16, 17, 19):
            body = (prefix + "0" * length)[: length - 1]
            number = body + luhn_check_digit(body)
            wrong = body + str((int(number[-1]) + 1) % 10)
            out += [number, wrong]
    return out


def test_the_frame_rules_agree_with_the_vault(page: Any, stack: Stack) -> None:
    _open_checkout(page, stack)
    frame = page.query_selector(CARD_FRAME).content_frame()
    numbers = [card.number for card in TEST_CARDS] + _generated_numbers()
    got = frame.evaluate(
        """numbers => numbers.map(n => {
            const r = window.CardshieldRules, full = r.brandFor(n), typed = r.brandForPrefix(n);
            return [full ? full[0] : null, r.luhnValid(n), r.formatNumber(n, typed && typed[0])];
        })""",
        numbers,
    )
    for number, (brand, luhn, formatted) in zip(numbers, got, strict=True):
        expected = brand_for(number)
        assert brand == (expected.value if expected else None), number
        assert luhn == luhn_valid(number), number
        assert formatted.replace(" ", "") == number
    assert "3782 822463 10005" in [g[2] for g in got]
    assert "3622 720627 1667" in [g[2] for g in got]  # 14-digit Diners: 4-6-4


def test_an_api_refusal_is_shown_in_the_frame_and_its_code_reaches_the_page(
    page: Any, stack: Stack
) -> None:
    frame = _open_checkout(page, stack, f"?key={stack.spare_key[1]}")
    _type_card(frame, CANARY_PAN)
    stack.revoke_spare_key()  # between typing and paying: the vault API refuses the key
    result = _pay(page)
    assert result == {"error": {"code": "invalid_api_key", "message": "Invalid API key provided."}}
    shown = frame.locator("#cs-form-error")
    assert shown.inner_text() == "The card could not be processed. Please try again."
    assert shown.get_attribute("role") == "alert"
    _assert_no_card_data_reached_the_page(page)
    _assert_server_kept_no_card_data(stack)


def test_a_page_on_an_origin_not_allowed_cannot_frame_the_fields(page: Any, stack: Stack) -> None:
    statuses: dict[str, int] = {}
    page.on(
        "response",
        lambda r: statuses.update({r.url: r.status}) if "/elements/v1/frame?" in r.url else None,
    )
    page.goto(f"{stack.other}/framing")
    page.wait_for_load_state("load")
    # The SDK asked honestly (parent = this origin): the server refuses to render.
    # The hand-made iframe lied about its parent: the server renders for the allowed origin,
    # and the browser refuses to show it here because of CSP frame-ancestors.
    page.wait_for_function("document.querySelectorAll('iframe').length === 2")
    page.wait_for_timeout(500)
    by_parent = {("parent=http%3A%2F%2F127.0.0.1" in u): s for u, s in statuses.items()}
    assert by_parent == {True: 403, False: 200}, statuses
    for handle in page.query_selector_all("iframe"):
        content = handle.content_frame()
        assert content is not None
        assert content.query_selector("#cs-number") is None
        assert not content.url.startswith(stack.cardshield), content.url
    assert page.evaluate("window.__events") == []
