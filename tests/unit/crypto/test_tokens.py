"""Tokens: random tokens are fixed-width base62 over 128 bits; format-preserving tokens keep
length, BIN and last 4 and are never Luhn-valid, for every brand and length."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardshield.cards import IIN_TABLE, PAN, luhn_check_digit, luhn_valid
from cardshield.crypto import (
    format_preserving_token,
    is_format_preserving_token,
    is_random_token,
    random_token,
)
from cardshield.errors import IncorrectNumber
from tests.conftest import CANARY_PAN

TOKEN_RE = re.compile(r"^tok_[0-9A-Za-z]{22}$")


def test_random_token_shape() -> None:
    for _ in range(1000):
        tok = random_token()
        assert TOKEN_RE.match(tok), tok
        assert is_random_token(tok)
    assert re.match(r"^pm_[0-9A-Za-z]{22}$", random_token("pm_"))
    assert is_random_token(random_token("pm_"), prefix="pm_")


def test_random_tokens_are_unique_over_100k() -> None:
    tokens = {random_token() for _ in range(100_000)}
    assert len(tokens) == 100_000


def test_random_tokens_use_the_whole_alphabet_and_leading_positions() -> None:
    # 2**128 / 62**21 is about 7.7, so the leading character is one of '0'..'7';
    # the remaining 21 positions must cover all 62 symbols.
    bodies = [random_token()[4:] for _ in range(5000)]
    assert set("".join(b[1:] for b in bodies)) == set(string.digits + string.ascii_letters)
    leading = Counter(b[0] for b in bodies)
    assert set(leading) == set("01234567")


@pytest.mark.parametrize(
    "s",
    [
        "tok_",
        "tok_" + "0" * 21,
        "tok_" + "0" * 23,
        "tok_" + "z" * 22,  # 62**22 - 1 > 2**128 - 1: not a value random_token can produce
        "tok_" + "-" * 22,
        "pm_" + "0" * 22,
        "TOK_" + "0" * 22,
    ],
)
def test_is_random_token_rejects(s: str) -> None:
    assert not is_random_token(s)


# --- format-preserving tokens -------------------------------------------------------------


@st.composite
def luhn_valid_pans(draw: st.DrawFn) -> PAN:
    """A Luhn-valid number from any row of the IIN table, any of its lengths."""
    row = draw(st.sampled_from(IIN_TABLE))
    length = draw(st.sampled_from(sorted(row.lengths)))
    width = len(row.low)
    prefix = str(draw(st.integers(int(row.low), int(row.high)))).zfill(width)
    body = draw(st.text(string.digits, min_size=length - width - 1, max_size=length - width - 1))
    partial = prefix + body
    return PAN(partial + luhn_check_digit(partial))


@settings(max_examples=400, deadline=None)
@given(luhn_valid_pans())
def test_format_preserving_token_properties(pan: PAN) -> None:
    digits = pan.reveal()
    tok = format_preserving_token(pan)
    assert len(tok) == len(digits)
    assert tok.isdigit()
    assert tok[:6] == pan.bin
    assert tok[-4:] == pan.last4
    assert not luhn_valid(tok)
    assert tok != digits
    assert is_format_preserving_token(tok)
    assert not is_format_preserving_token(digits)
    with pytest.raises(IncorrectNumber):
        PAN(tok)


def test_middle_digits_are_random() -> None:
    pan = PAN(CANARY_PAN)
    tokens = [format_preserving_token(pan) for _ in range(3000)]
    assert len(set(tokens)) > 2900
    for position in range(6, 12):
        assert {t[position] for t in tokens} == set(string.digits), position


def test_shortest_cards_still_get_a_random_middle() -> None:
    # 12-digit Maestro: only two digits between BIN and last 4, one of them forced.
    partial = "50000000000"
    pan = PAN(partial + luhn_check_digit(partial))
    tokens = {format_preserving_token(pan) for _ in range(2000)}
    assert len(tokens) == 90  # 100 middles minus the 10 Luhn-valid ones
    assert not any(luhn_valid(t) for t in tokens)


@pytest.mark.parametrize(
    "s",
    [
        CANARY_PAN,  # a real (Luhn-valid) card number is never a token
        "",
        "abc",
        "42424242424242x2",
        "".join(chr(0xFF10 + int(d)) for d in "4242424242424241"),  # full-width digits
        "1234567890123",  # no brand starts with 1
        "4242424242",  # too short
        "42424242424242424241",  # too long
    ],
)
def test_is_format_preserving_token_rejects(s: str) -> None:
    assert not is_format_preserving_token(s)
