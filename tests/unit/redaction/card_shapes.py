"""Hypothesis strategies: valid card numbers written the ways people paste them.

Shared by the redactor, logging and scanner property tests, so that all three are held to
the same shapes: Unicode and doubled or mixed separators, any printed grouping (every group
but the last at least four digits), digits of other scripts, letters glued on one side.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from cardshield.cards import IIN_TABLE, PAN, luhn_check_digit, mask_in_place
from cardshield.redaction.fold import fold

# One separator character each (a gap between groups takes one to three of them).
SEPARATOR_UNITS = [
    " ", "\u00a0", "\u2007", "\u2009", "\u202f", "\u3000", "\u200b", "\t", "\n", "\r",
    "-", "\u2013", ".", ",", "+", "_", "/", "\uff0b", "%20", "%2B", "%2D", "%2C", "%2F",
    "%C2%A0",
]  # fmt: skip
# The zero of each digit set: ASCII, fullwidth, Arabic-Indic, Devanagari, Bengali, bold.
DIGIT_ZEROS = [0x30, 0xFF10, 0x660, 0x966, 0x9E6, 0x1D7CE]
# Glued letters: never a hex letter on both sides (that reads as a hash).
GLUE = ["", "", "x", "card", "Z", "é", "a", "pan:"]
NOT_A_DIGIT = st.characters(exclude_categories=("Nd", "Cs"))
# Across a line break only the printed form counts (4-4-4-4, the last group 1-4).
LINE_BREAKS = ("\n", "\r")
ONE_LINE_UNITS = [u for u in SEPARATOR_UNITS if u not in LINE_BREAKS]


@st.composite
def pans(draw: st.DrawFn) -> PAN:
    row = draw(st.sampled_from(IIN_TABLE))
    width = len(row.low)
    prefix = str(draw(st.integers(int(row.low), int(row.high)))).zfill(width)
    length = draw(st.sampled_from(sorted(row.lengths)))
    middle = draw(st.text("0123456789", min_size=length - width - 1, max_size=length - width - 1))
    body = prefix + middle
    return PAN(body + luhn_check_digit(body))


@dataclass(frozen=True)
class Written:
    pan: PAN
    text: str  # the number as written, glued letters included
    positions: tuple[int, ...]  # indexes of its digits in ``text``

    def masked(self) -> str:
        return mask_in_place(self.text, self.positions)


@st.composite
def groupings(draw: st.DrawFn, n: int) -> list[int]:
    if draw(st.booleans()):  # as printed on the card
        return [4] * ((n - 1) // 4) + [n - 4 * ((n - 1) // 4)]
    sizes: list[int] = []
    left = n
    while left > 4 and draw(st.booleans()):
        size = draw(st.integers(4, left - 1))
        sizes.append(size)
        left -= size
    return [*sizes, left]


@st.composite
def written(draw: st.DrawFn) -> Written:
    pan = draw(pans())
    digits = pan.reveal()
    sizes = draw(groupings(len(digits)))
    per_digit = draw(st.booleans())
    script = draw(st.sampled_from(DIGIT_ZEROS))
    head = draw(st.sampled_from(GLUE))
    tail = draw(st.sampled_from(GLUE))
    if head[-1:] in "abcdefABCDEF" and tail[:1] in "abcdefABCDEF":
        tail = ""
    printed = all(size == 4 for size in sizes[:-1]) and sizes[-1] <= 4
    pool = SEPARATOR_UNITS if printed else ONE_LINE_UNITS
    out, positions, pos = [head], [], 0
    for k, size in enumerate(sizes):
        if k:
            units = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
            out.append("".join(units))
        for d in digits[pos : pos + size]:
            zero = draw(st.sampled_from(DIGIT_ZEROS)) if per_digit else script
            positions.append(sum(len(p) for p in out))
            out.append(chr(zero + int(d)))
        pos += size
    out.append(tail)
    return Written(pan, "".join(out), tuple(positions))


def digits_of(text: str) -> str:
    """Every digit in ``text``, of any script, as one ASCII string."""
    return "".join(ch for ch in fold(text) if "0" <= ch <= "9")
