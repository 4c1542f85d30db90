"""Prefilters: find, at C speed, the few places in a buffer where a card number could be.

A prefilter reports two kinds of candidates, both starting at a digit 2-6 (no card starts
with 0, 1, 7, 8 or 9, which rules out millisecond timestamps) that is not glued to a digit
on its left:

* **contiguous**: a whole run of 12 to 19 digits (the IIN table's lengths), bounded by
  non-digits, as ``(start, end)``. A longer or shorter run cannot be a card (a number is
  never cut out of a longer run), so ``1709294400036`` and 20-digit ids never reach Python.
  The exact (prefix, length) pairs of the IIN table and Luhn are checked by the caller with
  a table lookup: spelled out as one alternation of every prefix range, the same check made
  Hyperscan ten times slower on digit-dense logs (47 against 500 MB/s on one core,
  measured on bench/discovery_bench.py's dense log), far more than the lookup costs.
* **grouped**: a first group of four to eighteen digits, one or more separator bytes
  (whitespace, ``. , + _ / -`` or a blanked URL escape), and digits enough for twelve in
  all, as the end offset after the twelfth digit; plus spreadsheet mantissas
  (``4.24242424242424E+15``). Every group of a printed card but the last has four digits
  or more, so the first group of a card in groups is never shorter.

Everything reported is checked again by the real rules; everything skipped cannot hold a
card. URL-escaped separators (:data:`URL_ESCAPE`) are blanked to ``%`` by the caller.
Digits of other scripts and Unicode spaces are folded to ASCII before the prefilter runs.

Two implementations behind one small Protocol: Hyperscan (a SIMD regex engine, used when
the ``hyperscan`` package is installed) and the standard library's ``re`` (everywhere else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from cardshield.cards.brands import MAX_LENGTH, MIN_LENGTH

# URL escapes of the separators cardshield.redaction.text knows (%C2%A0: no-break space).
URL_ESCAPE = re.compile(rb"%(?:2[0BCDEFbcdef]|5[Ff]|0[9ADad]|[Cc]2%[Aa]0)")
# Three separators between two digit groups, each at most six bytes once blanked (%C2%A0).
MAX_GAP = 18
_SEP = rb"[ \t\n\r\f\v.,+_/%\-]"
# The longest first group that still leaves a digit for a second group.
_MAX_FIRST_GROUP = MAX_LENGTH - 1


@dataclass(slots=True)
class Candidates:
    """What a prefilter found in one buffer, each list ascending."""

    contiguous: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of digits
    grouped: list[int] = field(default_factory=list)  # end offsets


class Prefilter(Protocol):
    name: str

    def candidates(self, data: bytes, at_start: bool) -> Candidates:
        """Candidates in ``data``. ``at_start`` says that ``data[0]`` starts the stream (so it
        has no left neighbour)."""
        ...


def contiguous_pattern() -> str:
    """A run of 12 to 19 digits (the IIN table's lengths) starting with 2-6."""
    return f"[2-6][0-9]{{{MIN_LENGTH - 1},{MAX_LENGTH - 1}}}"


def grouped_pattern(sep: str = _SEP.decode()) -> str:
    """A first group of 4-18 digits starting 2-6, separators, twelve digits in all."""
    alternatives = []
    for first in range(4, _MAX_FIRST_GROUP + 1):
        head = f"[2-6][0-9]{{{first - 1}}}{sep}{{1,{MAX_GAP}}}[0-9]"
        rest = MIN_LENGTH - first - 1  # digits still needed after the second group's first
        more = f"(?:{sep}{{0,{MAX_GAP}}}[0-9]){{{rest}}}" if rest > 0 else ""
        alternatives.append(head + more)
    return "(?:" + "|".join(alternatives) + ")"


# A spreadsheet cell's number in scientific notation (see matcher._from_scientific).
_SCIENTIFIC = r"[2-6]\.[0-9]{10,18}[eE]\+?[0-9]{1,2}"


class RePrefilter:
    """The same candidates found with the standard library's ``re``."""

    name = "re"

    def __init__(self) -> None:
        self._contiguous = re.compile(
            rb"(?<![0-9])" + contiguous_pattern().encode() + rb"(?![0-9])"
        )
        self._grouped = re.compile(
            rb"(?<![0-9])(?:" + grouped_pattern().encode() + b"|" + _SCIENTIFIC.encode() + b")"
        )

    def candidates(self, data: bytes, at_start: bool) -> Candidates:
        # A candidate at data[0] is dropped unless the stream starts there: its left
        # neighbour is in the previous buffer, which the caller has already looked at.
        first = 0 if at_start else 1
        found = Candidates()
        found.contiguous = [m.span() for m in self._contiguous.finditer(data, first)]
        ends: set[int] = set()
        pos = first
        while (m := self._grouped.search(data, pos)) is not None:
            ends.add(m.end())
            pos = m.start() + 1  # overlapping candidates, as Hyperscan reports them
        found.grouped = sorted(ends)
        return found


_CONTIGUOUS, _GROUPED = 0, 1


class HyperscanPrefilter:
    """The same candidates found by Hyperscan, about 1 GB/s per core."""

    name = "hyperscan"

    def __init__(self) -> None:
        import hyperscan

        lead, tail = rb"[^0-9]", rb"[^0-9]"
        contiguous = lead + contiguous_pattern().encode() + tail
        grouped = lead + rb"(?:" + grouped_pattern().encode() + b"|" + _SCIENTIFIC.encode() + b")"
        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[contiguous, grouped],
            ids=[_CONTIGUOUS, _GROUPED],
            elements=2,
            flags=[hyperscan.HS_FLAG_SOM_LEFTMOST, 0],
        )

    def candidates(self, data: bytes, at_start: bool) -> Candidates:
        found = Candidates()
        contiguous, grouped = found.contiguous, found.grouped
        # The lead byte stands for the left neighbour: a newline before the stream's first
        # byte; a newline after the last byte ends a run there (the caller carries a run
        # that reaches the end of a buffer over to the next one).
        shift = 1 if at_start else 0

        def on_match(ident: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            if ident == _CONTIGUOUS:
                contiguous.append((start + 1 - shift, end - 1 - shift))
            else:
                grouped.append(end - shift)

        padded = (b"\n" + data + b"\n") if at_start else (data + b"\n")
        self._db.scan(padded, match_event_handler=on_match)
        found.contiguous = sorted(set(contiguous))
        found.grouped = sorted(set(grouped))
        return found


_DEFAULT: Prefilter | None = None


def default_prefilter() -> Prefilter:
    """Hyperscan when it is installed and works here, else the ``re`` prefilter (cached)."""
    global _DEFAULT
    if _DEFAULT is None:
        try:
            _DEFAULT = HyperscanPrefilter()
        except Exception:  # not installed, or no SIMD support on this CPU
            _DEFAULT = RePrefilter()
    return _DEFAULT
