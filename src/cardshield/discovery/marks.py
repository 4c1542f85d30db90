"""The marks file: what an assessor decided about each finding, by finding id.

```
{"version": 1, "key_id": "<16 hex>",
 "marks": {"<finding id>": {"status": "false_positive", "reason": "...", "by": "...",
                            "at": "2024-05-01T12:00:00Z", "path": "...", "masked": "..."}}}
```

``key_id`` is the first 16 hex characters of HMAC-SHA256(scan key, ``b"cardshield scan
marks"``): ids made under another key would match nothing, so such a file is refused. A mark
holds the display path and masked number only; reasons and names are redacted before they
are stored, in case someone pastes a card number into one. The file is written whole, to a
temporary file that replaces it (mode 0600), so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardshield.discovery.errors import ScanOptionError
from cardshield.discovery.findings import Finding, Mark, ScanReport, Status
from cardshield.redaction.text import redact

VERSION = 1
_KEY_LABEL = b"cardshield scan marks"
_ID = re.compile(r"^[0-9a-f]{24}$")
# What a person may set with --mark; ``remediated`` comes only from remediation.
SETTABLE = (Status.CONFIRMED, Status.FALSE_POSITIVE, Status.TEST_DATA)
_FIELDS = ("reason", "by", "at", "path", "masked")


def key_id(key: bytes) -> str:
    return hmac.new(key, _KEY_LABEL, hashlib.sha256).hexdigest()[:16]


def utc_text(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_id(text: str, option: str) -> str:
    finding = text.strip().lower()
    if not _ID.match(finding):
        raise ScanOptionError(f"{option} takes a finding id (24 hex characters)")
    return finding


def parse_mark(text: str) -> tuple[str, Status]:
    """``--mark ID=STATUS`` -> (id, status)."""
    finding, sep, status = text.partition("=")
    if not sep:
        raise ScanOptionError("--mark takes ID=STATUS")
    finding = parse_id(finding, "--mark")
    try:
        value = Status(status.strip())
    except ValueError:
        value = None
    if value not in SETTABLE:
        raise ScanOptionError(f"--mark status must be one of {', '.join(SETTABLE)}")
    return finding, value


def load_marks(path: Path, key: bytes) -> dict[str, Mark]:
    """The marks in ``path`` (none if it does not exist yet), checked against ``key``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanOptionError(f"cannot read the marks file {path}: {_why(exc)}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScanOptionError(
            f"the marks file {path} is not valid JSON (line {exc.lineno})"
        ) from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise ScanOptionError(f"the marks file {path} is not a version {VERSION} marks file")
    if doc.get("key_id") != key_id(key):
        raise ScanOptionError(
            f"the marks file {path} was made with another scan key (key_id mismatch): "
            "use the --key-file it was made with"
        )
    entries = doc.get("marks")
    if not isinstance(entries, dict):
        raise ScanOptionError(f"the marks file {path} has no marks object")
    return {
        finding: _mark(path, number, finding, entry)
        for number, (finding, entry) in enumerate(entries.items(), start=1)
    }


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or "error"
    return "not UTF-8"


def _mark(path: Path, number: int, finding: object, entry: object) -> Mark:
    bad = ScanOptionError(f"the marks file {path}: mark {number} is invalid")
    if not isinstance(finding, str) or not _ID.match(finding) or not isinstance(entry, dict):
        raise bad
    values = [entry.get(name) for name in _FIELDS]
    if not all(isinstance(v, str) for v in values):
        raise bad
    status = entry.get("status")
    if status not in {s.value for s in Status} or status == Status.OPEN:
        raise bad
    reason, by, at, shown, masked = (redact(str(v)) for v in values)
    return Mark(Status(status), reason, by, at, shown, masked)


def save_marks(path: Path, key: bytes, marks: Mapping[str, Mark]) -> None:
    doc: dict[str, Any] = {
        "version": VERSION,
        "key_id": key_id(key),
        "marks": {finding: _entry(mark) for finding, mark in sorted(marks.items())},
    }
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    directory = path.parent
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")  # mode 0600
    except OSError as exc:
        raise ScanOptionError(f"cannot write the marks file {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ScanOptionError(f"cannot write the marks file {path}: {exc.strerror}") from None
    with contextlib.suppress(OSError):  # the rename itself reaches the disk
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _entry(mark: Mark) -> dict[str, str]:
    data = mark.to_dict()
    return {"status": data.pop("status"), **data}


def new_mark(finding: Finding, status: Status, *, reason: str, by: str, now: datetime) -> Mark:
    return Mark(status, redact(reason), redact(by), utc_text(now), finding.path, finding.masked)


def record(
    report: ScanReport,
    marks: Mapping[str, Mark],
    requests: Iterable[tuple[str, Status]],
    *,
    reason: str,
    by: str,
    now: datetime,
) -> dict[str, Mark]:
    """``marks`` with the requested ones set; every id must be a finding of ``report``."""
    found = {f.id: f for f in report.findings}
    updated = dict(marks)
    for finding, status in requests:
        if finding not in found:
            raise ScanOptionError(f"no finding {finding} in this scan: nothing was marked")
        updated[finding] = new_mark(found[finding], status, reason=reason, by=by, now=now)
    return updated


def apply_marks(report: ScanReport, marks: Mapping[str, Mark]) -> None:
    """Give every finding its status (``open`` when unmarked) and its mark."""
    report.findings = [f.marked(marks.get(f.id)) for f in report.findings]


__all__ = [
    "SETTABLE",
    "apply_marks",
    "key_id",
    "load_marks",
    "new_mark",
    "parse_id",
    "parse_mark",
    "record",
    "save_marks",
]
