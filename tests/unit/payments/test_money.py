from __future__ import annotations

import pytest

from cardshield.payments.money import (
    InvalidAmount,
    InvalidCurrency,
    check_amount,
    exponent,
    format_amount,
    normalize_currency,
)


def test_exponents() -> None:
    assert (exponent("usd"), exponent("JPY"), exponent("KWD")) == (2, 0, 3)
    assert normalize_currency(" eur ") == "EUR"
    with pytest.raises(InvalidCurrency):
        normalize_currency("XXX")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10", 10**12])
def test_bad_amounts(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        check_amount(bad)  # type: ignore[arg-type]


def test_zero_only_for_verification_and_format() -> None:
    assert check_amount(0, allow_zero=True) == 0
    assert format_amount(1050, "EUR") == "10.50 EUR"
    assert format_amount(500, "JPY") == "500 JPY"
    assert format_amount(1234, "KWD") == "1.234 KWD"
