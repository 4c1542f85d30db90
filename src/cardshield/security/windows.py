"""Moving-window counters kept in this process: the rate limiter's storage for one node.

Per counter, the times of the hits still inside its window (a deque, oldest first): a hit is
allowed while fewer than ``limit`` remain, the same moving window the ``limits`` package keeps
in Redis. Counters that fall silent are forgotten through a heap holding one expiry per
counter, so a hit costs O(log n) and nothing scans every counter (``limits``'s own memory
storage walks them all every 10 ms from a timer thread, which with one counter per card
seen, as card probing keeps, took more CPU than the tokenizations themselves).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable


class MovingWindows:
    """Thread-safe moving windows; ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, tuple[deque[float], float]] = {}
        self._expiry: list[tuple[float, str]] = []  # one (when it may go, key) per counter

    def hit(self, key: str, limit: int, window: float) -> float | None:
        """Count a hit unless ``limit`` hits are in the last ``window`` seconds; None when
        counted, else the seconds until the oldest of them leaves the window."""
        now = self._clock()
        with self._lock:
            self._forget_silent(now)
            entry = self._hits.get(key)
            if entry is None:
                hits: deque[float] = deque()
                self._hits[key] = (hits, window)
                heapq.heappush(self._expiry, (now + window, key))
            else:
                hits = entry[0]
                cutoff = now - window
                while hits and hits[0] <= cutoff:
                    hits.popleft()
            if len(hits) >= limit:
                return hits[0] + window - now
            hits.append(now)
            return None

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)  # its heap entry finds nothing and goes

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._expiry.clear()

    def __len__(self) -> int:
        return len(self._hits)

    def _forget_silent(self, now: float) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            entry = self._hits.get(key)
            if entry is None:
                continue
            hits, window = entry
            if hits and hits[-1] + window > now:
                heapq.heappush(heap, (hits[-1] + window, key))  # still counting: look later
            else:
                del self._hits[key]
