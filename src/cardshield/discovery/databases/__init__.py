"""Scanning live databases: every column of every table, with bounded reads.

One module per kind of server, chosen by the scheme of the URL (:data:`SCANNERS`):
``postgresql://`` (or ``postgres://``) and ``mysql://`` (or ``mariadb://``). Each gives the
same guarantees: at most ``max_rows`` rows per table, streamed in batches through a
server-side cursor; a statement timeout; a read-only session; the start of each value only
(see :data:`~cardshield.discovery.extractors.cells.MAX_CELL`); the per-file time limit
checked every batch. Findings name ``scheme://host:port/db!schema.table`` with the row
number as the line and the column; user name and password never appear in a report,
warning or error message. The drivers are imported only when a database is scanned.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from cardshield.discovery.context import ScanOptions
from cardshield.discovery.databases import mysql, postgresql
from cardshield.discovery.errors import ScanOptionError
from cardshield.discovery.findings import FileResult


class DatabaseScanner(Protocol):
    def public_url(self, url: str) -> str: ...

    def scan_database(
        self,
        url: str,
        options: ScanOptions,
        *,
        max_rows: int = ...,
        statement_timeout_ms: int = ...,
        batch: int = ...,
    ) -> list[FileResult]: ...


SCANNERS: dict[str, DatabaseScanner] = {
    "postgresql": postgresql,
    "postgres": postgresql,
    "mysql": mysql,
    "mariadb": mysql,
}


def scanner_for(url: str) -> DatabaseScanner:
    """The scanner of the URL's scheme; :class:`ScanOptionError` for any other scheme."""
    scanner = SCANNERS.get(urlsplit(url).scheme)
    if scanner is None:
        accepted = ", ".join(f"{scheme}://" for scheme in SCANNERS)
        raise ScanOptionError(f"--db takes a URL starting with one of {accepted}")
    return scanner


def public_url(url: str) -> str:
    """The URL without user name, password or query: safe to print."""
    return scanner_for(url).public_url(url)


def scan_database(
    url: str,
    options: ScanOptions,
    *,
    max_rows: int = 100_000,
    statement_timeout_ms: int = 60_000,
    batch: int = 1000,
) -> list[FileResult]:
    """One result per table. Raises :class:`~cardshield.discovery.errors.DatabaseScanError`
    if the database cannot be reached or its tables cannot be listed."""
    return scanner_for(url).scan_database(
        url,
        options,
        max_rows=max_rows,
        statement_timeout_ms=statement_timeout_ms,
        batch=batch,
    )
