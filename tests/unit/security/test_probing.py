"""Card probing counts on memory storage (one node) and on a real Redis (several nodes)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cardshield.cards import PAN, luhn_check_digit
from cardshield.security import probing
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.security.errors import CardProbingDetected
from cardshield.security.ratelimit import RULES, RateLimiter
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_log
from tests.conftest import assert_no_card_data
from tests.databases import REDIS_URL, require_redis

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RULES_3 = {**RULES, **probing.probe_rules(per_key="3/hour", per_merchant="100/hour")}


def _pans(count: int) -> list[PAN]:
    """Different Luhn-valid cards that all read 411111******1111 masked."""
    found: list[PAN] = []
    for middle in range(10**5):
        partial = f"411111{middle:06d}111"
        if luhn_check_digit(partial) == "1":
            found.append(PAN(partial + "1"))
            if len(found) == count:
                return found
    raise AssertionError("not enough numbers")


def _key() -> ApiKeyInfo:
    suffix = secrets.token_hex(6)  # a fresh key and merchant: Redis keeps counts between runs
    return ApiKeyInfo(
        id=f"key_{suffix}",
        merchant_id=f"mer_{suffix}",
        kind="publishable",
        prefix="pk_live_abcd",
        scopes=frozenset({"tokens:create"}),
        allowed_origins=("https://shop.example",),
        description="",
        created_at=NOW,
        last_used_at=None,
        revoked_at=None,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    upgrade(engine)
    return engine


def _check(limiter: RateLimiter, engine: Engine, key: ApiKeyInfo, pan: PAN) -> None:
    probing.check(limiter, engine, key=key, pan=pan, card=pan.reveal()[-10:], now=NOW)


def test_distinct_cards_are_counted_once_each(engine: Engine) -> None:
    limiter, key, pans = RateLimiter("memory://", RULES_3), _key(), _pans(5)
    for pan in pans[:3] + pans[:3]:  # each card twice: three distinct cards
        _check(limiter, engine, key, pan)
    with pytest.raises(CardProbingDetected) as info:
        _check(limiter, engine, key, pans[3])
    assert info.value.http_status == 429 and 1 <= info.value.retry_after <= 3600
    with pytest.raises(CardProbingDetected):
        _check(limiter, engine, key, pans[3])  # not let through on a second try
    _check(limiter, engine, _key(), pans[4])  # another key (of another merchant)
    with engine.connect() as conn:
        entries = conn.execute(select(audit_log)).all()
    assert [(e.action, e.outcome, e.target) for e in entries] == [
        (probing.AUDIT_ACTION, "refused", key.id)
    ] * 2
    assert_no_card_data(repr(entries) + str(info.value), tuple(p.reveal() for p in pans))


def test_redis_counts_are_shared_between_nodes(engine: Engine) -> None:
    require_redis(REDIS_URL)
    node_a = RateLimiter.for_redis(REDIS_URL, RULES_3)
    node_b = RateLimiter.for_redis(REDIS_URL, RULES_3)
    key, pans = _key(), _pans(4)
    _check(node_a, engine, key, pans[0])
    _check(node_b, engine, key, pans[1])
    _check(node_b, engine, key, pans[0])  # counted on node a already
    _check(node_a, engine, key, pans[2])
    with pytest.raises(CardProbingDetected):
        _check(node_b, engine, key, pans[3])


def test_unreachable_storage_lets_tokenization_through(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    limiter, key = RateLimiter("redis://127.0.0.1:1/0", RULES_3), _key()
    for pan in _pans(5):
        _check(limiter, engine, key, pan)
    assert "rate limit storage failed" in caplog.text


def test_malformed_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="lots"):
        probing.probe_rules(per_key="lots", per_merchant="50/hour")
