"""Quarantine: move a top-level file out of the way, never over another, with a record.

The file goes to ``DIR/<path relative to its scan root>`` (every folder made 0700). The move
is a hard link and an unlink (or, across file systems, a copy made with ``O_EXCL``), so an
existing file is never replaced. ``DIR/manifest.jsonl`` (mode 0600) then gets one line: the
original and new display paths, SHA-256 and size of the bytes, the time, finding ids and
masked numbers. If that line cannot be written the file is moved back.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cardshield.discovery.context import display_path
from cardshield.discovery.errors import RemediationError
from cardshield.discovery.marks import utc_text

if TYPE_CHECKING:
    from cardshield.discovery.remediate import FileState, Target

MANIFEST = "manifest.jsonl"


def refuse_existing(dest: Path) -> None:
    if os.path.lexists(dest):
        raise RemediationError(
            f"{display_path(str(dest))} already exists in the quarantine: nothing is overwritten"
        )


def quarantine_file(target: Target, quarantine_dir: Path, now: datetime) -> None:
    """Move the target's file under ``quarantine_dir`` and append its manifest line."""
    state = target.state
    dest = quarantine_dir / state.rel
    try:
        _make_dirs(quarantine_dir, dest.parent)
        digest, size = _sha256(state)
        _move(state.path, dest)
    except OSError as exc:
        raise RemediationError(f"cannot move it ({exc.strerror}); nothing was changed") from None
    line = {
        "at": utc_text(now),
        "original": state.display,
        "quarantined": display_path(str(dest)),
        "sha256": digest,
        "size": size,
        "finding_ids": target.ids,
        "masked": target.masked,
    }
    try:
        _append(quarantine_dir / MANIFEST, json.dumps(line, ensure_ascii=False) + "\n")
    except OSError as exc:
        with contextlib.suppress(OSError):
            _move(str(dest), Path(state.path))  # put it back: no move without its record
        raise RemediationError(f"cannot write the manifest ({exc.strerror})") from None


def _make_dirs(top: Path, directory: Path) -> None:
    """``directory`` (under ``top``, ``top`` included) with every folder made 0700."""
    missing: list[Path] = []
    for folder in [directory, *directory.parents]:
        if folder.exists():
            break
        missing.append(folder)
        if folder == top:
            break
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)


def _sha256(state: FileState) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(state.path, "rb") as stream:
        if not state.same(os.fstat(stream.fileno())):
            raise RemediationError("changed since the scan: scan it again")
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _move(source: str, dest: Path) -> None:
    """Rename without ever replacing ``dest``: a hard link then an unlink, or a copy made
    with O_EXCL across file systems."""
    try:
        try:
            os.link(source, dest)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise
            _copy_new(source, dest)
    except FileExistsError:
        refuse_existing(dest)
        raise
    os.unlink(source)
    sync_dir(str(dest.parent))
    sync_dir(os.path.dirname(source) or ".")


def _copy_new(source: str, dest: Path) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(source, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(dest)
        raise


def _append(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def sync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["MANIFEST", "quarantine_file", "refuse_existing", "sync_dir"]
