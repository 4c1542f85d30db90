"""Prefilters: find, at C speed, the few places in a buffer where a card number could start.

A prefilter reports the end offsets of matches of a loose, brand-aware pattern: a digit 2-6
(no card starts with 0, 1, 7, 8 or 9, which rules out millisecond timestamps) that is not
glued to a digit on its left, followed by eleven more digits with at most
:data:`MAX_GAP` separator bytes between two of them (whitespace, ``. , + _ / -``; that also
covers a spreadsheet mantissa's decimal point). Everything it reports is checked again by
the real rules; everything it skips cannot hold a card. URL-escaped separators
(:data:`URL_ESCAPE`) are blanked to ``%`` by the caller, so both implementations treat
``%`` as a separator. Digits of other scripts and Unicode spaces are folded to ASCII before
the prefilter runs.

Two implementations behind one small Protocol: Hyperscan (a SIMD regex engine, used when
the ``hyperscan`` package is installed) and the standard library's ``re`` over a translated
copy of the buffer (everywhere else).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

# URL escapes of the separators cardshield.redaction.text knows (%C2%A0: no-break space).
URL_ESCAPE = re.compile(rb"%(?:2[0BCDEFbcdef]|5[Ff]|0[9ADad]|[Cc]2%[Aa]0)")
# Three separators between two digit groups, each at most six bytes once blanked (%C2%A0).
MAX_GAP = 18
_SEPARATOR_BYTES = b" \t\n\r\f\v.,+_/-%"


class Prefilter(Protocol):
    name: str

    def candidate_ends(self, data: bytes, at_start: bool) -> list[int]:
        """Ascending end offsets (exclusive) of candidate runs in ``data``.

        ``at_start`` says that ``data[0]`` starts the stream (so it has no left neighbour).
        """
        ...


def _translation() -> bytes:
    table = bytearray(b"x" * 256)
    for ch in b"23456":
        table[ch] = ord("S")
    for ch in b"01789":
        table[ch] = ord("D")
    for ch in _SEPARATOR_BYTES:
        table[ch] = ord("p")
    return bytes(table)


class RePrefilter:
    """Translate digits 2-6 to S, other digits to D, separators to p, the rest to x; then one
    regex led by its rarest part (twelve contiguous digits are tried first)."""

    name = "re"
    _TABLE = _translation()
    _PATTERN = re.compile(
        rb"[xp]S(?:[SD]{11}"  # 12 or more contiguous digits: the common case, no gaps
        rb"|(?:p{0,%d}[SD]){11})" % MAX_GAP  # digits in groups, any separators between
    )

    def candidate_ends(self, data: bytes, at_start: bool) -> list[int]:
        # The leading "x" stands for the byte before data[0]: index i here is data[i - 1].
        translated = b"x" + data.translate(self._TABLE)
        start = 0 if at_start else 1
        return [m.end() - 1 for m in self._PATTERN.finditer(translated, start)]


_HS_PATTERN = rb"[^0-9][2-6](?:[ \t\n\r\f\v.,+_/%%\-]{0,%d}[0-9]){11}" % MAX_GAP


class HyperscanPrefilter:
    """The same candidates (a superset) found by Hyperscan, about 1 GB/s per core."""

    name = "hyperscan"

    def __init__(self) -> None:
        import hyperscan

        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=[_HS_PATTERN], ids=[0], elements=1, flags=[0])

    def candidate_ends(self, data: bytes, at_start: bool) -> list[int]:
        ends: list[int] = []

        def on_match(_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            ends.append(to)

        if at_start:
            self._db.scan(b"\n" + data, match_event_handler=on_match)
            return [e - 1 for e in ends]
        self._db.scan(data, match_event_handler=on_match)
        return ends


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
