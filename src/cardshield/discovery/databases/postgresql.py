"""Scanning a live PostgreSQL database (``postgresql://`` and ``postgres://`` URLs).

Reads are bounded three ways: at most ``max_rows`` rows per table (``LIMIT``, fetched in
batches through a server-side cursor), a statement timeout, and the start of each value
only (see :data:`~cardshield.discovery.extractors.cells.MAX_CELL`). The session is
read-only. Findings name ``postgresql://host:port/db!schema.table``, row number as the line
and the column; user name and password never appear in a report.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cardshield.discovery.context import FileContext, ScanOptions
from cardshield.discovery.errors import DatabaseScanError, LimitExceeded, ScanOptionError
from cardshield.discovery.extractors.cells import scan_cell
from cardshield.discovery.findings import FileResult

_TABLES = """
SELECT table_schema, table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('pg_catalog', 'information_schema')
  AND table_schema NOT LIKE 'pg\\_toast%%'
ORDER BY table_schema, table_name
"""


def public_url(url: str) -> str:
    """The URL without user name, password or query: safe to print."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ScanOptionError("--db takes a postgresql:// URL")
    host = parts.hostname or "localhost"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise ScanOptionError("the port of the --db URL is not valid") from None
    return f"postgresql://{host}{port}{parts.path or '/'}"


def scan_database(
    url: str,
    options: ScanOptions,
    *,
    max_rows: int = 100_000,
    statement_timeout_ms: int = 60_000,
    batch: int = 1000,
) -> list[FileResult]:
    """One result per table. Raises :class:`DatabaseScanError` if the database is unreachable."""
    import psycopg
    from psycopg import sql

    base = public_url(url)
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise DatabaseScanError(f"cannot connect to {base} ({type(exc).__name__})") from exc
    results: list[FileResult] = []
    with conn:
        try:
            conn.read_only = True
            conn.execute(
                sql.SQL("SET statement_timeout = {}").format(sql.Literal(statement_timeout_ms))
            )
            tables = conn.execute(_TABLES).fetchall()
        except psycopg.Error as exc:
            raise DatabaseScanError(f"cannot list the tables of {base}") from exc
        for schema, table in tables:
            member = f"{base}!{schema}.{table}"
            result = FileResult(path=member, members=1)
            ctx = FileContext(options, result, 1)
            query = sql.SQL("SELECT * FROM {}.{} LIMIT {}").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Literal(max_rows)
            )
            try:
                with conn.cursor(name="cardshield_scan") as cursor:
                    cursor.itersize = batch
                    cursor.execute(query)
                    columns: list[str] | None = None
                    for row_number, row in enumerate(cursor, start=1):
                        if columns is None:
                            columns = [d.name for d in cursor.description or ()]
                        for column, value in zip(columns, row, strict=False):
                            result.bytes_read += scan_cell(ctx, member, row_number, column, value)
                        if row_number % batch == 0:
                            ctx.check_time()
                conn.commit()
            except LimitExceeded as exc:
                ctx.warn(member, exc.message)
                conn.rollback()
            except psycopg.Error as exc:
                ctx.warn(member, f"table not readable ({type(exc).__name__})")
                conn.rollback()
            results.append(result)
    return results
