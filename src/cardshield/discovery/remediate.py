"""Remediation of findings: mask the number in place, or move the file to a quarantine.

Both act on top-level files as they were when the scan began: :func:`snapshot` records each
file's size, modification time and inode before the scan, and a file that differs when it is
acted on is refused (scan it again). :func:`plan` refuses, before anything is touched, what
cannot be done: a member of an archive or container, for mask a top-level container file
(zip, PDF, SQLite, mail, Office...), a symbolic link, a file with other hard links (they
would keep the number), a quarantine destination that exists.

:func:`remediate` writes one entry per file to the audit log, crash-safe in this order: open
a transaction, append the entry, do the file operation, commit. A failed operation rolls the
entry back and leaves the file as it was.

* mask (:mod:`cardshield.discovery.rewrite`): the file is rewritten through a temporary file
  in its directory (mode and owner kept, fsync, ``os.replace``), after the rewritten bytes
  were scanned again and the number was no longer found.
* quarantine (:mod:`cardshield.discovery.quarantine`): the file moves to
  ``DIR/<path relative to its scan root>`` (DIR made 0700), never over an existing file, and
  ``DIR/manifest.jsonl`` gets a line: original and new display path, SHA-256 and size of
  the bytes, time, finding ids and masked numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cardshield.discovery.blob import HEAD_SIZE
from cardshield.discovery.context import ScanOptions
from cardshield.discovery.errors import RemediationError, ScanOptionError
from cardshield.discovery.extractors import detect
from cardshield.discovery.findings import Finding, ScanReport
from cardshield.discovery.quarantine import quarantine_file, refuse_existing, sync_dir
from cardshield.discovery.rewrite import mask_bytes
from cardshield.discovery.scankey import finding_id
from cardshield.discovery.scanner import scan_file
from cardshield.discovery.walker import walk

if TYPE_CHECKING:  # the database layer loads only when something is remediated
    from sqlalchemy import Engine

MASK = "mask"
QUARANTINE = "quarantine"
MODES = (MASK, QUARANTINE)
_TARGET_CHARS = 128  # the audit log's target column


@dataclass(frozen=True, slots=True)
class FileState:
    """A top-level file as the scan found it."""

    path: str  # as the file system knows it
    display: str  # as reports show it
    rel: str  # relative to its scan root: its place under a quarantine directory
    size: int
    mtime_ns: int
    ino: int

    def same(self, st: os.stat_result) -> bool:
        return (st.st_size, st.st_mtime_ns, st.st_ino) == (self.size, self.mtime_ns, self.ino)


@dataclass(frozen=True, slots=True)
class Target:
    """One file to remediate and the findings in it that are acted on."""

    state: FileState
    findings: tuple[Finding, ...]

    @property
    def ids(self) -> list[str]:
        return sorted({f.id for f in self.findings})

    @property
    def masked(self) -> list[str]:
        return sorted({f.masked for f in self.findings})


def snapshot(roots: Sequence[str], options: ScanOptions) -> dict[str, FileState]:
    """Every regular file the scan of ``roots`` will read, by display path."""
    states: dict[str, FileState] = {}
    for root in roots:
        if root == "-":
            continue
        is_dir = os.path.isdir(root)
        tasks = walk([root], excludes=options.excludes, since=options.since, warn=_ignore)
        for task in tasks:
            if task.display in states:
                continue
            try:
                st = os.stat(task.path)
            except OSError:
                continue
            rel = os.path.relpath(task.path, root) if is_dir else os.path.basename(task.path)
            states[task.display] = FileState(
                task.path, task.display, rel, st.st_size, st.st_mtime_ns, st.st_ino
            )
    return states


def _ignore(path: str, message: str) -> None:
    """Walk problems are the scan's to report."""


def plan(
    report: ScanReport,
    ids: Collection[str],
    states: dict[str, FileState],
    mode: str,
    quarantine_dir: Path | None = None,
) -> tuple[list[Target], list[str]]:
    """The files to act on for the findings ``ids``, and one line per file refused."""
    known = {f.id for f in report.findings}
    unknown = sorted(set(ids) - known)
    if unknown:
        raise ScanOptionError(f"no finding {unknown[0]} in this scan: nothing was changed")
    groups: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if finding.id in ids:
            where = finding.path if mode == MASK else report.top_level(finding.path)
            groups.setdefault(where, []).append(finding)
    targets: list[Target] = []
    refused: list[str] = []
    dests: set[str] = set()
    for where, found in sorted(groups.items()):
        state = states.get(where)
        try:
            if mode == MASK and "!" in where:
                raise RemediationError(
                    "inside an archive or container: mask rewrites plain-text files only "
                    "(quarantine moves the whole top-level file)"
                )
            if state is None:
                raise RemediationError("not a file on disk")
            check_unchanged(state)
            if mode == MASK:
                _refuse_container(state)
            elif quarantine_dir is not None:
                refuse_existing(quarantine_dir / state.rel)
                if state.rel in dests:
                    raise RemediationError(
                        "another file of this scan goes to the same place in the quarantine"
                    )
                dests.add(state.rel)
        except RemediationError as exc:
            refused.append(f"{where}: {exc.message}")
            continue
        targets.append(Target(state, tuple(found)))
    return targets, refused


