"""What a scan reports: findings (masked, never the full number), warnings and totals.

Everything here is plain data that can cross a process boundary: a worker builds findings
from :class:`~cardshield.cards.PAN` values but ships only the masked form and a keyed id
(:func:`cardshield.discovery.scankey.finding_id`). A finding is open until a mark closes it:
``confirmed`` keeps it open (real, to be remediated); ``false_positive``, ``test_data`` and
``remediated`` close it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"  # track data: sensitive authentication data (PCI DSS 3.3.1)
    HIGH = "high"  # a PAN that is not a published test card
    LOW = "low"  # a published test card number


class Status(StrEnum):
    OPEN = "open"  # not marked
    CONFIRMED = "confirmed"  # real card data, still there: open until remediated
    FALSE_POSITIVE = "false_positive"
    TEST_DATA = "test_data"
    REMEDIATED = "remediated"  # masked in place or quarantined


CLOSED = frozenset({Status.FALSE_POSITIVE, Status.TEST_DATA, Status.REMEDIATED})


@dataclass(frozen=True, slots=True)
class Mark:
    """What someone decided about a finding: reason and name already redacted."""

    status: Status
    reason: str
    by: str
    at: str  # ISO 8601, UTC
    path: str  # display path
    masked: str

    def to_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


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
    id: str = ""  # keyed fingerprint of path and number, 24 hex characters
    status: Status = Status.OPEN
    mark: Mark | None = None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    def marked(self, mark: Mark | None) -> Finding:
        return replace(self, status=Status.OPEN if mark is None else mark.status, mark=mark)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["status"] = self.status.value
        if self.column is None:
            del data["column"]
        if self.mark is None:
            del data["mark"]
        else:
            data["mark"] = self.mark.to_dict()
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
    # Card-shaped numbers the look-alike rules explained away, by rule name.
    lookalikes: Counter[str] = field(default_factory=Counter)


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
    lookalikes: Counter[str] = field(default_factory=Counter)

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
        self.lookalikes.update(result.lookalikes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["lookalikes"] = dict(sorted(self.lookalikes.items()))
        return data


@dataclass(slots=True)
class ScanReport:
    """The outcome of a scan, as every report format renders it."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    # display path of a finding -> display path of the top-level file it was found in
    top_levels: dict[str, str] = field(default_factory=dict)

    def add(self, result: FileResult) -> None:
        self.findings.extend(result.findings)
        self.warnings.extend(result.warnings)
        self.stats.add(result)
        for finding in result.findings:
            self.top_levels.setdefault(finding.path, result.path)

    def finish(self) -> None:
        self.findings.sort(key=Finding.sort_key)

    def top_level(self, path: str) -> str:
        """The top-level file (or stream, or table) a finding's path lies in."""
        return self.top_levels.get(path) or path.split("!", 1)[0]

    def open_count(self) -> int:
        return sum(not f.closed for f in self.findings)

    def locations(self) -> list[dict[str, Any]]:
        """Open and closed findings per top-level path, in path order."""
        counts: dict[str, list[int]] = {}
        for f in self.findings:
            counts.setdefault(self.top_level(f.path), [0, 0])[f.closed] += 1
        return [
            {"path": path, "open": n_open, "closed": n_closed}
            for path, (n_open, n_closed) in sorted(counts.items())
        ]

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats.to_dict()
        stats["open"] = self.open_count()
        stats["closed"] = len(self.findings) - stats["open"]
        return {
            "findings": [f.to_dict() for f in self.findings],
            "locations": self.locations(),
            "warnings": [w.to_dict() for w in self.warnings],
            "stats": stats,
        }
