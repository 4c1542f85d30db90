"""``local:PATH`` -- KEKs in a key file on disk (the embedded default).

The file is created by :func:`init_local_key` (``cardshield keys init``) with mode 0600 and
is JSON::

    {"format": "cardshield-local-kek", "format_version": 1,
     "keks": {"1": {"key": "<base64 32 bytes>", "created": "2026-01-31T12:00:00+00:00"}, ...},
     "retired": [],
     "signing_key": "<base64 32 bytes>"}

The current version is the highest one in ``keks``. Opening refuses, with one line that says
what to do, a missing file (run ``cardshield keys init``), a file that group or others can read
or write (``chmod 600 PATH``), an unreadable one, and a corrupt one. Every change (rotate,
retire) takes an exclusive lock on ``PATH.lock``, re-reads the file, and replaces it atomically
(temporary file in the same folder, fsync, rename, fsync of the folder) keeping mode 0600, so a
crash leaves either the old or the new file, never half of one. Other processes pick a change up
on their next call (the file's identity is checked with one ``stat``). Retiring a version deletes
its key material from the file; data keys still wrapped under it are lost (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardshield.crypto.errors import DecryptionError, KeyFileError
from cardshield.crypto.kms import _soft
from cardshield.crypto.kms.base import WrappedKey, check_data_key

FORMAT = "cardshield-local-kek"
FORMAT_VERSION = 1


@dataclass
class _KeyFile:
    keks: dict[int, bytes]
    created: dict[int, str]
    signing_key: bytes
    retired: list[int] = field(default_factory=list)

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "keks": {
                str(v): {"key": base64.b64encode(k).decode(), "created": self.created.get(v, "")}
                for v, k in sorted(self.keks.items())
            },
            "retired": sorted(self.retired),
            "signing_key": base64.b64encode(self.signing_key).decode(),
        }
        return (json.dumps(doc, indent=2) + "\n").encode()


def _b64key(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("key is not a string")
    raw = base64.b64decode(value, validate=True)
    if len(raw) != _soft.KEK_BYTES:
        raise ValueError("key has the wrong length")
    return raw


def _parse(raw: bytes) -> _KeyFile:
    """Raises ValueError (or KeyError/TypeError) on anything but a well-formed key file."""
    doc = json.loads(raw)
    if doc["format"] != FORMAT or doc["format_version"] != FORMAT_VERSION:
        raise ValueError("not a cardshield key file")
    keks: dict[int, bytes] = {}
    created: dict[int, str] = {}
    for version, entry in doc["keks"].items():
        if not version.isdigit() or int(version) < 1:
            raise ValueError("bad version")
        keks[int(version)] = _b64key(entry["key"])
        created[int(version)] = str(entry.get("created", ""))
    retired = [int(v) for v in doc.get("retired", [])]
    if not keks or set(retired) & set(keks):
        raise ValueError("no usable version")
    return _KeyFile(keks, created, _b64key(doc["signing_key"]), retired)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh 0600 file beside ``path``, fsynced; return its path."""
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # exact, whatever the umask
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def init_local_key(
    path: str | os.PathLike[str], *, now: Callable[[], datetime] | None = None
) -> None:
    """Create a key file with KEK version 1 and a signing key; refuse to overwrite one."""
    target = Path(path).expanduser()
    stamp = (now or _utcnow)().isoformat()
    content = _KeyFile({1: _soft.new_key()}, {1: stamp}, _soft.new_key()).to_json()
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = _write_temp(target, content)
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {target}: {exc.strerror}") from exc
    try:
        # link() fails if the target exists: an existing key file is never overwritten,
        # and the new one appears complete or not at all.
        os.link(tmp, target)
    except FileExistsError:
        raise KeyFileError(f"key file {target} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {target}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LocalKMS:
    """KEKs from a key file; reloads when another process rotates or retires."""

    name = "local"

    def __init__(self, path: str | os.PathLike[str], *, now: Callable[[], datetime] | None = None):
        self._path = Path(path).expanduser()
        self._now = now or _utcnow
        self._lock = threading.RLock()
        self._identity: tuple[int, int, int, int] | None = None
        self._file = self._load()

    # -- reading ------------------------------------------------------------------------------

    def _stat(self) -> os.stat_result:
        path = self._path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise KeyFileError(
                f"key file {path} not found: run `cardshield keys init` to create it"
            ) from None
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}): run `chmod 600 {path}`"
            )
        return st

    def _load(self) -> _KeyFile:
        st = self._stat()
        try:
            raw = self._path.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {self._path}: {exc.strerror}") from exc
        try:
            parsed = _parse(raw)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            # Never echo the content: it is key material.
            raise KeyFileError(
                f"key file {self._path} is corrupt or not a cardshield key file: "
                "restore it from a backup"
            ) from None
        self._identity = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_dev)
        return parsed

    def _current(self) -> _KeyFile:
        """The file's content, re-read if it changed on disk since the last call."""
        with self._lock:
            st = self._stat()
            if (st.st_ino, st.st_mtime_ns, st.st_size, st.st_dev) != self._identity:
                self._file = self._load()
            return self._file

    # -- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[_KeyFile]:
        """Exclusive across threads and processes; yields the fresh file to change in place."""
        lock_path = self._path.with_name(self._path.name + ".lock")
        with self._lock:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                current = self._load()
                yield current
                self._save(current)
            finally:
                os.close(fd)  # closing releases the flock

    def _save(self, content: _KeyFile) -> None:
        tmp: Path | None = None
        try:
            tmp = _write_temp(self._path, content.to_json())
            os.replace(tmp, self._path)
            tmp = None
            _fsync_dir(self._path.parent)
        except OSError as exc:
            raise KeyFileError(f"cannot write key file {self._path}: {exc.strerror}") from exc
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self._file = self._load()

    # -- KMSProvider ------------------------------------------------------------------------

    def current_version(self) -> int:
        return max(self._current().keks)

    def versions(self) -> list[int]:
        return sorted(self._current().keks)

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        check_data_key(key)
        keks = self._current().keks
        version = max(keks)
        return WrappedKey(version, _soft.wrap(keks[version], version, key, context))

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        kek = self._current().keks.get(wrapped.kek_version)
        if kek is None:
            raise DecryptionError from None
        return _soft.unwrap(kek, wrapped.kek_version, wrapped.blob, context)

    def rotate(self) -> int:
        with self._locked() as content:
            version = max([*content.keks, *content.retired]) + 1
            content.keks[version] = _soft.new_key()
            content.created[version] = self._now().isoformat()
        return version

    def retire(self, version: int) -> None:
        with self._locked() as content:
            if version == max(content.keks):
                raise ValueError("cannot retire the current KEK version: rotate first")
            if content.keks.pop(version, None) is not None:
                content.retired.append(version)
                content.created.pop(version, None)

    def sign(self, data: bytes) -> bytes:
        return _soft.sign(self._current().signing_key, data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return _soft.verify(self._current().signing_key, data, signature)

    def check(self) -> None:
        self._current()

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"LocalKMS({str(self._path)!r})"


def open_url(rest: str, *, now: Callable[[], datetime]) -> LocalKMS:
    if not rest:
        raise KeyFileError("local KMS URL needs a path: local:/path/to/kek.key")
    return LocalKMS(rest, now=now)


def init_url(rest: str, *, now: Callable[[], datetime]) -> LocalKMS:
    if not rest:
        raise KeyFileError("local KMS URL needs a path: local:/path/to/kek.key")
    init_local_key(rest, now=now)
    return LocalKMS(rest, now=now)
