"""What a scan reports: findings (masked, never the full number), warnings and totals.

Everything here is plain data that can cross a process boundary: a worker builds findings
from :class:`~cardshield.cards.PAN` values but ships only the masked form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"  # track data: sensitive authentication data (PCI DSS 3.3.1)
    HIGH = "high"  # a PAN that is not a published test card
    LOW = "low"  # a published test card number


@dataclass(frozen=True, slots=True)
class Finding:
    """One card number at one place. ``line`` is 1-based in the decoded file or member."""

    path: str
    line: int
    brand: str
    masked: str
    kind: str  # "pan", "track1" or "track2"
    severity: Severity
    test_card: bool
    column: str | None = None  # database column, for table scans

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        if self.column is None:
            del data["column"]
        return data

    def sort_key(self) -> tuple[str, int, str]:
        return (self.path, self.line, self.masked)


@dataclass(frozen=True, slots=True)
class ScanWarning:
    """A file or member that was skipped or only partly scanned, and why."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(slots=True)
class FileResult:
    """What scanning one top-level file (or stream, or table) produced."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    bytes_read: int = 0
    members: int = 0
    allowlisted: int = 0
    test_cards_ignored: int = 0


@dataclass(slots=True)
class ScanStats:
    """Totals over a whole scan."""

    files: int = 0
    members: int = 0
    bytes: int = 0
    findings: int = 0
    critical: int = 0
    high: int = 0
    low: int = 0
    warnings: int = 0
    skipped: int = 0
    allowlisted: int = 0
    test_cards_ignored: int = 0
    seconds: float = 0.0

    def add(self, result: FileResult) -> None:
        self.files += 1
        self.members += result.members
        self.bytes += result.bytes_read
        self.findings += len(result.findings)
        for finding in result.findings:
            if finding.severity is Severity.CRITICAL:
                self.critical += 1
            elif finding.severity is Severity.HIGH:
                self.high += 1
            else:
                self.low += 1
        self.warnings += len(result.warnings)
        self.allowlisted += result.allowlisted
        self.test_cards_ignored += result.test_cards_ignored

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(slots=True)
class ScanReport:
    """The outcome of a scan, as every report format renders it."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

    def add(self, result: FileResult) -> None:
        self.findings.extend(result.findings)
        self.warnings.extend(result.warnings)
        self.stats.add(result)

    def finish(self) -> None:
        self.findings.sort(key=Finding.sort_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "warnings": [w.to_dict() for w in self.warnings],
            "stats": self.stats.to_dict(),
        }
