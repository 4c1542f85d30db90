"""Pure card primitives: PAN, CVV, expiry, brands, Luhn, masking, test cards. No I/O."""

from __future__ import annotations

from cardshield.cards.brands import IIN_TABLE, Brand, brand_for, brand_for_prefix
from cardshield.cards.cvv import CVV
from cardshield.cards.expiry import Expiry
from cardshield.cards.luhn import luhn_check_digit, luhn_valid
from cardshield.cards.masking import mask_digits, mask_in_place, mask_stored
from cardshield.cards.pan import PAN, normalize_number, pan_from_digits
from cardshield.cards.testcards import TEST_CARDS, Outcome, TestCard, is_test_card, lookup

__all__ = [
    "CVV",
    "IIN_TABLE",
    "PAN",
    "TEST_CARDS",
    "Brand",
    "Expiry",
    "Outcome",
    "TestCard",
    "brand_for",
    "brand_for_prefix",
    "is_test_card",
    "lookup",
    "luhn_check_digit",
    "luhn_valid",
    "mask_digits",
    "mask_in_place",
    "mask_stored",
    "normalize_number",
    "pan_from_digits",
]
