"""Masked display of card numbers: at most the first six and last four digits (PCI DSS 3.4.1).

Short numbers show fewer leading digits so that at least five digits stay hidden whatever
the length (a 13-digit Visa shows 3 + 4, a 12-digit Maestro 2 + 4).
"""

from __future__ import annotations

from collections.abc import Sequence

MASK_CHAR = "*"


def visible_head(length: int) -> int:
    """How many leading digits a number of ``length`` digits may show."""
    return 6 if length >= 15 else max(0, length - 10)


def mask_digits(digits: str, fill: str = MASK_CHAR) -> str:
    """``4242424242424242`` -> ``424242******4242``."""
    n = len(digits)
    head = visible_head(n)
    return digits[:head] + fill * (n - head - 4) + digits[-4:]


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