def check_unchanged(state: FileState) -> os.stat_result:
    try:
        st = os.lstat(state.path)
    except OSError as exc:
        raise RemediationError(f"gone since the scan ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise RemediationError("a symbolic link: remediate the file it points to")
    if not stat.S_ISREG(st.st_mode):
        raise RemediationError("not a regular file")
    if st.st_nlink > 1:
        raise RemediationError(f"has {st.st_nlink} hard links, which would keep the number")
    if not state.same(st):
        raise RemediationError("changed since the scan: scan it again")
    return st


def _refuse_container(state: FileState) -> None:
    try:
        with open(state.path, "rb") as stream:
            head = stream.read(HEAD_SIZE)
    except OSError as exc:
        raise RemediationError(f"unreadable ({exc.strerror})") from None
    kind = detect(head, os.path.basename(state.path))
    if kind is not None:
        raise RemediationError(
            f"a {kind} file: mask rewrites plain-text files only (quarantine moves it whole)"
        )


def remediate(
    engine: Engine,
    targets: Sequence[Target],
    *,
    mode: str,
    options: ScanOptions,
    actor: str,
    clock: Callable[[], datetime],
    quarantine_dir: Path | None = None,
) -> tuple[list[Target], list[str]]:
    """Act on each target in its own audited transaction: (done, one line per failure)."""
    from sqlalchemy.exc import SQLAlchemyError

    from cardshield.security.audit import append as audit

    if (mode == QUARANTINE) != (quarantine_dir is not None):
        raise ScanOptionError("quarantine, and only quarantine, needs a quarantine directory")
    done: list[Target] = []
    failed: list[str] = []
    for target in targets:
        shown = target.state.display
        acted = False
        try:
            with engine.begin() as conn:
                details: dict[str, object] = {"finding_ids": target.ids, "masked": target.masked}
                if len(shown) > _TARGET_CHARS:  # the column holds the tail, details all of it
                    details["path"] = shown
                audit(
                    conn,
                    now=clock(),
                    actor=actor,
                    action=f"scan.remediate.{mode}",
                    target=_fit(shown),
                    details=details,
                )
                check_unchanged(target.state)
                if quarantine_dir is None:
                    mask_file(target, options)
                else:
                    quarantine_file(target, quarantine_dir, clock())
                acted = True
        except RemediationError as exc:
            failed.append(f"{shown}: {exc.message}")
            continue
        except SQLAlchemyError as exc:
            why = "the file was changed, but" if acted else "nothing was changed:"
            failed.append(
                f"{shown}: {why} the audit log could not be written ({type(exc).__name__})"
            )
            continue
        done.append(target)
    return done, failed


def _fit(shown: str) -> str:
    """A display path cut to the audit log's target column, keeping its end."""
    return shown if len(shown) <= _TARGET_CHARS else "..." + shown[3 - _TARGET_CHARS :]


def mask_file(target: Target, options: ScanOptions) -> None:
    """Mask the target's numbers in place; the file is replaced only once they are gone."""
    state = target.state
    wanted = set(target.ids)
    key = options.scan_key
    try:
        with open(state.path, "rb") as stream:
            st = os.fstat(stream.fileno())
            if not state.same(st):
                raise RemediationError("changed since the scan: scan it again")
            data = stream.read()
    except OSError as exc:
        raise RemediationError(f"unreadable ({exc.strerror})") from None
    if detect(data[:HEAD_SIZE], os.path.basename(state.path)) is not None:
        raise RemediationError("not a plain-text file")
    masked, count = mask_bytes(data, lambda d: finding_id(key, state.display, d) in wanted)
    if count == 0:
        raise RemediationError("the number was not found in the text again; nothing was changed")
    directory = os.path.dirname(state.path) or "."
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".cardshield-mask-")
    except OSError as exc:
        raise RemediationError(f"cannot write beside it ({exc.strerror})") from None
    try:
        _write_like(fd, masked, st)
        _verify(temp, state.display, wanted, options)
        check_unchanged(state)
        os.replace(temp, state.path)
    except OSError as exc:
        raise RemediationError(f"cannot rewrite it ({exc.strerror}); nothing was changed") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    sync_dir(directory)


def _write_like(fd: int, data: bytes, st: os.stat_result) -> None:
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fchmod(out.fileno(), stat.S_IMODE(st.st_mode))
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.fchown(out.fileno(), st.st_uid, st.st_gid)
            except PermissionError:
                raise RemediationError(
                    "cannot keep the file's owner; nothing was changed"
                ) from None
        os.fsync(out.fileno())


def _verify(path: str, display: str, wanted: set[str], options: ScanOptions) -> None:
    """Scan the rewritten bytes as the file they replace: no wanted number may be left."""
    every = dataclasses.replace(options, ignore_test_cards=False, allowlist=frozenset(), since=None)
    result = scan_file(path, display, every)
    if result.warnings or any(f.id in wanted for f in result.findings):
        raise RemediationError("the number was still found after masking; nothing was changed")


__all__ = [
    "MODES",
    "FileState",
    "Target",
    "check_unchanged",
    "mask_file",
    "plan",
    "remediate",
    "snapshot",
]
