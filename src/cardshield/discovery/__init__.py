"""PAN discovery: find card numbers wherever they should not be (PCI DSS 12.5.2, A3.2.5).

:func:`run_scan` walks files, directories and stdin, opens containers (zip, tar, gz, bz2,
xz, Office and OpenDocument files, PDF, SQLite, e-mail) within safety limits, matches card
numbers and track data with the rules of :mod:`cardshield.redaction.text`, and returns a
:class:`ScanReport` that holds only masked numbers. :func:`scan_database` does the same for
the tables of a live PostgreSQL, MySQL or MariaDB database.
"""

from __future__ import annotations

from cardshield.discovery.context import ScanLimits, ScanOptions, allowlist_digest
from cardshield.discovery.databases import scan_database
from cardshield.discovery.findings import (
    FileResult,
    Finding,
    ScanReport,
    ScanStats,
    ScanWarning,
    Severity,
)
from cardshield.discovery.runner import default_jobs, run_scan

__all__ = [
    "FileResult",
    "Finding",
    "ScanLimits",
    "ScanOptions",
    "ScanReport",
    "ScanStats",
    "ScanWarning",
    "Severity",
    "allowlist_digest",
    "default_jobs",
    "run_scan",
    "scan_database",
]
