"""The KEK provider plug point: :class:`KMSProvider` and the stored form :class:`WrappedKey`.

A provider holds key-encryption keys (KEKs) in versions and never hands one out: callers
give it a data key to wrap (or a wrapped key to unwrap) together with a *context*, bytes
that are bound to the result as associated data (e.g. ``b"merchant:m_123"``), so a wrapped
key copied onto another merchant does not unwrap. It also holds one signing key for the
audit chain's checkpoints.

Contract every provider keeps (tests/integration/crypto/test_kms_contract.py checks it):

* ``current_version()`` is the newest version and the one ``wrap`` uses; ``versions()`` lists
  every version that can still unwrap, ascending. ``rotate()`` adds ``current + 1`` and returns
  it; wrapped keys under older versions keep unwrapping until ``retire(version)`` destroys (or
  disables) that version. The current version cannot be retired (:class:`ValueError`).
* ``unwrap`` raises the message-less :class:`~cardshield.crypto.errors.DecryptionError` for a
  wrong context, a tampered or foreign blob, and an unknown or retired version;
  :class:`~cardshield.crypto.errors.KMSError` means the provider itself failed (unreachable,
  wrong PIN, missing permissions) and its one-line message says what to do.
* ``sign`` returns a MAC over ``data`` that ``verify`` accepts; ``verify`` returns False
  (never raises) for a wrong signature. The signing key does not rotate with the KEK. ``sign``
  is deterministic (HMAC-SHA256 in every provider): the audit log's entry key is derived from
  it (:class:`cardshield.security.audit.AuditKey`), so every node must get the same bytes.
* ``check()`` returns None when the provider is usable and raises KMSError otherwise.
* ``close()`` releases sessions and connections; a closed provider must not be used again.
* ``repr``/``str`` never show key material, PINs or credentials.

:class:`WrappedKey` is what the vault stores, in one column, through :meth:`WrappedKey.to_bytes`::

    b"CSW1" | uint32 kek_version (big-endian) | provider blob
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cardshield.crypto.errors import DecryptionError

_MAGIC = b"CSW1"
_VERSION = struct.Struct(">I")
MAX_KEK_VERSION = 2**32 - 1


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key wrapped under KEK version ``kek_version``; ``blob`` is provider-specific."""

    kek_version: int
    blob: bytes

    def to_bytes(self) -> bytes:
        """The storage form: magic, version, blob."""
        return _MAGIC + _VERSION.pack(self.kek_version) + self.blob

    @classmethod
    def from_bytes(cls, data: bytes) -> WrappedKey:
        """Parse :meth:`to_bytes` output; a malformed value raises DecryptionError."""
        if len(data) <= len(_MAGIC) + _VERSION.size or not data.startswith(_MAGIC):
            raise DecryptionError from None
        (version,) = _VERSION.unpack_from(data, len(_MAGIC))
        return cls(version, bytes(data[len(_MAGIC) + _VERSION.size :]))

    def __repr__(self) -> str:
        return f"WrappedKey(kek_version={self.kek_version}, blob=<{len(self.blob)} bytes>)"


@runtime_checkable
class KMSProvider(Protocol):
    """A holder of versioned KEKs and a signing key. See the module docstring for the contract."""

    @property
    def name(self) -> str:
        """The provider's scheme: ``memory``, ``local``, ``pkcs11`` or ``aws``."""
        ...

    def current_version(self) -> int: ...

    def versions(self) -> list[int]: ...

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey: ...

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes: ...

    def rotate(self) -> int: ...

    def retire(self, version: int) -> None: ...

    def sign(self, data: bytes) -> bytes: ...

    def verify(self, data: bytes, signature: bytes) -> bool: ...

    def check(self) -> None: ...

    def close(self) -> None: ...


def check_data_key(key: bytes) -> None:
    """Providers wrap data keys (16..64 bytes), not arbitrary payloads."""
    if not isinstance(key, bytes) or not 16 <= len(key) <= 64:
        raise ValueError("a data key to wrap must be 16 to 64 bytes")
