"""The PAN (primary account number) value type.

A PAN validates on construction and can only be read back through :meth:`PAN.reveal`, so
every place that handles the plaintext is easy to find. ``repr``/``str``/f-strings show the
masked form, equality is constant-time, and pickling is refused so that a PAN cannot slip
into a queue, a cache or a process pool by accident.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

from cardshield.cards.brands import MAX_LENGTH, MIN_LENGTH, Brand, brand_for, brand_for_prefix
from cardshield.cards.luhn import luhn_valid
from cardshield.cards.masking import mask_digits
from cardshield.errors import IncorrectNumber, InvalidNumber, UnsupportedBrand

# Characters people and forms put between digit groups.
_SEPARATORS = str.maketrans("", "", " -.\t")


def normalize_number(raw: str) -> str:
    """Strip spaces, dashes, dots and tabs; raise :class:`InvalidNumber` for anything else."""
    digits = raw.strip().translate(_SEPARATORS)
    if not digits.isascii() or not digits.isdigit():
        raise InvalidNumber
    return digits


class PAN:
    """A validated card number whose plaintext is shown only through :meth:`reveal`."""

    __slots__ = ("_brand", "_digits")

    _digits: str
    _brand: Brand

    def __init__(self, raw: str) -> None:
        digits = normalize_number(raw)
        if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
            raise InvalidNumber
        if not luhn_valid(digits):
            raise IncorrectNumber
        brand = brand_for(digits)
        if brand is None:
            # A known prefix with the wrong length is a bad number, not an unknown brand.
            raise InvalidNumber if brand_for_prefix(digits) is not None else UnsupportedBrand
        self._digits = digits
        self._brand = brand

    @classmethod
    def _trusted(cls, digits: str, brand: Brand) -> PAN:
        """Build from digits already validated here; outside callers use pan_from_digits()."""
        pan = object.__new__(cls)
        pan._digits = digits
        pan._brand = brand
        return pan

    def reveal(self) -> str:
        """The plaintext digits. Call only inside the vault boundary, and keep it short-lived."""
        return self._digits

    @property
    def brand(self) -> Brand:
        return self._brand

    @property
    def bin(self) -> str:
        """The first six digits (the historical BIN/IIN)."""
        return self._digits[:6]

    @property
    def bin8(self) -> str:
        """The first eight digits (Visa and Mastercard moved to 8-digit BINs in 2022)."""
        return self._digits[:8]

    @property
    def last4(self) -> str:
        return self._digits[-4:]

    @property
    def length(self) -> int:
        return len(self._digits)

    def masked(self) -> str:
        return mask_digits(self._digits)

    def __repr__(self) -> str:
        if not hasattr(self, "_digits"):  # seen by debuggers while __init__ is rejecting input
            return "PAN(<unset>)"
        return f"PAN({self.masked()!r})"

    def __str__(self) -> str:
        return self.masked()

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PAN):
            return NotImplemented
        return hmac.compare_digest(self._digits, other._digits)

    def __hash__(self) -> int:
        return hash((PAN, self._digits))

    def __reduce__(self) -> NoReturn:
        raise TypeError("PAN objects cannot be pickled")

    def __copy__(self) -> PAN:
        return self

    def __deepcopy__(self, memo: object) -> PAN:
        return self


def pan_from_digits(digits: str) -> PAN | None:
    """The PAN made of ``digits`` (ASCII digits, nothing else), or None when they are not a
    card number: a length and prefix in the brand table and a Luhn check digit.

    For scanners, which test many candidates that are mostly not cards: nothing is
    normalised and nothing is raised, so a miss costs only the checks themselves.
    """
    if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
        return None
    brand = brand_for(digits)  # rejects most candidates, so it goes first
    if brand is None or not (digits.isascii() and digits.isdigit()) or not luhn_valid(digits):
        return None
    return PAN._trusted(digits, brand)
