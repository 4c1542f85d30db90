"""SQLite database files: every table, every column, opened read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from urllib.parse import quote

from cardshield.discovery.blob import Blob
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError
from cardshield.discovery.extractors.cells import scan_cell

_BATCH = 1000


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        with blob.on_disk() as path:
            try:
                # immutable=1: no locks, no journal, nothing written next to the file.
                conn = sqlite3.connect(f"file:{quote(path)}?mode=ro&immutable=1", uri=True)
            except sqlite3.Error as exc:
                raise ExtractError("unreadable SQLite database") from exc
            try:
                self._scan(conn, blob, ctx)
            except sqlite3.Error as exc:
                raise ExtractError(f"corrupt SQLite database ({type(exc).__name__})") from exc
            finally:
                conn.close()
        yield from ()

    def _scan(self, conn: sqlite3.Connection, blob: Blob, ctx: FileContext) -> None:
        conn.text_factory = lambda data: data  # keep bytes: text may not be valid UTF-8
        tables = [
            row[0].decode("utf-8", "replace") if isinstance(row[0], bytes) else str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for table in tables:
            member = f"{blob.name}!{table}"
            ctx.result.members += 1
            try:
                # B608 does not apply: the table name comes from the file's own sqlite_master and is
                # quoted as an identifier; identifiers cannot be bound as parameters.
                query = f"SELECT * FROM {_quote_ident(table)}"  # noqa: S608  # nosec B608
                cursor = conn.execute(query)
            except sqlite3.Error as exc:  # virtual tables whose module is missing, etc.
                ctx.warn(member, f"table not readable ({type(exc).__name__})")
                continue
            columns = [d[0] for d in cursor.description]
            row_number = 0
            while rows := cursor.fetchmany(_BATCH):
                ctx.check_time()
                for row in rows:
                    row_number += 1
                    for column, value in zip(columns, row, strict=True):
                        scan_cell(ctx, member, row_number, column, value)
