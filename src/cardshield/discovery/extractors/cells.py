"""Scanning database cells (SQLite files and live databases) one value at a time.

A cell is reported with its table as the member (``app.db!users``), its row number as the
line and its column name. Integers and integral floats are scanned as their digits, so a
card stored in a numeric column is found too.
"""

from __future__ import annotations

import json
from decimal import Decimal

from cardshield.discovery.context import FileContext
from cardshield.discovery.matcher import scan_bytes

MIN_CELL = 12  # fewer bytes cannot hold a card number
MAX_CELL = 1 << 20  # bounded read: the start of very large values only


def cell_bytes(value: object) -> bytes | None:
    """The bytes of a cell worth scanning, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value[:MAX_CELL])
    elif isinstance(value, int):
        data = str(value).encode("ascii")
    elif isinstance(value, float):
        data = (str(int(value)) if value.is_integer() else repr(value)).encode("ascii")
    elif isinstance(value, Decimal):
        data = str(
            value.to_integral_value() if value == value.to_integral_value() else value
        ).encode("ascii")
    elif isinstance(value, str):
        data = value[:MAX_CELL].encode("utf-8", "surrogatepass")
    elif isinstance(value, dict | list):
        # Non-ASCII kept as it is: a \uff14 escape would hide a fullwidth digit.
        data = json.dumps(value, ensure_ascii=False)[:MAX_CELL].encode("utf-8", "surrogatepass")
    else:
        data = str(value)[:MAX_CELL].encode("utf-8", "surrogatepass")
    return data if len(data) >= MIN_CELL else None


def scan_cell(ctx: FileContext, member: str, row: int, column: str, value: object) -> int:
    """Scan one cell; returns the number of bytes looked at."""
    data = cell_bytes(value)
    if data is None:
        return 0
    # The column name is the cell's label: a "phone" column holds phone numbers.
    hits = scan_bytes(
        data,
        numeric_cells=isinstance(value, float),
        lookalikes=ctx.options.lookalikes,
        column=column,
        dropped=ctx.result.lookalikes,
    )
    if hits:
        ctx.report(member, hits, line=row, column=column)
    return len(data)
