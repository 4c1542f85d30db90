"""Masked display of card numbers: at most the first six and last four digits (PCI DSS 3.4.1).

Short numbers show fewer leading digits so that at least five digits stay hidden whatever
the length (a 13-digit Visa shows 3 + 4, a 12-digit Maestro 2 + 4).
"""

from __future__ import annotations

from collections.abc import Sequence

MASK_CHAR = "*"
MAX_HEAD = 6  # PCI DSS 3.4.1: never more leading digits, whatever the BIN length


def visible_head(length: int) -> int:
    """How many leading digits a number of ``length`` digits may show."""
    return MAX_HEAD if length >= 15 else max(0, length - 10)


def mask_digits(digits: str, fill: str = MASK_CHAR) -> str:
    """``4242424242424242`` -> ``424242******4242``."""
    n = len(digits)
    head = visible_head(n)
    return digits[:head] + fill * (n - head - 4) + digits[-4:]


def mask_stored(bin_digits: str, last4: str, fill: str = MASK_CHAR) -> str:
    """The masked form of a card known only by its stored BIN and last four digits.

    ``42424242`` + ``4242`` -> ``424242******4242``. Whether the BIN has six or eight digits,
    at most six of them are shown; the full length is not stored, so the form is that of a
    16-digit card.
    """
    return bin_digits[:MAX_HEAD] + fill * 6 + last4


def mask_in_place(text: str, positions: Sequence[int] | None = None, fill: str = MASK_CHAR) -> str:
    """Mask the digits of a formatted number, keeping its separators where they were.

    ``4242 4242 4242 4242`` -> ``4242 42** **** 4242``. ``positions`` are the indexes of the
    card's digits in ``text`` (needed when a separator holds digits itself, as ``%20`` does);
    by default every ASCII digit. Everything else is copied unchanged.
    """
    if positions is None:
        positions = [i for i, ch in enumerate(text) if "0" <= ch <= "9"]
    n = len(positions)
    hidden = set(positions[visible_head(n) : n - 4])
    return "".join(fill if i in hidden else ch for i, ch in enumerate(text))
