"""The column a number sits in, for delimited files (CSV, TSV, ``|``-separated exports).

The first line of a stream is taken for a header when it splits, on one delimiter, into at
least two names that read like column names (no digit runs). A number's column is then the
header name of the field it starts in, found by counting delimiters (outside double quotes)
from the start of its line. The look-alike rules read the column as a label: a ``phone``
column holds phone numbers, a ``card_number`` column holds cards.

An SQL dump (mysqldump, pg_dump) has columns too: those its CREATE TABLE statements name
(in the stream's first megabyte), or the column list of an INSERT or COPY. A value's column
is its place in its INSERT tuple (commas outside quotes since the tuple's "(") or its COPY
row (tabs since the line's start).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DELIMITERS = (b",", b";", b"\t", b"|")
_MAX_HEADER = 8192
_NAME = re.compile(rb"^[A-Za-z_][A-Za-z0-9_ .,#/()\[\]\-]{0,63}$")
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
            cells = [c.strip().strip(b"\"'").strip() for c in _split_fields(line, delimiter)]
            if len(cells) < 2 or not all(_NAME.match(c) for c in cells if c):
                continue
            if sum(1 for c in cells if c) < 2:
                continue
            header = cls(delimiter, tuple(c.decode("ascii") for c in cells))
            if best is None or len(header.names) > len(best.names):
                best = header
        if best is None:
            return SqlColumns.sniff_sql(head[:_MAX_STATEMENT])
        return best

    def column_at(self, buf: bytes, offset: int) -> str | None:
        """The name of the column ``buf[offset]`` lies in; None when the line's start is not
        in ``buf`` (or the line is the header itself)."""
        newline = buf.rfind(b"\n", max(0, offset - _MAX_LINE), offset)
        if newline < 0:
            return None  # the header line, or a line that began before this buffer
        field = _field_index(buf, newline + 1, offset, self.delimiter)
        return self.names[field] if field < len(self.names) else None


def _split_fields(line: bytes, delimiter: bytes) -> list[bytes]:
    """A line split at ``delimiter`` outside double quotes (``"name, full"`` is one field)."""
    if b'"' not in line:
        return line.split(delimiter)
    fields, quoted, start = [], False, 0
    d = delimiter[0]
    for i, byte in enumerate(line):
        if byte == 0x22:
            quoted = not quoted
        elif byte == d and not quoted:
            fields.append(line[start:i])
            start = i + 1
    fields.append(line[start:])
    return fields


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


# SQL dumps (mysqldump, pg_dump): the column of a value in an INSERT tuple or a COPY row.
_SQL_NAME = rb"(?:`[^`]{1,64}`|\"[^\"]{1,64}\"|\[[^\]]{1,64}\]|[A-Za-z_][A-Za-z0-9_$]{0,63})"
_SQL_TABLE = rb"(" + _SQL_NAME + rb"(?:\." + _SQL_NAME + rb")?)"
_CREATE = re.compile(
    rb"(?i)CREATE\s+(?:TEMPORARY\s+|UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    + _SQL_TABLE
    + rb"\s*\("
)
_INSERT = re.compile(
    rb"(?i)INSERT\s+(?:IGNORE\s+)?INTO\s+" + _SQL_TABLE + rb"\s*(?:\(([^()]*)\))?\s*VALUES\s*\("
)
_COPY = re.compile(rb"(?i)COPY\s+" + _SQL_TABLE + rb"\s*\(([^()]*)\)\s*FROM\s+stdin;\r?\n")
_NOT_COLUMNS = frozenset(
    {"primary", "key", "unique", "constraint", "index", "foreign", "check", "fulltext", "spatial"}
)
# How far back a value's statement may start (extended INSERTs hold many rows per line).
_MAX_STATEMENT = 1 << 20


_NAME_PART = re.compile(_SQL_NAME)
_FIRST_NAME = re.compile(rb"\s*(" + _SQL_NAME + rb")")


def _unquote(name: bytes) -> str:
    """A table or column name without quotes or schema, lower-cased."""
    last: bytes = _NAME_PART.findall(name)[-1]
    return last.strip(b'`"[]').decode("latin-1").lower()


def _split_top(body: bytes) -> list[bytes]:
    """``body`` split at commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, 0, 0
    for i, byte in enumerate(body):
        if quote:
            if byte == quote:
                quote = 0
        elif byte in b"'\"`":
            quote = byte
        elif byte == 0x28:
            depth += 1
        elif byte == 0x29:
            depth -= 1
        elif byte == 0x2C and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def _column_names(definitions: bytes) -> tuple[str, ...]:
    names: list[str] = []
    for part in _split_top(definitions):
        m = _FIRST_NAME.match(part)
        if m is None:
            continue
        name = _unquote(m.group(1))
        if m.group(1)[:1] not in b'`"[' and name in _NOT_COLUMNS:
            continue
        names.append(name)
    return tuple(names)


