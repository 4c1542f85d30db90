"""Walk the paths given to a scan: directories, single files, excludes, modification time.

Symbolic links are followed, but every directory is entered once (by device and inode), so
a link loop ends the descent instead of looping; a file reachable by two names is scanned
once. FIFOs, sockets and devices are skipped (reading them could block or never end).
Directories that cannot be listed become warnings.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardshield.discovery.context import display_path

if TYPE_CHECKING:
    from cardshield.discovery.segments import Segment


@dataclass(frozen=True, slots=True)
class FileTask:
    path: str  # as the file system knows it
    display: str  # as reports show it
    size: int
    segment: Segment | None = None  # a part of a big text file (see segments.py)


@dataclass(slots=True)
class WalkStats:
    skipped: int = 0


def excluded(relpath: str, patterns: Sequence[str]) -> bool:
    """True when a path relative to its root, or its last component, matches a pattern."""
    if not patterns:
        return False
    name = relpath.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relpath, p) or fnmatch.fnmatch(name, p) for p in patterns)


def walk(
    roots: Sequence[str],
    *,
    excludes: Sequence[str] = (),
    since: float | None = None,
    warn: Callable[[str, str], None],
    stats: WalkStats | None = None,
) -> Iterator[FileTask]:
    """Regular files under ``roots``, in a stable order."""
    stats = stats or WalkStats()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def visit_file(path: str, rel: str, st: os.stat_result) -> Iterator[FileTask]:
        if not stat.S_ISREG(st.st_mode):
            stats.skipped += 1  # FIFO, socket, device
            return
        if since is not None and st.st_mtime < since:
            stats.skipped += 1
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            return
        seen_files.add(key)
        yield FileTask(path, display_path(path), st.st_size)

    for root in roots:
        try:
            st = os.stat(root)
        except OSError as exc:
            warn(display_path(root), f"not scanned: {exc.strerror or 'cannot stat'}")
            continue
        if not stat.S_ISDIR(st.st_mode):
            yield from visit_file(root, os.path.basename(root), st)
            continue
        stack: list[tuple[str, str]] = [(root, "")]
        while stack:
            directory, rel_dir = stack.pop()
            try:
                dst = os.stat(directory)
            except OSError as exc:
                warn(display_path(directory), f"not scanned: {exc.strerror or 'cannot stat'}")
                continue
            key = (dst.st_dev, dst.st_ino)
            if key in seen_dirs:
                continue  # a symbolic link loop, or a directory reached twice
            seen_dirs.add(key)
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                warn(display_path(directory), f"not scanned: {exc.strerror or 'cannot list'}")
                continue
            subdirs: list[tuple[str, str]] = []
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if excluded(rel, excludes):
                    stats.skipped += 1
                    continue
                try:
                    est = entry.stat(follow_symlinks=True)
                except OSError:
                    stats.skipped += 1  # a dangling link, or a file gone meanwhile
                    continue
                if stat.S_ISDIR(est.st_mode):
                    subdirs.append((entry.path, rel))
                else:
                    yield from visit_file(entry.path, rel, est)
            stack.extend(reversed(subdirs))
