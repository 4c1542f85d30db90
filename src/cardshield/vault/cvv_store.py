"""Volatile storage for card security codes.

A CVV may be kept only until the authorization it was collected for (PCI DSS 3.3.1), and
never on disk, in a database, a log or a queue. These stores hold it in memory with a short
TTL and hand it out once: reading deletes it (``take``). There is no way to read it twice.

* :class:`MemoryCVVStore` - one process (the embedded default and tests).
* :class:`RedisCVVStore` - several nodes. The Redis server must not persist (no RDB
  snapshots, no AOF): :meth:`RedisCVVStore.check` refuses one that does.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from redis.exceptions import RedisError, ResponseError

from cardshield.cards import CVV
from cardshield.vault.errors import VolatileStoreError


class CVVStore(Protocol):
    def put(self, key: str, cvv: CVV, ttl_s: float) -> None: ...
    def take(self, key: str) -> CVV | None: ...
    def discard(self, key: str) -> None: ...
    def check(self) -> None: ...


class MemoryCVVStore:
    """In-process store; entries expire after their TTL and vanish on first read."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, CVV]] = {}
        # Expiry order, so a sweep touches only what expired (entries re-put or taken
        # leave stale heap items behind; they are skipped when popped).
        self._expiries: list[tuple[float, str]] = []

    def put(self, key: str, cvv: CVV, ttl_s: float) -> None:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            expires = now + ttl_s
            self._entries[key] = (expires, cvv)
            heapq.heappush(self._expiries, (expires, key))

    def take(self, key: str) -> CVV | None:
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None or self._clock() >= entry[0]:
            return None
        return entry[1]

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def check(self) -> None:
        return None

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self._clock())
            return len(self._entries)

    def _sweep(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            if entry is not None and entry[0] == expires:
                del self._entries[key]
        if len(heap) > 2 * len(self._entries) + 1024:  # many stale items: rebuild
            self._expiries = [(exp, k) for k, (exp, _) in self._entries.items()]
            heapq.heapify(self._expiries)

    def __repr__(self) -> str:
        return f"MemoryCVVStore(entries={len(self._entries)})"


class RedisCVVStore:
    """Redis-backed store for several nodes: ``SET .. PX`` to put, atomic ``GETDEL`` to take."""

    def __init__(self, client: redis.Redis, *, namespace: str = "cardshield:cvv:") -> None:
        self._redis = client
        self._ns = namespace

    @classmethod
    def from_url(cls, url: str) -> RedisCVVStore:
        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    def put(self, key: str, cvv: CVV, ttl_s: float) -> None:
        try:
            self._redis.set(self._ns + key, cvv.reveal(), px=max(1, int(ttl_s * 1000)))
        except RedisError as exc:
            raise VolatileStoreError from exc

    def take(self, key: str) -> CVV | None:
        try:
            raw = self._redis.getdel(self._ns + key)
        except RedisError as exc:
            raise VolatileStoreError from exc
        if raw is None:
            return None
        assert isinstance(raw, bytes)
        return CVV(raw.decode("ascii"))

    def discard(self, key: str) -> None:
        try:
            self._redis.delete(self._ns + key)
        except RedisError as exc:
            raise VolatileStoreError from exc

    def check(self) -> None:
        """Reachable, and not persisting to disk (CONFIG GET may be disabled on managed Redis)."""
        try:
            self._redis.ping()
        except RedisError as exc:
            raise VolatileStoreError(
                f"Redis is unreachable ({type(exc).__name__}): check CARDSHIELD_REDIS_URL"
            ) from exc
        try:
            save = self._redis.config_get("save").get("save", "")
            aof = self._redis.config_get("appendonly").get("appendonly", "no")
        except ResponseError:
            return  # CONFIG is disabled: the operator vouches for persistence being off
        if save or aof == "yes":
            raise VolatileStoreError(
                "Redis persists to disk (save/appendonly): security codes must never reach a "
                "disk. Run the CVV Redis with --save '' --appendonly no"
            )

    def __repr__(self) -> str:
        return f"RedisCVVStore(namespace={self._ns!r})"
