from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from cardshield.cards import CVV, Brand, Expiry
from cardshield.errors import ExpiredCard, InvalidCVC, InvalidExpiry


def test_cvv_lengths_by_brand() -> None:
    assert CVV("123", Brand.VISA).reveal() == "123"
    assert CVV("1234", Brand.AMEX).reveal() == "1234"
    assert CVV("1234").reveal() == "1234"
    for raw, brand in [("1234", Brand.VISA), ("123", Brand.AMEX), ("12", None), ("12a", None)]:
        with pytest.raises(InvalidCVC) as info:
            CVV(raw, brand)
        assert raw not in str(info.value)


def test_cvv_never_shows_its_value() -> None:
    cvv = CVV("737")
    assert "737" not in repr(cvv) + str(cvv) + f"{cvv}" + f"{cvv:>10}"
    with pytest.raises(TypeError):
        pickle.dumps(cvv)
    assert cvv == CVV("737")
    assert cvv != CVV("738")


@pytest.mark.parametrize(
    ("text", "month", "year"),
    [
        ("12/34", 12, 2034),
        ("12/2034", 12, 2034),
        ("12 / 34", 12, 2034),
        ("1/30", 1, 2030),
        ("01-30", 1, 2030),
        ("0130", 1, 2030),
        ("  7 / 2031 ", 7, 2031),
    ],
)
def test_expiry_parse(text: str, month: int, year: int) -> None:
    assert Expiry.parse(text) == Expiry(year=year, month=month)


@pytest.mark.parametrize("text", ["13/30", "00/30", "1/3", "12/345", "ab/cd", "", "123", "12//30"])
def test_expiry_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidExpiry):
        Expiry.parse(text)


def test_expiry_from_parts() -> None:
    assert Expiry.from_parts("12", "34") == Expiry(2034, 12)
    assert Expiry.from_parts(12, 2034) == Expiry(2034, 12)
    assert Expiry.from_parts(3, 29) == Expiry(2029, 3)
    with pytest.raises(InvalidExpiry):
        Expiry.from_parts("x", "34")
    with pytest.raises(InvalidExpiry):
        Expiry.from_parts(0, 2030)
    assert str(Expiry(2034, 2)) == "02/34"


def test_expired_uses_the_time_passed_in() -> None:
    exp = Expiry(2026, 11)
    assert not exp.is_expired(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    assert exp.is_expired(datetime(2026, 12, 1, tzinfo=UTC))
    assert exp.check(datetime(2026, 1, 1, tzinfo=UTC)) is exp
    with pytest.raises(ExpiredCard):
        exp.check(datetime(2027, 1, 1, tzinfo=UTC))
