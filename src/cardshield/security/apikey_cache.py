"""Authenticated API keys remembered for a few seconds.

Looking a key up is a database round trip on every request; a busy key asks the same
question hundreds of times a second. The cache keeps the answer to a *successful* look-up
for ``ttl`` seconds, so a key costs one look-up per interval instead of one per request.

* Only successes are kept: an unknown, malformed or revoked key always reaches the database
  (and gets the same ``InvalidApiKey``), so guessing cannot fill the cache or learn from it.
* Entries are found by the key's SHA-256 (what the database keeps too), never by the key.
* Revoking a key, or deleting its merchant, takes effect within ``ttl`` seconds on every node
  (``api_key_cache_seconds``; 0, the default, turns the cache off, because a merchant deleted
  elsewhere must stop tokenizing everywhere at once); the process that revokes a key forgets
  it at once (:meth:`ApiKeyCache.forget`).
* Bounded: past ``max_entries`` the oldest entries go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from cardshield.security.apikeys import ApiKeyInfo


class ApiKeyCache:
    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, ApiKeyInfo]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, digest: str) -> ApiKeyInfo | None:
        """The key info last authenticated under ``digest``, if still fresh."""
        if not self.enabled:
            return None
        found = self._entries.get(digest)
        if found is None:
            return None
        expires, info = found
        if self._clock() >= expires:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return info

    def put(self, digest: str, info: ApiKeyInfo) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[digest] = (self._clock() + self.ttl_s, info)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """Drop every entry of key ``key_id`` (it was just revoked here)."""
        with self._lock:
            for digest in [d for d, (_, i) in self._entries.items() if i.id == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
