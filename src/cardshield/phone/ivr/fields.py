"""Checking one keyed field at a time; shared by the IVR and agent-assisted capture.

Each check returns the typed value or raises the card error that names what is wrong
(``invalid_expiry``, ``expired_card``, ``incorrect_number``, ``unsupported_brand``,
``invalid_cvc``), so the caller can be told which field to key again.
"""

from __future__ import annotations

from datetime import datetime

from cardshield.cards import CVV, PAN, Brand, Expiry
from cardshield.errors import InvalidCVC, InvalidExpiry

FIELDS = ("expiry", "card", "cvc", "postal")


def check_expiry(digits: str, now: datetime) -> Expiry:
    """``MMYY`` keyed on the phone, not past ``now``."""
    if len(digits) != 4 or not digits.isdigit():
        raise InvalidExpiry
    return Expiry.from_parts(digits[:2], digits[2:]).check(now)


def check_card(digits: str) -> PAN:
    """A Luhn-valid number of a supported brand."""
    return PAN(digits)


def check_cvc(digits: str, brand: str | None) -> CVV:
    """A security code of the length ``brand`` uses."""
    if not digits.isdigit():
        raise InvalidCVC
    return CVV(digits, Brand(brand) if brand else None)


def check_postal(digits: str) -> bool:
    """Whether a postal code was keyed (optional; only its presence is kept)."""
    return bool(digits) and digits.isdigit() and len(digits) <= 10
