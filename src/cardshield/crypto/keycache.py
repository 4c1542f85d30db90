"""A small TTL cache for unwrapped data keys.

Unwrapping a data key is a KMS round trip (an HSM call, a network call to AWS). The hot
tokenize path keeps each merchant's unwrapped key for a short time instead::

    cache = KeyCache(ttl=300.0)
    key = cache.get_or_load(("m_123", 4), lambda: kms.unwrap(wrapped, context=b"m_123"))

Entries expire ``ttl`` seconds after they were stored (not after last use, so a revoked or
rotated key leaves memory on schedule), the oldest entry is dropped past ``max_entries``, and
:meth:`KeyCache.clear` empties it (on rotation, merchant deletion, shutdown). The clock is
injectable (``clock=lambda: t``) so tests are exact; it defaults to :func:`time.monotonic`.
Values are held as :class:`~cardshield.crypto.secret.Secret` and the cache's ``repr`` shows only
its size. Thread-safe; a loader runs outside the lock, so two threads that miss together may
both load (the result is the same key).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from cardshield.crypto.secret import Secret


class KeyCache:
    """Maps a hashable key reference (e.g. ``(key_id, version)``) to unwrapped key bytes."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Secret[bytes]]] = OrderedDict()

    def get(self, ref: Hashable) -> bytes | None:
        """The cached key, or None when absent or expired (an expired entry is dropped)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(ref)
            if entry is None:
                return None
            expires, value = entry
            if now >= expires:
                del self._entries[ref]
                return None
            return value.reveal()

    def put(self, ref: Hashable, key: bytes) -> None:
        """Store ``key`` for ``ttl`` seconds from now."""
        expires = self._clock() + self._ttl
        with self._lock:
            self._entries.pop(ref, None)
            self._entries[ref] = (expires, Secret(key))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get_or_load(self, ref: Hashable, loader: Callable[[], bytes]) -> bytes:
        """The cached key, or ``loader()``'s result, stored before it is returned."""
        key = self.get(ref)
        if key is None:
            key = loader()
            self.put(ref, key)
        return key

    def evict(self, ref: Hashable) -> None:
        with self._lock:
            self._entries.pop(ref, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """Entries held, expired ones included until they are next looked up."""
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"KeyCache(ttl={self._ttl}, entries={len(self)})"
