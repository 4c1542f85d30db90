"""Errors of the discovery scanner.

Problems with one file (corrupt, unreadable, too big when expanded) are not fatal: the
scanner turns them into warnings and goes on. Only bad options and unreachable databases end
a scan (exit status 2), and a remediation that was refused or failed (exit status 2, the file
left as it was).
"""

from __future__ import annotations

from cardshield.errors import CardshieldError, InvalidRequestError


class DiscoveryError(CardshieldError):
    """A scan could not be carried out at all."""

    code = "discovery_error"
    default_message = "The scan could not be carried out."


class ScanOptionError(InvalidRequestError):
    """An option of the scan is invalid (bad glob, date, size, allowlist or URL)."""

    code = "invalid_scan_option"
    default_message = "A scan option is invalid."


class FileProblem(DiscoveryError):
    """One file or member could not be (fully) scanned; reported as a warning."""

    code = "file_problem"
    default_message = "The file could not be scanned."


class ExtractError(FileProblem):
    """A container or document is corrupt or not what it claims to be."""

    code = "extract_error"
    default_message = "The file is corrupt or unsupported."


class LimitExceeded(FileProblem):
    """A safety limit (expanded size, ratio, time) stopped the scan of a file."""

    code = "limit_exceeded"
    default_message = "A scan limit was reached."


class DatabaseScanError(DiscoveryError):
    """A live database could not be reached or read."""

    code = "database_error"
    default_message = "The database could not be scanned."


class RemediationError(DiscoveryError):
    """Masking or quarantining one file was refused or failed; the file was not changed."""

    code = "remediation_error"
    default_message = "The file could not be remediated."
