"""Fold the many ways a digit or a space can be written into the ASCII the matchers read.

Card numbers reach cardshield pasted from documents and chat apps: with no-break or thin
spaces between the groups (U+00A0, U+2007, U+202F, U+3000), in fullwidth (U+FF10-U+FF19)
or other scripts' digits (``٤٢٤٢``), with en dashes or zero-width characters. Folding turns
them into what the card rules know (ASCII digits, a space, ``-``), one character in and
one character out, so an index into the folded text is an index into the original: a
match found in the folded text is masked in the original, and nothing else changes.

* any Unicode decimal digit (category Nd) becomes its ASCII digit;
* any space, line or paragraph separator and any invisible format character (Zs, Zl, Zp,
  Cf: U+200B, U+FEFF, soft hyphen...) becomes a space;
* any dash (Pd) becomes ``-``;
* a character whose NFKC form is one ASCII character becomes that (fullwidth ``+ , :``);
* everything else is kept as it is. Superscripts and circled numbers are not digits.

For byte streams (the scanner), :class:`Utf8Folder` folds UTF-8 incrementally; bytes that
are not UTF-8 pass through unchanged, except a lone ``0xA0`` (Latin-1 and Windows-1252
no-break space), which becomes a space.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cf"})
# A byte that is not UTF-8 decodes (surrogateescape) to U+DC00 + byte.
_ESCAPED_NBSP = 0xDC00 + 0xA0
# A text with this many distinct non-ASCII characters stops growing the table.
_TABLE_LIMIT = 1 << 16


def _fold_char(code: int) -> str:
    ch = chr(code)
    if code == _ESCAPED_NBSP:
        return " "
    if 0xD800 <= code <= 0xDFFF:
        return ch
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    category = unicodedata.category(ch)
    if category in _SPACE_CATEGORIES or ch.isspace():
        return " "
    if category == "Pd":
        return "-"
    if category in ("No", "Nl"):
        return ch  # superscripts, circled and Roman numerals: NFKC would make them digits
    nfkc = unicodedata.normalize("NFKC", ch)
    if len(nfkc) == 1 and nfkc.isascii():
        return nfkc
    return ch


class _FoldTable(dict[int, str]):
    """``str.translate`` table that works out each non-ASCII character once."""

    def __missing__(self, code: int) -> str:
        if code < 0x80:
            raise LookupError(code)  # ASCII is kept: translate copies the character
        folded = _fold_char(code)
        if len(self) < _TABLE_LIMIT:
            self[code] = folded
        return folded


_TABLE = _FoldTable()


# str.translate looks every character up, ASCII included; most non-ASCII text is a few
# accented letters or dashes among ASCII, so only the non-ASCII stretches are translated.
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_match(m: re.Match[str]) -> str:
    return m.group().translate(_TABLE)


def fold(text: str) -> str:
    """``text`` with digits and spaces of every script folded to ASCII (same length)."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_fold_match, text)


class Utf8Folder:
    """Fold a UTF-8 byte stream chunk by chunk (a character split between chunks is kept).

    The output is shorter than the input where a multi-byte digit or space became one byte.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._pending = False

    def fold(self, chunk: bytes | bytearray | memoryview, *, final: bool = False) -> bytes:
        """The folded bytes of ``chunk`` (bytes, never a view of the caller's buffer)."""
        chunk = bytes(chunk)
        if not self._pending and chunk.isascii():
            return chunk  # the common case, at C speed
        text = self._decoder.decode(chunk, final)
        self._pending = bool(self._decoder.getstate()[0])
        return fold(text).encode("utf-8", "surrogateescape")


def fold_utf8(data: bytes) -> bytes:
    """Fold one complete UTF-8 (or ASCII-compatible) byte string."""
    return Utf8Folder().fold(data, final=True)


__all__ = ["Utf8Folder", "fold", "fold_utf8"]
