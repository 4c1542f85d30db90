"""Scanning a live MySQL or MariaDB database (``mysql://`` and ``mariadb://`` URLs).

``mysql://user:password@host:port/db``: port 3306, user ``root`` and an empty password
unless given; ``?unix_socket=/path`` connects through a socket instead. With a database in
the path its tables are scanned, without one those of every database but the server's own
(information_schema, mysql, performance_schema, sys).

Reads are bounded as for PostgreSQL: at most ``max_rows`` rows per table (``LIMIT``),
streamed through an unbuffered cursor and checked against the time limit every batch; a
statement timeout (``max_statement_time`` on MariaDB, ``MAX_EXECUTION_TIME`` on MySQL, left
out where the server has neither); the start of each value only (see
:data:`~cardshield.discovery.extractors.cells.MAX_CELL`). The session and every
transaction are read-only. Text comes back as the bytes the server sent (utf8mb4), so a
value that is not valid UTF-8 is still scanned. A table that cannot be read, or that the
statement timeout stops, becomes a warning and the scan goes on. Findings name
``mysql://host:port/db!db.table``, row number as the line and the column; user name and
password never appear in a report, warning or error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from cardshield.discovery.context import FileContext, ScanOptions
from cardshield.discovery.errors import DatabaseScanError, LimitExceeded, ScanOptionError
from cardshield.discovery.extractors.cells import scan_cell
from cardshield.discovery.findings import FileResult

if TYPE_CHECKING:
    from pymysql.connections import Connection
    from pymysql.cursors import Cursor

SCHEMES = ("mysql", "mariadb")
DEFAULT_PORT = 3306
CONNECT_TIMEOUT = 10  # seconds
SYSTEM_DATABASES = ("information_schema", "mysql", "performance_schema", "sys")

_TABLES = (
    "SELECT table_schema, table_name FROM information_schema.tables"
    " WHERE table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') AND {where}"
    " ORDER BY table_schema, table_name"
)
_IN_URL_DATABASE = "table_schema = DATABASE()"
_NOT_SYSTEM = "table_schema NOT IN ({})".format(", ".join(f"'{d}'" for d in SYSTEM_DATABASES))

_UNKNOWN_SYSTEM_VARIABLE = 1193
_STATEMENT_TIMEOUTS = frozenset({1969, 3024})  # MariaDB max_statement_time, MySQL's


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect, from a ``mysql://`` URL."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str | None
    unix_socket: str | None
    public: str  # the URL without user name, password or query


def parse_url(url: str) -> Target:
    """Split a ``mysql://`` or ``mariadb://`` URL; :class:`ScanOptionError` if it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ScanOptionError("--db takes a mysql:// or mariadb:// URL here")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ScanOptionError("the port of the --db URL is not valid") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"unix_socket"})
    if unknown:
        raise ScanOptionError(f"the --db URL takes only unix_socket, not {unknown[0]!r}")
    unix_socket = query["unix_socket"][-1] if "unix_socket" in query else None
    host = parts.hostname or "localhost"
    shown = f"[{host}]" if ":" in host else host
    return Target(
        host=host,
        port=port,
        user=unquote(parts.username or "") or "root",
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or None,
        unix_socket=unix_socket or None,
        public=f"mysql://{shown}{'' if unix_socket else f':{port}'}{parts.path or '/'}",
    )


def public_url(url: str) -> str:
    """The URL without user name, password or query: safe to print."""
    return parse_url(url).public


def quote_identifier(name: str) -> str:
    """A database, table or column name for SQL: in backticks, a backtick inside doubled."""
    return "`" + name.replace("`", "``") + "`"


def connect(url: str, *, statement_timeout_ms: int = 60_000) -> Connection:
    """A read-only session with the statement timeout set.

    Raises :class:`DatabaseScanError` (naming the server, never the user) if the server
    cannot be reached or refuses the credentials."""
    return _connect(parse_url(url), statement_timeout_ms)


def scan_database(
    url: str,
    options: ScanOptions,
    *,
    max_rows: int = 100_000,
    statement_timeout_ms: int = 60_000,
    batch: int = 1000,
) -> list[FileResult]:
    """One result per table. Raises :class:`DatabaseScanError` if the database is unreachable."""
    import pymysql

    target = parse_url(url)
    conn = _connect(target, statement_timeout_ms)
    try:
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    _TABLES.format(where=_IN_URL_DATABASE if target.database else _NOT_SYSTEM)
                )
                tables = [(_text(schema), _text(table)) for schema, table in cursor.fetchall()]
            conn.commit()
        except pymysql.Error as exc:
            raise DatabaseScanError(
                f"cannot list the tables of {target.public} ({type(exc).__name__})"
            ) from exc
        results: list[FileResult] = []
        for schema, table in tables:
            member = f"{target.public}!{schema}.{table}"
            result = FileResult(path=member, members=1)
            ctx = FileContext(options, result, 1)
            try:
                _scan_table(conn, ctx, member, schema, table, max_rows=max_rows, batch=batch)
            except LimitExceeded as exc:
                ctx.warn(member, exc.message)
                _close(conn)
                conn = _connect(target, statement_timeout_ms)
            except pymysql.Error as exc:
                ctx.warn(member, _problem(exc, statement_timeout_ms))
                conn = _settle(conn, target, statement_timeout_ms)
            results.append(result)
        return results
    finally:
        _close(conn)


