"""Options of a scan and the per-file state that enforces its safety limits.

A :class:`FileContext` lives in the worker that scans one top-level file. Every byte that a
decompressor produces is charged to it, so a zip bomb (or a gzip of zeros inside a tar
inside a zip) is stopped when the expanded size or the expansion ratio passes its limit,
and a file that takes too long is stopped at its deadline; the file's findings so far are
kept and a warning says why the rest was not scanned.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cardshield.cards import PAN, is_test_card
from cardshield.discovery.errors import LimitExceeded
from cardshield.discovery.findings import FileResult, Finding, ScanWarning, Severity
from cardshield.discovery.matcher import Hit
from cardshield.discovery.scankey import ephemeral_key, finding_id
from cardshield.redaction.text import redact

_ALLOWLIST_LABEL = b"cardshield allowlist\0"


@dataclass(frozen=True, slots=True)
class ScanLimits:
    max_depth: int = 8  # containers inside containers
    max_expanded_bytes: int = 1 << 30  # per top-level file, after decompression
    max_ratio: int = 250  # expanded / input size, checked past ratio_floor
    ratio_floor: int = 16 << 20
    seconds_per_file: float = 300.0


@dataclass(frozen=True, slots=True)
class ScanOptions:
    limits: ScanLimits = field(default_factory=ScanLimits)
    excludes: tuple[str, ...] = ()
    ignore_test_cards: bool = False
    # Entries as written in an allowlist file (cardshield.discovery.settings): "hmac:<hex>",
    # keyed with scan_key, or a legacy unkeyed "sha256:<hex>".
    allowlist: frozenset[str] = frozenset()
    since: float | None = None  # only files modified at or after (epoch seconds)
    # Drop card-shaped numbers that context shows to be phone numbers, IBANs, ids...
    # (cardshield.discovery.lookalikes); a leak test that wants every one turns it off.
    lookalikes: bool = True
    # What finding ids are keyed with (see cardshield.discovery.scankey); without a key file
    # a random key, so that ids hold within one scan and say nothing of the number.
    scan_key: bytes = field(default_factory=ephemeral_key, repr=False, compare=False)


def allowlist_digest(key: bytes, digits: str) -> str:
    """The allowlist entry of a card: ``hmac:`` + HMAC-SHA256 under the scan key of a label
    and its ASCII digits, hex. Keyed because an unkeyed hash of a card number is reversed by
    trying every number of its BIN (PCI DSS 3.5.1.1); the label keeps an entry from ever
    equalling a finding id made with the same key."""
    mac = hmac.new(key, _ALLOWLIST_LABEL + digits.encode("ascii"), hashlib.sha256)
    return f"hmac:{mac.hexdigest()}"


def legacy_allowlist_digest(digits: str) -> str:
    """The unkeyed entry older versions wrote (``sha256:`` + hex): still honoured when read,
    never written (``cardshield scan --allowlist`` warns about every file holding one)."""
    return f"sha256:{hashlib.sha256(digits.encode('ascii')).hexdigest()}"


def allowlisted(options: ScanOptions, digits: str) -> bool:
    entries = options.allowlist
    if not entries:
        return False
    return (
        allowlist_digest(options.scan_key, digits) in entries
        or legacy_allowlist_digest(digits) in entries
    )


def display_path(path: str) -> str:
    """A path as reports show it: a card number in a file name is masked too."""
    return redact(path)


class FileContext:
    """Limits, warnings and findings for one top-level file."""

    def __init__(
        self,
        options: ScanOptions,
        result: FileResult,
        input_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.limits = options.limits
        self.result = result
        self.input_size = max(1, input_size)
        self.expanded = 0
        self._clock = clock
        self.deadline = clock() + self.limits.seconds_per_file

    def charge(self, nbytes: int) -> None:
        """Count decompressed bytes; raise :class:`LimitExceeded` past a limit."""
        self.expanded += nbytes
        limits = self.limits
        if self.expanded > limits.max_expanded_bytes:
            raise LimitExceeded(
                f"stopped: expanded size passed the limit of {limits.max_expanded_bytes} bytes"
                " (possible zip bomb)"
            )
        if self.expanded > limits.ratio_floor and self.expanded > limits.max_ratio * (
            self.input_size
        ):
            raise LimitExceeded(
                f"stopped: expansion ratio passed {limits.max_ratio}:1 (possible zip bomb)"
            )
        self.check_time()

    def check_time(self) -> None:
        if self._clock() > self.deadline:
            raise self.time_up()

    def seconds_left(self) -> float:
        """Until the file's deadline (negative once past it): for work that can be stopped
        while it runs (the PDF reader) rather than only between steps."""
        return self.deadline - self._clock()

    def time_up(self) -> LimitExceeded:
        return LimitExceeded(
            f"stopped: time limit of {self.limits.seconds_per_file:g} s per file reached"
        )

    def warn(self, path: str, message: str) -> None:
        self.result.warnings.append(ScanWarning(display_path(path), redact(message)))

    def report(
        self, path: str, hits: list[Hit], *, line: int | None = None, column: str | None = None
    ) -> None:
        """Turn hits into findings: allowlist, test cards, severity. Only masked data leaves."""
        for hit in hits:
            self._report_one(
                path, hit.pan, hit.kind, line if line is not None else hit.line, column
            )

    def _report_one(self, path: str, pan: PAN, kind: str, line: int, column: str | None) -> None:
        digits = pan.reveal()
        if allowlisted(self.options, digits):
            self.result.allowlisted += 1
            return
        test_card = is_test_card(digits)
        if test_card and self.options.ignore_test_cards:
            self.result.test_cards_ignored += 1
            return
        if kind != "pan":
            severity = Severity.CRITICAL
        elif test_card:
            severity = Severity.LOW
        else:
            severity = Severity.HIGH
        shown = display_path(path)
        self.result.findings.append(
            Finding(
                path=shown,
                line=line,
                brand=pan.brand.value,
                masked=pan.masked(),
                kind=kind,
                severity=severity,
                test_card=test_card,
                column=column,
                id=finding_id(self.options.scan_key, shown, digits),
            )
        )
