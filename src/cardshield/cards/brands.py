"""Card brands and the IIN (issuer identification number) table.

The table is data: one row per prefix range with the lengths that brand issues. Rows are
ordered so that the first match wins where ranges overlap (Discover's co-branded UnionPay
range before UnionPay, Maestro's wide 5x/6x ranges last).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Brand(StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    JCB = "jcb"
    DINERS = "diners"
    UNIONPAY = "unionpay"
    MAESTRO = "maestro"

    @property
    def display_name(self) -> str:
        return _DISPLAY[self]

    @property
    def cvc_length(self) -> int:
        """Digits in this brand's card security code (Amex's CID has four)."""
        return 4 if self is Brand.AMEX else 3


_DISPLAY = {
    Brand.VISA: "Visa",
    Brand.MASTERCARD: "Mastercard",
    Brand.AMEX: "American Express",
    Brand.DISCOVER: "Discover",
    Brand.JCB: "JCB",
    Brand.DINERS: "Diners Club",
    Brand.UNIONPAY: "UnionPay",
    Brand.MAESTRO: "Maestro",
}


@dataclass(frozen=True, slots=True)
class IINRange:
    """Numbers whose first ``len(low)`` digits lie in ``[low, high]`` belong to ``brand``."""

    brand: Brand
    low: str
    high: str
    lengths: frozenset[int]

    def matches_prefix(self, digits: str) -> bool:
        head = digits[: len(self.low)]
        return len(head) == len(self.low) and self.low <= head <= self.high


def _r(brand: Brand, low: str, high: str, *lengths: int) -> IINRange:
    return IINRange(brand, low, high, frozenset(lengths))


_16_19 = (16, 17, 18, 19)
_12_19 = tuple(range(12, 20))

IIN_TABLE: tuple[IINRange, ...] = (
    _r(Brand.VISA, "4", "4", 13, 16, 19),
    _r(Brand.MASTERCARD, "51", "55", 16),
    _r(Brand.MASTERCARD, "2221", "2720", 16),
    _r(Brand.AMEX, "34", "34", 15),
    _r(Brand.AMEX, "37", "37", 15),
    _r(Brand.DISCOVER, "6011", "6011", *_16_19),
    _r(Brand.DISCOVER, "644", "649", *_16_19),
    _r(Brand.DISCOVER, "65", "65", *_16_19),
    _r(Brand.DISCOVER, "622126", "622925", *_16_19),
    _r(Brand.JCB, "3528", "3589", *_16_19),
    _r(Brand.DINERS, "300", "305", 14, 15, 16),
    _r(Brand.DINERS, "3095", "3095", 14, 15, 16),
    _r(Brand.DINERS, "36", "36", 14, 15, 16),
    _r(Brand.DINERS, "38", "39", 14, 15, 16),
    _r(Brand.UNIONPAY, "62", "62", *_16_19),
    _r(Brand.MAESTRO, "50", "50", *_12_19),
    _r(Brand.MAESTRO, "56", "69", *_12_19),
)

MIN_LENGTH = min(min(r.lengths) for r in IIN_TABLE)
MAX_LENGTH = max(max(r.lengths) for r in IIN_TABLE)


def brand_for(digits: str) -> Brand | None:
    """The brand of a complete number: prefix and length must both fit. None if no row fits."""
    n = len(digits)
    for row in IIN_TABLE:
        if n in row.lengths and row.matches_prefix(digits):
            return row.brand
    return None


def brand_for_prefix(digits: str) -> Brand | None:
    """The brand a (possibly partial) number starts like, ignoring length: for live typing."""
    for row in IIN_TABLE:
        if row.matches_prefix(digits):
            return row.brand
    return None
