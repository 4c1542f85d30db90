"""The column a number sits in, for delimited files (CSV, TSV, ``|``-separated exports).

The first line of a stream is taken for a header when it splits, on one delimiter, into at
least two names that read like column names (no digit runs). A number's column is then the
header name of the field it starts in, found by counting delimiters (outside double quotes)
from the start of its line. The look-alike rules read the column as a label: a ``phone``
column holds phone numbers, a ``card_number`` column holds cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DELIMITERS = (b",", b";", b"\t", b"|")
_MAX_HEADER = 8192
_NAME = re.compile(rb"^[A-Za-z_][A-Za-z0-9_ .#/()\[\]\-]{0,63}$")
# A line longer than this is not looked back over for its start.
_MAX_LINE = 1 << 16


@dataclass(frozen=True, slots=True)
class CsvHeader:
    delimiter: bytes
    names: tuple[str, ...]

    @classmethod
    def sniff(cls, head: bytes) -> CsvHeader | None:
        """The header of a delimited file from its first bytes, or None."""
        end = head.find(b"\n", 0, _MAX_HEADER)
        if end < 0:
            return None
        line = head[:end].rstrip(b"\r")
        if line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        best: CsvHeader | None = None
        for delimiter in _DELIMITERS:
            if delimiter not in line:
                continue
            cells = [c.strip().strip(b"\"'").strip() for c in line.split(delimiter)]
            if len(cells) < 2 or not all(_NAME.match(c) for c in cells if c):
                continue
            if sum(1 for c in cells if c) < 2:
                continue
            header = cls(delimiter, tuple(c.decode("ascii") for c in cells))
            if best is None or len(header.names) > len(best.names):
                best = header
        return best

    def column_at(self, buf: bytes, offset: int) -> str | None:
        """The name of the column ``buf[offset]`` lies in; None when the line's start is not
        in ``buf`` (or the line is the header itself)."""
        newline = buf.rfind(b"\n", max(0, offset - _MAX_LINE), offset)
        if newline < 0:
            return None  # the header line, or a line that began before this buffer
        field = _field_index(buf, newline + 1, offset, self.delimiter)
        return self.names[field] if field < len(self.names) else None


def _field_index(buf: bytes, start: int, offset: int, delimiter: bytes) -> int:
    segment = buf[start:offset]
    if b'"' not in segment:
        return segment.count(delimiter)
    index, quoted = 0, False
    d = delimiter[0]
    for byte in segment:
        if byte == 0x22:
            quoted = not quoted
        elif byte == d and not quoted:
            index += 1
    return index
