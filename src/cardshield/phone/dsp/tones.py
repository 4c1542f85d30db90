"""The DTMF keypad: digits and their low-group and high-group frequencies."""

from __future__ import annotations

LOW_HZ: tuple[float, ...] = (697.0, 770.0, 852.0, 941.0)
HIGH_HZ: tuple[float, ...] = (1209.0, 1336.0, 1477.0, 1633.0)

#: Row-major keypad: KEYPAD[low][high].
KEYPAD: tuple[str, ...] = ("123A", "456B", "789C", "*0#D")
DIGITS = "0123456789*#ABCD"


def frequencies(digit: str) -> tuple[float, float]:
    """The (low, high) frequencies of ``digit``; raises ``ValueError`` for other characters."""
    for row, keys in enumerate(KEYPAD):
        col = keys.find(digit.upper()) if len(digit) == 1 else -1
        if col >= 0:
            return LOW_HZ[row], HIGH_HZ[col]
    raise ValueError("not a DTMF digit")


def digit_at(low: int, high: int) -> str:
    """The digit for low-group index ``low`` and high-group index ``high``."""
    return KEYPAD[low][high]
