"""Two Media Streams, one conversation: cardshield carries the audio between the caller's
call and the agent's call.

Twilio plays what is sent on a bidirectional stream (``<Connect><Stream>``) to the call that
opened that stream. So the agent hears the caller through the masker only when both calls
open a stream to cardshield and cardshield relays between them: the caller's audio, after
the masker, toward the agent; the agent's audio, unchanged, toward the caller. Each stream
names its side in ``<Parameter>`` elements: ``bridge`` (the caller's CallSid) and ``leg``
(``caller`` or ``agent``), and ``auth``, cardshield's MAC over the call, bridge, leg and an
expiry (:mod:`.stream_auth`): Twilio signs the upgrade's URL only, so without it a replayed
upgrade could name any side of any bridge. A stream without bridge parameters is unpaired,
and its masked audio comes back on its own socket, as before.

The two streams may reach different nodes behind a load balancer: with ``redis_url`` set,
audio goes through Redis pub/sub (``cardshield:bridge:<bridge>:<leg>``), otherwise in
process. Only masked audio enters a hub: the caller's digits were taken out before. Each side
of a bridge is held by one socket at a time; a second stream naming a side already held is
refused, so nothing can listen in beside the agent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from twilio.twiml.voice_response import Connect, VoiceResponse  # type: ignore[import-untyped]

from cardshield.phone.per_deployment import PerDeployment
from cardshield.redaction.logging import get_logger

LEGS = ("caller", "agent")
BRIDGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHANNEL_PREFIX = "cardshield:bridge:"
QUEUE_FRAMES = 250  # 5 s of 20 ms frames: a stalled socket drops audio, never grows memory
MAX_PAYLOAD = 16 * 1024
OWNER_TTL_S = 60  # a crashed node's claim on a side lapses this long after its last renewal
RENEW_S = 20
log = get_logger(__name__)


class BadBridge(ValueError):
    """The stream's bridge parameters are incomplete or malformed."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class LegTaken(Exception):
    """Another socket already holds this side of the bridge."""


@dataclass(frozen=True)
class Leg:
    bridge: str
    side: str

    @property
    def other(self) -> str:
        return "agent" if self.side == "caller" else "caller"


def leg_of(custom: Mapping[str, str]) -> Leg | None:
    """The bridge side a stream's ``customParameters`` name; ``None`` for an unpaired stream."""
    bridge, side = custom.get("bridge"), custom.get("leg")
    if bridge is None and side is None:
        return None
    if side not in LEGS:
        raise BadBridge("leg must be caller or agent", "leg")
    if bridge is None or not BRIDGE_ID.fullmatch(bridge):
        raise BadBridge("bridge must be 1 to 64 letters, digits, '-' or '_'", "bridge")
    return Leg(bridge, side)


def inbound_payload(message: Mapping[str, Any]) -> str | None:
    """The base64 audio of a ``media`` message from the call, checked; ``None`` otherwise."""
    if message.get("event") != "media":
        return None
    media = message.get("media")
    if not isinstance(media, dict) or media.get("track", "inbound") != "inbound":
        return None
    payload = media.get("payload")
    if not isinstance(payload, str) or not 0 < len(payload) <= MAX_PAYLOAD:
        return None
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    return payload


def channel(bridge: str, side: str) -> str:
    return f"{CHANNEL_PREFIX}{bridge}:{side}"


class Port(Protocol):
    async def send(self, payload: str) -> None:
        """Audio (base64 mu-law) toward the other side; dropped while nobody holds it."""
        ...

    async def receive(self) -> str:
        """The next audio sent toward this side (waits for it)."""
        ...


class BridgeHub(Protocol):
    def join(self, leg: Leg) -> AbstractAsyncContextManager[Port]:
        """Hold ``leg`` while inside; raises :class:`LegTaken` when another socket holds it."""
        ...


