from __future__ import annotations

import copy
import logging
import pickle

import pytest

from cardshield.cards import (
    PAN,
    Brand,
    luhn_check_digit,
    luhn_valid,
    mask_digits,
    mask_in_place,
    mask_stored,
    pan_from_digits,
)
from cardshield.cards.brands import brand_for_prefix
from cardshield.errors import IncorrectNumber, InvalidNumber, UnsupportedBrand


def test_normalizes_and_exposes_parts() -> None:
    pan = PAN(" 4242-4242.4242 4242 ")
    assert pan.reveal() == "4242424242424242"
    assert pan.brand is Brand.VISA
    assert (pan.bin, pan.bin8, pan.last4, pan.length) == ("424242", "42424242", "4242", 16)
    assert pan.masked() == "424242******4242"


def test_repr_str_format_and_logging_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    pan = PAN("5555555555554444")
    for shown in (repr(pan), str(pan), f"{pan}", f"{pan:>30}", "%s" % (pan,), f"{[pan]}"):  # noqa: UP031
        assert "5555555555554444" not in shown
        assert "555555******4444" in shown
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("card %s %r", pan, pan)
    assert "5555555555554444" not in caplog.text


def test_cannot_be_pickled_and_copies_are_safe() -> None:
    pan = PAN("4242424242424242")
    with pytest.raises(TypeError):
        pickle.dumps(pan)
    assert copy.deepcopy(pan) == pan


def test_equality_and_hash() -> None:
    assert PAN("4242 4242 4242 4242") == PAN("4242424242424242")
    assert PAN("4242424242424242") != PAN("5555555555554444")
    assert len({PAN("4242424242424242"), PAN("4242-4242-4242-4242")}) == 1
    assert PAN("4242424242424242") != "4242424242424242"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("4242424242424241", IncorrectNumber),
        ("42424242", InvalidNumber),
        ("4242 4242 4242 424a", InvalidNumber),
        ("9000000000000001", UnsupportedBrand),
    ],
)
def test_errors_are_specific_and_never_hold_the_number(raw: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        PAN(raw)
    assert raw not in str(info.value)
    assert raw.replace(" ", "") not in repr(info.value.args)


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert luhn_check_digit("7992739871") == "3"
    assert not luhn_valid("0")


def test_masking_shows_at_most_first6_last4_and_hides_at_least_five() -> None:
    assert mask_digits("378282246310005") == "378282*****0005"
    assert mask_digits("4222222222222") == "422******2222"  # 13 digits: 3 + 4 shown
    assert mask_digits("500000000008") == "50******0008"
    for n in range(12, 20):
        masked = mask_digits("1" * n)
        assert masked.count("*") >= 5
        assert len(masked) - masked.count("*") <= 10
    assert mask_in_place("4242 4242 4242 4242") == "4242 42** **** 4242"


def test_mask_stored_shows_six_digits_of_an_eight_digit_bin() -> None:
    assert mask_stored("42424242", "4242") == "424242******4242"
    assert mask_stored("424242", "4242") == "424242******4242"


@pytest.mark.parametrize(
    "digits",
    ["4242424242424242", "378282246310005", "5555555555554444", "4222222222222"],
)
def test_pan_from_digits_is_the_pan(digits: str) -> None:
    pan = pan_from_digits(digits)
    assert pan is not None and pan == PAN(digits) and pan.brand is PAN(digits).brand


@pytest.mark.parametrize(
    "digits",
    [
        "4242424242424241",  # Luhn
        "42424242424242420",  # a length Visa does not have
        "9" * 16,  # no brand
        "42424242",  # too short
        "4242 4242 4242 4242",  # separators are the caller's to remove
        "424242424242424\u0662",  # ends with an Arabic-Indic two
        "",
    ],
)
def test_pan_from_digits_is_none_for_anything_else(digits: str) -> None:
    assert pan_from_digits(digits) is None


def test_brand_for_prefix_for_live_typing() -> None:
    assert brand_for_prefix("4") is Brand.VISA
    assert brand_for_prefix("2221") is Brand.MASTERCARD
    assert brand_for_prefix("37") is Brand.AMEX
    assert brand_for_prefix("9") is None
