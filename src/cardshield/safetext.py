"""Names that came from outside (file, archive member and column names, error text) made
safe for the two places that interpret text: spreadsheets and terminals.

* :func:`csv_text` writes rows with every cell quoted, and :func:`csv_cell` prefixes a
  text cell that starts with ``= + - @``, a tab or a carriage return with ``'``, so a
  spreadsheet shows ``=HYPERLINK(...)`` instead of running it (OWASP, CSV injection). A
  carriage return inside a cell can no longer end the row either.
* :func:`terminal_text` writes each control character as ``\\xNN`` (``\\uNNNN`` above
  U+00FF), so ``ESC [``, OSC 8 links, ``\\r`` and the bell are shown, not obeyed, and the
  name stays recognisable. Bidirectional overrides and line separators count as control
  characters here; a byte that was not UTF-8 (a surrogate escape) is shown as that byte.

JSON and SARIF need neither: JSON escapes control characters itself, and their readers
are programs, which must get the exact name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

_FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r")
# C0, DEL and C1; then what reorders text on screen (bidi marks, embeddings, overrides,
# isolates) or breaks a line (U+2028, U+2029); then lone surrogates.
_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f" r"\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069" r"\ud800-\udfff]"
)


def csv_cell(value: object) -> object:
    """``value`` as a spreadsheet cannot run it; numbers and other non-text pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADERS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document: the header, then each row, every cell quoted and passed through
    :func:`csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(text: str) -> str:
    """``text`` with every control character written out, safe to print to a terminal."""
    return _UNSAFE.sub(_escape, text)


__all__ = ["csv_cell", "csv_text", "terminal_text"]