class _LocalPort:
    def __init__(self, hub: LocalHub, leg: Leg, queue: asyncio.Queue[str]) -> None:
        self._hub, self._leg, self._queue = hub, leg, queue

    async def send(self, payload: str) -> None:
        self._hub.deliver(Leg(self._leg.bridge, self._leg.other), payload)

    async def receive(self) -> str:
        return await self._queue.get()


def _offer(queue: asyncio.Queue[str], payload: str) -> None:
    # A full queue means the receiving socket is stalled: late audio is worse than lost.
    with suppress(asyncio.QueueFull):
        queue.put_nowait(payload)


class LocalHub:
    """One process. Each side's queue belongs to the event loop of the socket holding it;
    the other side's socket may run on another loop, so delivery goes through that loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Leg, tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = {}

    def deliver(self, leg: Leg, payload: str) -> None:
        with self._lock:
            held = self._held.get(leg)
        if held is not None:
            loop, queue = held
            loop.call_soon_threadsafe(_offer, queue, payload)

    def join(self, leg: Leg) -> AbstractAsyncContextManager[Port]:
        return self._join(leg)

    @asynccontextmanager
    async def _join(self, leg: Leg) -> AsyncIterator[Port]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_FRAMES)
        with self._lock:
            if leg in self._held:
                raise LegTaken
            self._held[leg] = (asyncio.get_running_loop(), queue)
        try:
            yield _LocalPort(self, leg, queue)
        finally:
            with self._lock:
                self._held.pop(leg, None)


# Give up a claim only if it is still this socket's (it may have lapsed and been taken).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class _RedisPort:
    def __init__(self, client: aioredis.Redis, pubsub: Any, leg: Leg, owner: str) -> None:
        self._client, self._pubsub, self._leg, self._owner = client, pubsub, leg, owner
        self._renewed = time.monotonic()

    async def send(self, payload: str) -> None:
        await self._client.publish(channel(self._leg.bridge, self._leg.other), payload)

    async def receive(self) -> str:
        while True:
            if time.monotonic() - self._renewed > RENEW_S:
                await self._client.expire(self._owner, OWNER_TTL_S)
                self._renewed = time.monotonic()
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and isinstance(message.get("data"), bytes):
                return str(message["data"].decode("ascii"))


class RedisHub:
    """Several nodes: each side subscribes to its own channel and publishes to the other's.
    A side is claimed with ``SET NX`` on ``<channel>:owner`` and renewed while held."""

    def __init__(self, url: str) -> None:
        self._url = url

    def join(self, leg: Leg) -> AbstractAsyncContextManager[Port]:
        return self._join(leg)

    @asynccontextmanager
    async def _join(self, leg: Leg) -> AsyncIterator[Port]:
        client = aioredis.Redis.from_url(self._url, socket_timeout=5.0)
        owner, token = channel(leg.bridge, leg.side) + ":owner", secrets.token_hex(16)
        try:
            if not await client.set(owner, token, nx=True, ex=OWNER_TTL_S):
                raise LegTaken
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(channel(leg.bridge, leg.side))
                yield _RedisPort(client, pubsub, leg, owner)
            finally:
                # With Redis gone there is nothing to tidy: the subscription went with the
                # connection, and the claim lapses on its own within OWNER_TTL_S.
                with suppress(RedisError, OSError):
                    await pubsub.unsubscribe()
                    await pubsub.aclose()
                with suppress(RedisError, OSError):
                    await client.eval(_RELEASE, 1, owner, token)
        finally:
            await client.aclose()


# The process's bridge hub for a deployment: Redis when configured, else in process.
hub_for: PerDeployment[BridgeHub] = PerDeployment(RedisHub, LocalHub)


def connect_twiml(stream_url: str, leg: Leg, auth: str) -> str:
    """TwiML that connects a call to the media socket as ``leg`` of its bridge; ``auth``
    (:mod:`.stream_auth`) proves to the socket that cardshield placed the call there."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    stream.parameter(name="leg", value=leg.side)
    stream.parameter(name="bridge", value=leg.bridge)
    stream.parameter(name="auth", value=auth)
    response.append(connect)
    return str(response)
