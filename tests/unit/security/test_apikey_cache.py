"""The cache of authenticated API keys: what it keeps, for how long, and what it never keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from cardshield.security.apikey_cache import ApiKeyCache
from cardshield.security.apikeys import ApiKeyInfo, revoke
from tests.apps import Api

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def _info(key_id: str) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=key_id,
        merchant_id="m",
        kind="secret",
        prefix="sk_live_abcd",
        scopes=frozenset({"payments:read"}),
        allowed_origins=(),
        description="",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_used_at=None,
        revoked_at=None,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_for_the_ttl_only() -> None:
    clock = Clock()
    cache = ApiKeyCache(5, clock=clock)
    cache.put("d1", _info("k1"))
    assert cache.get("d1") == _info("k1")
    clock.now += 4.9
    assert cache.get("d1") is not None
    clock.now += 0.2
    assert cache.get("d1") is None
    assert cache.get("d1") is None  # gone, not only stale


def test_forget_drops_every_entry_of_a_key_and_only_those() -> None:
    cache = ApiKeyCache(5)
    cache.put("d1", _info("k1"))
    cache.put("d2", _info("k2"))
    cache.forget("k1")
    assert cache.get("d1") is None
    assert cache.get("d2") is not None


def test_bounded_oldest_first() -> None:
    cache = ApiKeyCache(5, max_entries=2)
    for n in range(3):
        cache.put(f"d{n}", _info(f"k{n}"))
    assert [cache.get(f"d{n}") is not None for n in range(3)] == [False, True, True]


def test_a_ttl_of_zero_keeps_nothing() -> None:
    cache = ApiKeyCache(0)
    cache.put("d1", _info("k1"))
    assert cache.get("d1") is None


@pytest.fixture
def counted(api: Api) -> Iterator[list[str]]:
    """SQL statements that read the api_keys table, as the app runs them."""
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "FROM api_keys" in statement:
            seen.append(statement)

    event.listen(api.runtime.engine, "before_cursor_execute", before)
    yield seen
    event.remove(api.runtime.engine, "before_cursor_execute", before)


def test_a_cached_key_is_not_looked_up_again_until_it_expires(api: Api, counted: list[str]) -> None:
    clock = Clock()
    api.runtime.api_keys = ApiKeyCache(5, clock=clock)
    for _ in range(3):
        assert api.client.get("/v1/payments", headers=api.sk()).status_code == 200
    assert len(counted) == 1
    clock.now += 6
    assert api.client.get("/v1/payments", headers=api.sk()).status_code == 200
    assert len(counted) == 2


def test_failures_are_never_cached(api: Api, counted: list[str]) -> None:
    api.runtime.api_keys = ApiKeyCache(5)
    bad = {"Authorization": "Bearer sk_live_" + "x" * 43}
    for _ in range(3):
        assert api.client.get("/v1/payments", headers=bad).status_code == 401
    assert len(counted) == 3


def test_a_revoked_key_is_refused_once_its_entry_expires(api: Api) -> None:
    clock = Clock()
    api.runtime.api_keys = ApiKeyCache(5, clock=clock)
    resp = api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk())
    assert resp.status_code == 200, resp.text
    (pk_id,) = {info.id for _, info in api.runtime.api_keys._entries.values()}
    with api.runtime.engine.begin() as conn:
        revoke(conn, now=datetime.now(UTC), merchant_id=api.merchant, key_id=pk_id)
    # Another node revoked it: this one accepts it for at most the TTL...
    assert api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).status_code == 200
    clock.now += 5
    refused = api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk())
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


def test_forgetting_a_revoked_key_refuses_it_at_once(api: Api) -> None:
    api.runtime.api_keys = ApiKeyCache(60)
    assert api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).status_code == 200
    (pk_id,) = {info.id for _, info in api.runtime.api_keys._entries.values()}
    with api.runtime.engine.begin() as conn:
        revoke(conn, now=datetime.now(UTC), merchant_id=api.merchant, key_id=pk_id)
    api.runtime.api_keys.forget(pk_id)
    assert api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).status_code == 401
