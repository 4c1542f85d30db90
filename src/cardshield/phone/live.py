"""Call change notices: how an agent screen on one node learns at once that a call's row
changed on another (the caller keyed a digit into the media stream node B serves).

Every :class:`~cardshield.phone.calls.CallStore` write publishes the call's new version on
the channel ``cardshield:call:<CallSid>``: through Redis pub/sub when ``redis_url`` is set
(several nodes), in process otherwise. The agent screen's socket waits for a notice, or at
the latest for its fallback interval, and then reads the row: the database stays the only
truth, and a notice that is lost (Redis restarting) only delays an update. A notice holds a
version number; the channel name holds the CallSid. Never a digit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cardshield.phone.calls import CallStore
from cardshield.phone.per_deployment import PerDeployment
from cardshield.redaction.logging import get_logger
from cardshield.runtime import Runtime

CHANNEL_PREFIX = "cardshield:call:"
log = get_logger(__name__)


class Listener(Protocol):
    async def wait(self, timeout: float) -> bool:
        """Until a notice for the call arrives (True) or ``timeout`` seconds pass (False)."""
        ...


class CallNotices(Protocol):
    def publish(self, call_sid: str, version: int) -> None: ...

    def listen(self, call_sid: str) -> AbstractAsyncContextManager[Listener]:
        """Subscribed on entry: a notice published after entering is never missed."""
        ...


def channel(call_sid: str) -> str:
    return CHANNEL_PREFIX + call_sid


class _Waiter:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class LocalNotices:
    """One process: writers (in worker threads or the event loop) wake the sockets that
    listen in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[_Waiter]] = {}

    def publish(self, call_sid: str, version: int) -> None:
        with self._lock:
            waiters = list(self._waiters.get(call_sid, ()))
        for waiter in waiters:
            waiter.wake()

    def listen(self, call_sid: str) -> AbstractAsyncContextManager[Listener]:
        return self._listen(call_sid)

    @asynccontextmanager
    async def _listen(self, call_sid: str) -> AsyncIterator[Listener]:
        waiter = _Waiter()
        with self._lock:
            self._waiters.setdefault(call_sid, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                left = self._waiters.get(call_sid, set())
                left.discard(waiter)
                if not left:
                    self._waiters.pop(call_sid, None)


class _RedisListener:
    def __init__(self, pubsub: aioredis.client.PubSub) -> None:
        self._pubsub = pubsub

    async def wait(self, timeout: float) -> bool:
        try:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=timeout
            )
        except (RedisError, OSError) as exc:  # the fallback interval still applies
            log.warning("phone.notices.receive_failed", error=type(exc).__name__)
            await asyncio.sleep(timeout)
            return False
        return message is not None


class RedisNotices:
    """Several nodes: Redis pub/sub. Publishing is best effort (the row is already
    committed, and listeners read it again at their fallback interval anyway)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = redis.Redis.from_url(url, socket_timeout=2.0)

    def publish(self, call_sid: str, version: int) -> None:
        try:
            self._client.publish(channel(call_sid), str(version))
        except RedisError as exc:
            log.warning("phone.notices.publish_failed", error=type(exc).__name__)

    def listen(self, call_sid: str) -> AbstractAsyncContextManager[Listener]:
        return self._listen(call_sid)

    @asynccontextmanager
    async def _listen(self, call_sid: str) -> AsyncIterator[Listener]:
        client = aioredis.Redis.from_url(self._url)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel(call_sid))
            yield _RedisListener(pubsub)
        finally:
            try:
                await pubsub.unsubscribe()
                await pubsub.aclose()
            finally:
                await client.aclose()


# The process's notices for a deployment: Redis when configured, else in process.
notices_for: PerDeployment[CallNotices] = PerDeployment(RedisNotices, LocalNotices)


def call_store(runtime: Runtime) -> CallStore:
    """The call store every phone component uses: writes publish change notices."""
    return CallStore(runtime.engine, notices_for(runtime))
