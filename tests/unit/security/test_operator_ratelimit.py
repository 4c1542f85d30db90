"""Rate limits on memory storage (one node) and on a real Redis (several nodes)."""

from __future__ import annotations

import secrets

import pytest

from cardshield.security.errors import RateLimited
from cardshield.security.ratelimit import RULES, RateLimiter
from tests.databases import REDIS_URL, require_redis


def _exercise(limiter: RateLimiter, prefix: str) -> None:
    for _ in range(10):
        limiter.hit("login_user", prefix + "ann")
    with pytest.raises(RateLimited) as info:
        limiter.hit("login_user", prefix + "ann")
    assert 1 <= info.value.retry_after <= 60 and info.value.http_status == 429
    limiter.hit("login_user", prefix + "bob")  # other keys have their own window
    limiter.hit("mfa", prefix + "ann")  # and other rules too


def test_memory_storage() -> None:
    limiter = RateLimiter()
    assert not limiter.shared
    _exercise(limiter, "")
    limiter.reset()
    limiter.hit("login_user", "ann")
    assert set(RULES) == {
        "login_ip",
        "login_user",
        "mfa",
        "tokenize_key_ip",
        "tokenize_key",
        "tokenize_card_probe_key",
        "tokenize_card_seen_key",
        "tokenize_card_probe_merchant",
        "tokenize_card_seen_merchant",
    }


def test_redis_storage_is_shared_between_nodes() -> None:
    require_redis(REDIS_URL)
    node_a, node_b = RateLimiter.for_redis(REDIS_URL), RateLimiter.for_redis(REDIS_URL)
    assert node_a.shared
    prefix = secrets.token_hex(4) + ":"
    for _ in range(5):
        node_a.hit("login_user", prefix + "ann")
        node_b.hit("login_user", prefix + "ann")
    with pytest.raises(RateLimited):
        node_b.hit("login_user", prefix + "ann")


def test_unreachable_storage_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    for _ in range(30):
        limiter.hit("login_user", "ann")
    assert "rate limit storage failed" in caplog.text
