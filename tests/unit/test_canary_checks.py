"""The canary checks every card-data test relies on: they must catch a leak in the shapes a
leak takes, and must not fire on the ids, hashes and numbers that hold the same digits by
chance (a check that fires at random is soon ignored)."""

from __future__ import annotations

import pytest

from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv


@pytest.mark.parametrize(
    "leak",
    [
        f'{{"cvc": "{CANARY_CVV}"}}',
        f"cvv={CANARY_CVV}&exp=1230",
        f"security code {CANARY_CVV} accepted",
        f"CVV{CANARY_CVV}",
        f"digits: {CANARY_CVV}",
        f"'{CANARY_CVV}'",
        CANARY_CVV,
    ],
)
def test_a_code_on_its_own_or_after_its_name_is_caught(leak: str) -> None:
    with pytest.raises(AssertionError, match="CVV found") as caught:
        assert_no_cvv(f"before {leak} after")
    assert CANARY_CVV not in str(caught.value).replace("CVV found", "")  # starred out


@pytest.mark.parametrize(
    "chance",
    [
        f"event_id=evt_3f7aed1fc{CANARY_CVV}aef9c9a78266",
        f"127.0.0.1:39{CANARY_CVV}",
        f"duration_ms=1{CANARY_CVV}",
        f"2026-11-27T06:15:00.{CANARY_CVV}101Z",
        f"tok_A{CANARY_CVV}b",
    ],
)
def test_the_same_digits_inside_an_id_or_a_longer_number_are_not_a_leak(chance: str) -> None:
    assert_no_cvv(chance)


def test_a_card_number_with_or_without_separators_is_caught() -> None:
    for leak in (CANARY_PAN, "4242 4242 4242 4242", "4242-4242-4242-4242", "4242%204242"):
        text = leak if len(leak) >= 16 else "4242%204242%204242%204242"
        with pytest.raises(AssertionError, match="PAN found"):
            assert_no_card_data(f"card {text} end")
    assert_no_card_data("last4 4242, bin 424242")
