"""Call change notices: a write to a call wakes the agent screens listening for it, in one
process and, through a real Redis, across nodes (two independent connections here)."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import insert

from cardshield.phone.calls import CallState, CallStore
from cardshield.phone.errors import CallStateConflict
from cardshield.phone.live import LocalNotices, RedisNotices, channel
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import merchants
from tests.databases import require_redis, sqlite_database

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def redis_url() -> str:
    return require_redis()


def _sid() -> str:
    return "CA" + secrets.token_hex(16)


def test_local_notices_wake_a_listener_from_another_thread() -> None:
    notices = LocalNotices()
    call, other = _sid(), _sid()

    async def scenario() -> tuple[bool, bool, float]:
        async with notices.listen(call) as changes:
            assert await changes.wait(0.05) is False  # nothing yet
            notices.publish(other, 1)  # another call's change does not wake it
            assert await changes.wait(0.05) is False
            started = time.monotonic()
            threading.Timer(0.05, notices.publish, args=(call, 2)).start()
            woke = await changes.wait(5.0)
            elapsed = time.monotonic() - started
            again = await changes.wait(0.05)  # one notice wakes one wait
        return woke, again, elapsed

    woke, again, elapsed = asyncio.run(scenario())
    assert woke and not again and elapsed < 2.0
    assert notices._waiters == {}  # the listener left nothing behind


def test_redis_notices_cross_from_one_node_to_another(redis_url: str) -> None:
    node_a, node_b = RedisNotices(redis_url), RedisNotices(redis_url)
    call = _sid()
    spy = redis.Redis.from_url(redis_url).pubsub()
    spy.subscribe(channel(call))

    async def scenario() -> tuple[bool, bool]:
        async with node_a.listen(call) as changes:
            assert await changes.wait(0.1) is False
            await asyncio.to_thread(node_b.publish, call, 7)
            woke = await changes.wait(5.0)
            other = _sid()
            await asyncio.to_thread(node_b.publish, other, 8)
            stray = await changes.wait(0.2)
        return woke, stray

    woke, stray = asyncio.run(scenario())
    assert woke and not stray
    seen = [spy.get_message(timeout=2.0) for _ in range(2)]
    payloads = [m["data"] for m in seen if m and m["type"] == "message"]
    assert payloads == [b"7"]  # a version number: never a digit the caller keyed
    spy.close()


def test_publishing_to_an_unreachable_redis_does_not_fail_the_write() -> None:
    RedisNotices("redis://127.0.0.1:1/0").publish(_sid(), 1)  # logged, not raised


def test_the_call_store_announces_every_committed_write(tmp_path: Path) -> None:
    url = sqlite_database(tmp_path)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(merchants).values(id="m_1", name="shop", created_at=NOW))
    heard: list[tuple[str, int]] = []

    class Recorder:
        def publish(self, call_sid: str, version: int) -> None:
            heard.append((call_sid, version))

    store = CallStore(engine, Recorder())
    call = _sid()
    state = store.create(
        CallState(
            call_sid=call,
            merchant_id="m_1",
            mode="agent",
            step="expiry",
            created_at=NOW,
            updated_at=NOW,
        )
    )
    saved = store.save(state.evolve(step="card"), now=NOW)
    assert heard == [(call, state.version), (call, saved.version)]
    with pytest.raises(CallStateConflict):
        store.save(state.evolve(step="cvc"), now=NOW)  # stale: nothing announced
    assert len(heard) == 2
    engine.dispose()
