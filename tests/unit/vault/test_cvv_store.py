from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest
import redis

from cardshield.cards import CVV
from cardshield.vault import MemoryCVVStore, RedisCVVStore
from cardshield.vault.errors import VolatileStoreError
from tests.databases import require_redis


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_memory_store_take_once_and_ttl() -> None:
    clock = Clock()
    store = MemoryCVVStore(clock)
    store.put("a", CVV("123"), ttl_s=60)
    store.put("b", CVV("456"), ttl_s=60)
    taken = store.take("a")
    assert taken is not None and taken.reveal() == "123"
    assert store.take("a") is None
    clock.t += 61
    assert store.take("b") is None
    assert len(store) == 0
    assert "456" not in repr(store)


@pytest.fixture
def redis_store() -> Iterator[RedisCVVStore]:
    client = redis.Redis.from_url(require_redis(), socket_connect_timeout=2)
    ns = f"cardshield:test:{secrets.token_hex(4)}:"
    yield RedisCVVStore(client, namespace=ns)
    for key in client.scan_iter(ns + "*"):
        client.delete(key)


def test_redis_store_take_once_and_ttl(redis_store: RedisCVVStore) -> None:
    redis_store.check()
    redis_store.put("k", CVV("737"), ttl_s=30)
    assert redis_store._redis.pttl(redis_store._ns + "k") > 0
    taken = redis_store.take("k")
    assert taken is not None and taken.reveal() == "737"
    assert redis_store.take("k") is None
    redis_store.put("short", CVV("123"), ttl_s=0.05)
    threading.Event().wait(0.2)
    assert redis_store.take("short") is None
    redis_store.put("gone", CVV("999"), ttl_s=30)
    redis_store.discard("gone")
    assert redis_store.take("gone") is None


def test_redis_store_hands_a_code_to_exactly_one_of_many_readers(
    redis_store: RedisCVVStore,
) -> None:
    redis_store.put("race", CVV("737"), ttl_s=30)
    results: list[CVV | None] = []
    barrier = threading.Barrier(16)

    def reader() -> None:
        barrier.wait()
        results.append(redis_store.take("race"))

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def test_unreachable_redis_is_a_clear_error() -> None:
    store = RedisCVVStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(VolatileStoreError, match="unreachable"):
        store.check()
    with pytest.raises(VolatileStoreError):
        store.put("k", CVV("123"), ttl_s=1)


def test_memory_store_sweeps_only_expired_entries_in_order() -> None:
    clock = Clock()
    store = MemoryCVVStore(clock)
    for i in range(5000):
        clock.t += 0.001
        store.put(f"k{i}", CVV("123"), ttl_s=10.0)
    store.put("k0", CVV("456"), ttl_s=100)  # re-put: its old expiry must not evict it
    clock.t += 6.0  # the first ~1000 entries are past their TTL
    assert 3990 <= len(store) <= 4010
    again = store.take("k0")
    assert again is not None and again.reveal() == "456"
    assert store.take("k1") is None
    assert store.take("k4999") is not None
