"""What ``cardshield scan`` does with its findings once they are found, when asked: record
marks (``--mark``), apply the marks file (``--marks``), remediate (``--remediate``).

Order: new marks are checked against this scan's findings and saved (an unknown id ends the
command before anything is written), every finding gets its status, then remediation acts on
the confirmed findings (or the ``--finding`` ids), one audited transaction per file, and the
marks of what it remediated are saved as ``remediated``.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer

from cardshield.discovery.context import ScanOptions
from cardshield.discovery.errors import ScanOptionError
from cardshield.discovery.findings import ScanReport, Status
from cardshield.discovery.marks import (
    apply_marks,
    load_marks,
    new_mark,
    parse_id,
    parse_mark,
    record,
    save_marks,
)
from cardshield.discovery.remediate import MODES, QUARANTINE, FileState, plan, remediate
from cardshield.safetext import terminal_text


def utcnow() -> datetime:
    return datetime.now(UTC)


_DONE = {"mask": "masked in place", QUARANTINE: "moved to quarantine"}


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return str(os.getuid())


@dataclass(frozen=True)
class Closing:
    """The mark and remediation options of one scan, checked."""

    marks_file: Path | None = None
    requests: tuple[tuple[str, Status], ...] = ()
    reason: str | None = None
    by: str = ""
    remediate: str | None = None
    quarantine_dir: Path | None = None
    findings: tuple[str, ...] = ()

    @classmethod
    def from_options(
        cls,
        marks_file: Path | None,
        marks: Sequence[str],
        reason: str | None,
        by: str | None,
        mode: str | None,
        quarantine_dir: Path | None,
        findings: Sequence[str],
    ) -> Closing:
        if marks_file is None and (marks or mode):
            raise ScanOptionError("--mark and --remediate need --marks FILE")
        if mode is not None and mode not in MODES:
            raise ScanOptionError(f"--remediate takes {' or '.join(MODES)}")
        if (mode == QUARANTINE) != (quarantine_dir is not None):
            raise ScanOptionError("--remediate quarantine goes with --quarantine-dir DIR")
        if findings and mode is None:
            raise ScanOptionError("--finding chooses what --remediate acts on")
        ids = tuple(parse_id(f, "--finding") for f in findings)
        return cls(
            marks_file=marks_file,
            requests=tuple(parse_mark(m) for m in marks),
            reason=reason,
            by=by if by is not None else os_user(),
            remediate=mode,
            quarantine_dir=quarantine_dir,
            findings=ids,
        )


def close(
    ctx: typer.Context,
    closing: Closing,
    report: ScanReport,
    options: ScanOptions,
    states: dict[str, FileState],
) -> list[str]:
    """Record and apply marks, remediate; one line per file that failed (empty: all done)."""
    path = closing.marks_file
    if path is None:
        return []
    key = options.scan_key
    marks = load_marks(path, key)
    if closing.requests:
        marks = record(
            report,
            marks,
            closing.requests,
            reason=closing.reason or "",
            by=closing.by,
            now=utcnow(),
        )
        save_marks(path, key, marks)
    apply_marks(report, marks)
    mode = closing.remediate
    if mode is None:
        return []
    ids = closing.findings or tuple(f.id for f in report.findings if f.status is Status.CONFIRMED)
    targets, refused = plan(report, set(ids), states, mode, closing.quarantine_dir)
    if refused or not targets:
        return refused
    from cardshield.commands._shared import runtime  # settings, database, KMS: only now

    with runtime(ctx) as rt:
        done, failed = remediate(
            rt.engine,
            targets,
            mode=mode,
            options=options,
            actor=f"cli:{os_user()}",
            clock=utcnow,
            quarantine_dir=closing.quarantine_dir,
        )
    reason = closing.reason or _DONE[mode]
    for target in done:
        for finding in target.findings:
            marks[finding.id] = new_mark(
                finding, Status.REMEDIATED, reason=reason, by=closing.by, now=utcnow()
            )
        typer.echo(
            terminal_text(f"{_DONE[mode]}: {target.state.display} ({len(target.ids)} finding(s))"),
            err=True,
        )
    if done:
        save_marks(path, key, marks)
        apply_marks(report, marks)
    return failed
