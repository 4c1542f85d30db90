"""The scan key: the secret that finding ids and the marks file are keyed with.

A finding's id is the first 24 hex characters of HMAC-SHA256(scan key, display path of the
file or member + ``"\\0"`` + card digits). A report shows the first six and last four digits
of a number, so an unkeyed hash of it would be reversed by trying the 10^6 middles (PCI DSS
3.5.1.1 asks for keyed hashes); under a secret key the id says nothing of the number, and
the same key gives the same id scan after scan, so marks can refer to it.

The key is 32 random bytes in a file: ``--key-file PATH``, else ``$CARDSHIELD_SCAN_KEY_FILE``,
else ``$XDG_CONFIG_HOME/cardshield/scan.key`` (``~/.config/cardshield/scan.key``). It is
created on first use (mode 0600, a directory made for it 0700); a key file that group or
others may read or write, or that does not hold exactly 32 bytes, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cardshield.discovery.errors import ScanOptionError

KEY_ENV = "CARDSHIELD_SCAN_KEY_FILE"
KEY_BYTES = 32
ID_CHARS = 24


def ephemeral_key() -> bytes:
    """A key for one scan only (library use without a key file): ids hold within the scan."""
    return secrets.token_bytes(KEY_BYTES)


def finding_id(key: bytes, path: str, digits: str) -> str:
    """The id of the card ``digits`` at ``path`` (a display path): keyed, never reversible."""
    message = path.encode("utf-8", "surrogatepass") + b"\0" + digits.encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:ID_CHARS]


def default_key_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        return Path(env[KEY_ENV])
    config_home = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "cardshield" / "scan.key"


def load_key(path: Path) -> bytes:
    """The key in ``path``, created there first if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return _create(path)
    except OSError as exc:
        raise ScanOptionError(f"cannot read the scan key {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as stream:
        st = os.fstat(stream.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ScanOptionError(f"the scan key {path} is not a regular file")
        if st.st_mode & 0o077:
            raise ScanOptionError(
                f"the scan key {path} is open to group or others: run chmod 600 on it"
            )
        key = stream.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise ScanOptionError(f"the scan key {path} is not {KEY_BYTES} bytes")
    return key


def _create(path: Path) -> bytes:
    directory = path.parent
    try:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True)
            os.chmod(directory, 0o700)  # mkdir's mode is cut by the umask
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".scan-key-")  # mode 0600
    except OSError as exc:
        raise ScanOptionError(f"cannot create the scan key {path}: {exc.strerror}") from None
    key = secrets.token_bytes(KEY_BYTES)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(key)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temp, path)  # never replaces a key another scan created meanwhile
    except FileExistsError:
        return load_key(path)
    except OSError as exc:
        raise ScanOptionError(f"cannot create the scan key {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    return key


__all__ = ["KEY_ENV", "default_key_path", "ephemeral_key", "finding_id", "load_key"]
