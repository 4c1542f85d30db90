"""The Luhn (mod 10) check digit, ISO/IEC 7812-1 Annex B."""

from __future__ import annotations

# Doubled-digit values: 2*d, minus 9 when two digits long.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_sum(digits: str) -> int:
    """Luhn sum of an ASCII digit string, rightmost digit undoubled."""
    total = 0
    double = False
    for ch in reversed(digits):
        d = ord(ch) - 48
        total += _DOUBLED[d] if double else d
        double = not double
    return total


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check."""
    return len(digits) > 1 and luhn_sum(digits) % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The check digit to append to ``partial`` so that the result is Luhn-valid."""
    return str((10 - luhn_sum(partial + "0") % 10) % 10)