def _create_body(head: bytes, start: int) -> bytes | None:
    depth = 1
    for i in range(start, min(len(head), start + _MAX_HEADER * 8)):
        if head[i] == 0x28:
            depth += 1
        elif head[i] == 0x29:
            depth -= 1
            if depth == 0:
                return head[start:i]
    return None


@dataclass(frozen=True, slots=True)
class SqlColumns(CsvHeader):
    """The columns of an SQL dump's tables (from its CREATE TABLE statements, or an INSERT's
    or COPY's own column list): a value's column is its place in the row."""

    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def sniff_sql(cls, head: bytes) -> SqlColumns | None:
        tables: dict[str, tuple[str, ...]] = {}
        for m in _CREATE.finditer(head):
            body = _create_body(head, m.end())
            if body is not None:
                tables[_unquote(m.group(1))] = _column_names(body)
        if not tables and _INSERT.search(head) is None and _COPY.search(head) is None:
            return None
        return cls(b",", (), tables)

    def column_at(self, buf: bytes, offset: int) -> str | None:
        lo = max(0, offset - _MAX_STATEMENT)
        newline = buf.rfind(b"\n", lo, offset)
        copy_at = buf.rfind(b"COPY ", lo, offset)
        if copy_at >= 0 and newline > copy_at:
            copy = _COPY.match(buf, copy_at)
            if copy is not None and buf.find(b"\n\\.", copy.end() - 1, offset) < 0:
                names = _column_names(copy.group(2))
                place = buf.count(b"\t", newline + 1, offset)
                return names[place] if place < len(names) else None
        insert_at = max(buf.rfind(b"INSERT ", lo, offset), buf.rfind(b"insert ", lo, offset))
        if insert_at < 0:
            return None
        insert = _INSERT.match(buf, insert_at)
        if insert is None or insert.end() > offset:
            return None
        if insert.group(2) is not None:
            names = _column_names(insert.group(2))
        else:
            names = self.tables.get(_unquote(insert.group(1)), ())
        in_tuple = _tuple_field(buf, insert.end(), offset)
        return names[in_tuple] if in_tuple is not None and in_tuple < len(names) else None


def _tuple_field(buf: bytes, values: int, offset: int) -> int | None:
    """The place of ``buf[offset]`` in its tuple of an INSERT whose first tuple's values
    start at ``values``: counted from the last "(" that opens a tuple ("),(")."""
    start, pos = values, offset
    while True:
        paren = buf.rfind(b"(", values, pos)
        if paren < 0:
            break
        before = buf[max(values, paren - 4) : paren].rstrip()
        if before.endswith(b",") and before[:-1].rstrip().endswith(b")"):
            start = paren + 1
            break
        pos = paren
    index, quote, escaped = 0, False, False
    for byte in buf[start:offset]:
        if escaped:
            escaped = False
        elif byte == 0x5C and quote:
            escaped = True
        elif byte == 0x27:
            quote = not quote
        elif byte == 0x2C and not quote:
            index += 1
        elif byte == 0x29 and not quote:
            return None  # past the end of the tuple
    return index
