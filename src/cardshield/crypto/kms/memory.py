"""``memory:`` -- an in-process KEK provider for tests and throwaway runs.

``memory:`` opens a fresh provider every time; ``memory:NAME`` opens the process-wide
provider called NAME (created on first use), so code that opens its KMS from a URL twice, like
a CLI command and the service under test, sees the same keys. Nothing is persisted: keys die
with the process. Wrapping and signing are the same software recipes as ``local:``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from cardshield.crypto.errors import DecryptionError
from cardshield.crypto.kms import _soft
from cardshield.crypto.kms.base import WrappedKey, check_data_key


class MemoryKMS:
    """Versioned KEKs held in a dict; thread-safe."""

    name = "memory"

    def __init__(self, label: str = "") -> None:
        self._label = label
        self._lock = threading.Lock()
        self._keks: dict[int, bytes] = {1: _soft.new_key()}
        self._signing_key = _soft.new_key()

    def current_version(self) -> int:
        with self._lock:
            return max(self._keks)

    def versions(self) -> list[int]:
        with self._lock:
            return sorted(self._keks)

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        check_data_key(key)
        with self._lock:
            version = max(self._keks)
            kek = self._keks[version]
        return WrappedKey(version, _soft.wrap(kek, version, key, context))

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        with self._lock:
            kek = self._keks.get(wrapped.kek_version)
        if kek is None:
            raise DecryptionError from None
        return _soft.unwrap(kek, wrapped.kek_version, wrapped.blob, context)

    def rotate(self) -> int:
        with self._lock:
            version = max(self._keks) + 1
            self._keks[version] = _soft.new_key()
            return version

    def retire(self, version: int) -> None:
        with self._lock:
            if version == max(self._keks):
                raise ValueError("cannot retire the current KEK version: rotate first")
            self._keks.pop(version, None)

    def sign(self, data: bytes) -> bytes:
        return _soft.sign(self._signing_key, data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return _soft.verify(self._signing_key, data, signature)

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryKMS({self._label!r})" if self._label else "MemoryKMS()"


_NAMED: dict[str, MemoryKMS] = {}
_NAMED_LOCK = threading.Lock()


def open_url(rest: str, *, now: Callable[[], datetime]) -> MemoryKMS:
    """``memory:`` (fresh) or ``memory:NAME`` (shared within this process)."""
    if not rest:
        return MemoryKMS()
    with _NAMED_LOCK:
        provider = _NAMED.get(rest)
        if provider is None:
            provider = _NAMED[rest] = MemoryKMS(rest)
        return provider


def init_url(rest: str, *, now: Callable[[], datetime]) -> MemoryKMS:
    return open_url(rest, now=now)