def _connect(target: Target, statement_timeout_ms: int) -> Connection:
    import pymysql

    try:
        conn = pymysql.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            database=target.database,
            unix_socket=target.unix_socket,
            connect_timeout=CONNECT_TIMEOUT,
            charset="utf8mb4",
            use_unicode=False,  # text as bytes: nothing to fail on a value that is not UTF-8
            conv=_conversions(),
            autocommit=False,
        )
    except pymysql.Error as exc:
        raise DatabaseScanError(
            f"cannot connect to {target.public} ({type(exc).__name__})"
        ) from exc
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("SELECT VERSION()")
            (version,) = cursor.fetchone()
            _set_statement_timeout(cursor, _text(version), statement_timeout_ms)
    except pymysql.Error as exc:
        conn.close()
        raise DatabaseScanError(
            f"cannot start a read-only session on {target.public} ({type(exc).__name__})"
        ) from exc
    return conn


def _set_statement_timeout(cursor: Cursor, version: str, statement_timeout_ms: int) -> None:
    import pymysql

    if "mariadb" in version.lower():
        statement = f"SET SESSION max_statement_time = {statement_timeout_ms / 1000:.3f}"
    else:
        statement = f"SET SESSION MAX_EXECUTION_TIME = {statement_timeout_ms:d}"
    try:
        cursor.execute(statement)
    except pymysql.Error as exc:  # older servers have no statement timeout
        if _code(exc) != _UNKNOWN_SYSTEM_VARIABLE:
            raise


def _scan_table(
    conn: Connection,
    ctx: FileContext,
    member: str,
    schema: str,
    table: str,
    *,
    max_rows: int,
    batch: int,
) -> None:
    import pymysql.cursors

    cursor = conn.cursor(pymysql.cursors.SSCursor)  # unbuffered: memory stays flat
    cursor.execute("START TRANSACTION READ ONLY")
    name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
    cursor.execute(f"SELECT * FROM {name} LIMIT {max_rows:d}")  # noqa: S608  # nosec B608
    columns = [_text(d[0]) for d in cursor.description or ()]
    row_number = 0
    while rows := cursor.fetchmany(batch):
        for row in rows:
            row_number += 1
            for column, value in zip(columns, row, strict=False):
                ctx.result.bytes_read += scan_cell(ctx, member, row_number, column, value)
        if len(rows) == batch:
            ctx.check_time()
    cursor.close()
    conn.commit()


def _settle(conn: Connection, target: Target, statement_timeout_ms: int) -> Connection:
    """After an error on one table: the same connection if it still works, else a new one."""
    import pymysql

    if conn.open:
        try:
            conn.rollback()
            return conn
        except pymysql.Error:
            _close(conn)
    return _connect(target, statement_timeout_ms)


def _close(conn: Connection) -> None:
    """Close the connection without reading the rows the server may still be sending (that
    can take until the statement timeout). pymysql would otherwise try to read them from the
    closed socket when their result is collected, so the result is marked done first."""
    result = getattr(conn, "_result", None)
    if result is not None:
        result.unbuffered_active = False
    if conn.open:
        conn.close()


def _problem(exc: Exception, statement_timeout_ms: int) -> str:
    """A warning for a table that could not be read: the error's class and code, never its
    message (which can name the user)."""
    code = _code(exc)
    if code in _STATEMENT_TIMEOUTS:
        return f"stopped: statement timeout of {statement_timeout_ms} ms reached"
    return f"table not readable ({type(exc).__name__}{f' {code}' if code else ''})"


def _code(exc: Exception) -> int | None:
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _decimal(data: bytes) -> Decimal:
    return Decimal(data.decode("ascii"))


def _conversions() -> dict[object, Any]:
    """pymysql's encoders; as decoders, numbers as numbers (so a card stored as one is scanned
    as its digits) and everything else (text, JSON, dates, blobs) as the bytes the server
    sent."""
    from pymysql.constants import FIELD_TYPE
    from pymysql.converters import encoders

    conversions: dict[object, Any] = dict(encoders)
    conversions.update(
        {
            FIELD_TYPE.FLOAT: float,
            FIELD_TYPE.DOUBLE: float,
            FIELD_TYPE.DECIMAL: _decimal,
            FIELD_TYPE.NEWDECIMAL: _decimal,
        }
    )
    for integer in (
        FIELD_TYPE.TINY,
        FIELD_TYPE.SHORT,
        FIELD_TYPE.INT24,
        FIELD_TYPE.LONG,
        FIELD_TYPE.LONGLONG,
        FIELD_TYPE.YEAR,
    ):
        conversions[integer] = int
    return conversions
