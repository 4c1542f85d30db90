"""KeyCache: exact TTL expiry with an injected clock, bounded size, no key material shown."""

from __future__ import annotations

import threading

import pytest

from cardshield.crypto import KeyCache


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_entries_expire_exactly_at_ttl() -> None:
    clock = Clock()
    cache = KeyCache(ttl=60, clock=clock)
    assert cache.get(("m", 1)) is None
    cache.put(("m", 1), b"k" * 32)
    clock.t += 59.999
    assert cache.get(("m", 1)) == b"k" * 32
    clock.t += 0.001
    assert cache.get(("m", 1)) is None
    assert len(cache) == 0


def test_get_or_load_calls_the_loader_once_per_ttl() -> None:
    clock = Clock()
    cache = KeyCache(ttl=10, clock=clock)
    calls: list[int] = []

    def load() -> bytes:
        calls.append(1)
        return bytes([len(calls)]) * 32

    assert cache.get_or_load("m", load) == b"\x01" * 32
    for _ in range(100):
        assert cache.get_or_load("m", load) == b"\x01" * 32
    assert len(calls) == 1
    clock.t += 10
    assert cache.get_or_load("m", load) == b"\x02" * 32
    assert len(calls) == 2


def test_put_restarts_the_ttl() -> None:
    clock = Clock()
    cache = KeyCache(ttl=10, clock=clock)
    cache.put("a", b"1")
    clock.t += 8
    cache.put("a", b"2")
    clock.t += 8
    assert cache.get("a") == b"2"


def test_oldest_entry_is_dropped_past_max_entries() -> None:
    cache = KeyCache(ttl=10, max_entries=3, clock=Clock())
    for i in range(5):
        cache.put(i, bytes([i]))
    assert len(cache) == 3
    assert [cache.get(i) for i in range(5)] == [None, None, b"\x02", b"\x03", b"\x04"]


def test_clear_and_evict() -> None:
    cache = KeyCache(ttl=10, clock=Clock())
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.evict("a")
    cache.evict("missing")
    assert cache.get("a") is None
    assert cache.get("b") == b"2"
    cache.clear()
    assert cache.get("b") is None
    assert len(cache) == 0


def test_repr_shows_no_key_material() -> None:
    cache = KeyCache(ttl=10, clock=Clock())
    cache.put("a", b"SECRETKEYBYTES" * 2)
    text = repr(cache) + str(cache) + repr(vars(cache) if hasattr(cache, "__dict__") else "")
    assert "SECRETKEYBYTES" not in text
    assert "entries=1" in repr(cache)


@pytest.mark.parametrize(("ttl", "max_entries"), [(0, 1), (-1, 1), (1, 0)])
def test_rejects_bad_settings(ttl: float, max_entries: int) -> None:
    with pytest.raises(ValueError, match=r"ttl|max_entries"):
        KeyCache(ttl=ttl, max_entries=max_entries)


def test_concurrent_use_keeps_the_bound_and_the_values() -> None:
    cache = KeyCache(ttl=1000, max_entries=50)
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(2000):
            ref = (n, i % 80)
            value = bytes([n, i % 80])
            got = cache.get_or_load(ref, lambda v=value: v)
            if got != value:
                errors.append(f"{ref}: {got!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 50
