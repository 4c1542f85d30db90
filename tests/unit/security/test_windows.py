"""The in-process moving windows behind the one-node rate limiter."""

from __future__ import annotations

import threading

from cardshield.security.ratelimit import RateLimiter
from cardshield.security.windows import MovingWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_then_the_window_moves() -> None:
    clock = Clock()
    w = MovingWindows(clock)
    for _ in range(3):
        assert w.hit("k", 3, 60) is None
        clock.now += 5  # hits at 1000, 1005, 1010
    clock.now = 1020
    assert w.hit("k", 3, 60) == 40.0  # the first hit leaves the window at 1060
    clock.now = 1060
    assert w.hit("k", 3, 60) is None  # it has left; the refused one never counted
    assert w.hit("k", 3, 60) == 5.0  # full again until the hit of 1005 leaves


def test_refused_hits_are_not_counted_and_keys_are_apart() -> None:
    clock = Clock()
    w = MovingWindows(clock)
    assert w.hit("a", 1, 60) is None
    for _ in range(5):
        assert w.hit("a", 1, 60) is not None
    assert w.hit("b", 1, 60) is None
    clock.now += 60
    assert w.hit("a", 1, 60) is None  # five refusals did not push the window out


def test_silent_counters_are_forgotten_and_busy_ones_kept() -> None:
    clock = Clock()
    w = MovingWindows(clock)
    for i in range(1000):
        w.hit(f"card-{i}", 1, 3600)
    w.hit("busy", 100, 60)
    assert len(w) == 1001
    clock.now += 59
    w.hit("busy", 100, 60)  # keeps "busy" alive past its first expiry
    clock.now += 2
    w.hit("other", 1, 60)
    assert len(w) == 1002  # busy's first expiry came and went; it still holds a hit
    clock.now += 3600
    w.hit("late", 1, 60)
    assert len(w) == 1  # every card and "busy" are gone, without anything walking them all


def test_clear_and_reset() -> None:
    clock = Clock()
    w = MovingWindows(clock)
    w.hit("k", 1, 60)
    assert w.hit("k", 1, 60) is not None
    w.clear("k")
    assert w.hit("k", 1, 60) is None
    w.reset()
    assert len(w) == 0 and w.hit("k", 1, 60) is None


def test_concurrent_hits_never_pass_the_limit() -> None:
    w = MovingWindows()
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            ok = w.hit("shared", 150, 60) is None
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 150


def test_the_memory_limiter_uses_them_and_retry_after_is_whole_seconds() -> None:
    limiter = RateLimiter("memory://", {"r": "2/minute"})
    assert not limiter.shared
    assert limiter.try_hit("r", "x") is None and limiter.try_hit("r", "x") is None
    retry = limiter.try_hit("r", "x")
    assert retry is not None and 59 <= retry <= 60
    assert limiter.try_hit("r", "y") is None  # other identifiers count apart
    assert limiter.try_hit("r", "x\x1fy") is None  # no key built from parts collides
    limiter.clear("r", "x")
    assert limiter.try_hit("r", "x") is None
