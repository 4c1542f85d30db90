"""``/phone/twilio/media``: Twilio Media Streams WebSocket (``<Connect><Stream>``).

The upgrade request must carry a valid ``X-Twilio-Signature`` for the ``wss://`` URL (no
parameters); otherwise the socket is refused before it is accepted. Messages are handled by
:class:`cardshield.phone.transports.media_streams.MediaStreamSession` in a worker thread
(the keypad writes to the database).

A stream that names a bridge leg (see :mod:`cardshield.phone.transports.bridge`) sends its
masked audio to the other leg instead of back on itself: the caller's call and the agent's
call each hold one stream, and each hears the other. Since the upgrade's signature covers
its URL only, such a stream's ``start`` must also carry the ``auth`` parameter that
``/phone/twilio/connect`` gave its call for that side (:mod:`.stream_auth`); without it, or
with one for another call, bridge or leg, or an expired one, the socket is closed (1008)
before anything is relayed or captured.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketException, status
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from cardshield.crypto.errors import KMSError
from cardshield.phone.agent.service import keypad
from cardshield.phone.transports import stream_auth
from cardshield.phone.transports.bridge import (
    BadBridge,
    Leg,
    LegTaken,
    Port,
    hub_for,
    inbound_payload,
    leg_of,
)
from cardshield.phone.transports.media_streams import MediaStreamSession, mark_reply
from cardshield.phone.twilio_signature import signature_valid
from cardshield.redaction.logging import get_logger
from cardshield.runtime import Runtime
from cardshield.security.permissions import declare
from cardshield.web.routers.phone_twilio import TWILIO_SIGNED

router = APIRouter(prefix="/phone/twilio", tags=["phone"])
MAX_MESSAGE = 64 * 1024
log = get_logger(__name__)


def _runtime(websocket: WebSocket) -> Runtime:
    runtime: Runtime = websocket.app.state.runtime
    return runtime


def socket_url(runtime: Runtime, websocket: WebSocket) -> str:
    """The ``wss://`` URL Twilio signed (the public URL's host when behind a proxy)."""
    if not runtime.settings.public_url:
        return str(websocket.url)
    scheme, _, rest = runtime.settings.effective_public_url.partition("://")
    query = f"?{websocket.url.query}" if websocket.url.query else ""
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{websocket.url.path}{query}"


def _twilio_socket(websocket: WebSocket) -> Runtime:
    runtime = _runtime(websocket)
    signature = websocket.headers.get("x-twilio-signature")
    url = socket_url(runtime, websocket)
    if not signature_valid(
        runtime.settings.twilio_auth_token.get_secret_value(), url, {}, signature
    ):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "signature")
    return runtime


TwilioSocket = Annotated[Runtime, Depends(declare(_twilio_socket, TWILIO_SIGNED))]


def _clock(websocket: WebSocket) -> Any:
    clock = getattr(websocket.app.state, "clock", None)
    return clock or (lambda: datetime.now(UTC))


Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class _Joined:
    """This stream's side of a bridge, held until the stream ends."""

    leg: Leg
    port: Port
    stream_sid: str


@router.websocket("/media")
async def media_stream(websocket: WebSocket, runtime: TwilioSocket) -> None:
    await websocket.accept()
    session = MediaStreamSession(keypad(runtime, _clock(websocket)))
    sending = asyncio.Lock()  # the relay task and this loop share the socket

    async def send(message: dict[str, Any]) -> None:
        async with sending:
            await websocket.send_text(json.dumps(message))

    try:
        async with AsyncExitStack() as stack:
            joined: _Joined | None = None
            while not session.stopped:
                message = await _receive(websocket)
                if message is None:
                    continue
                if message.get("event") == "start" and joined is None:
                    joined = await _join_bridge(runtime, message, stack, send, _clock(websocket))
                if joined is not None and joined.leg.side == "agent":
                    if await _agent_message(message, joined, send):
                        break
                    continue
                for reply in await run_in_threadpool(session.handle, message):
                    if joined is not None and reply["event"] == "media":
                        await joined.port.send(reply["media"]["payload"])  # masked, to the agent
                    else:
                        await send(reply)
    except WebSocketDisconnect:
        return
    except (BadBridge, LegTaken) as exc:
        reason = "leg taken" if isinstance(exc, LegTaken) else str(exc)
        log.warning("phone.bridge.refused", reason=reason)
        await websocket.close(status.WS_1008_POLICY_VIOLATION, reason)
        return
    except stream_auth.StreamAuthRefused as exc:  # logged where the start message was read
        await websocket.close(status.WS_1008_POLICY_VIOLATION, f"auth {exc.reason}")
        return
    except KMSError as exc:  # the signing key's provider is down: nothing can be checked
        log.error("phone.stream.auth_unavailable", error=type(exc).__name__)
        await websocket.close(status.WS_1011_INTERNAL_ERROR, "auth unavailable")
        return
    except RedisError as exc:  # several nodes, and the hub between them is down
        log.error("phone.bridge.unavailable", error=type(exc).__name__)
        await websocket.close(status.WS_1011_INTERNAL_ERROR, "bridge unavailable")
        return
    await websocket.close()


async def _receive(websocket: WebSocket) -> dict[str, Any] | None:
    """The next message from Twilio; ``None`` for one too large or not a JSON object."""
    text = await websocket.receive_text()
    if len(text) > MAX_MESSAGE:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


async def _agent_message(message: dict[str, Any], joined: _Joined, send: Send) -> bool:
    """One message on the agent's stream; True once the stream has stopped. The agent's own
    voice goes to the caller as it is (nothing to mask, nothing to capture); marks are
    acknowledged like on any stream; the agent's keypad is not listened to."""
    event = message.get("event")
    payload = inbound_payload(message)
    if payload is not None:
        await joined.port.send(payload)
    elif event == "mark":
        await send(mark_reply(message, joined.stream_sid))
    return event == "stop"


async def _join_bridge(
    runtime: Runtime,
    start: dict[str, Any],
    stack: AsyncExitStack,
    send: Send,
    clock: Callable[[], datetime],
) -> _Joined | None:
    """Join the bridge the ``start`` message names, if any, once its ``auth`` is checked,
    and relay the other side's audio onto this socket until the stream ends."""
    found = start.get("start")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    found = details.get("customParameters")
    custom = {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
    leg = leg_of(custom)
    if leg is None:
        return None
    call_sid = str(details.get("callSid") or "")
    try:
        await run_in_threadpool(  # the provider may be an HSM or a cloud KMS: not on the loop
            stream_auth.check,
            runtime.kms,
            custom.get(stream_auth.PARAM),
            call_sid=call_sid,
            leg=leg,
            now=clock(),
        )
    except stream_auth.StreamAuthRefused as exc:
        log.warning(
            "phone.stream.auth_refused",
            reason=exc.reason,
            call_sid=call_sid[:64],
            bridge=leg.bridge,
            leg=leg.side,
        )
        raise
    joined = _Joined(
        leg=leg,
        port=await stack.enter_async_context(hub_for(runtime).join(leg)),
        stream_sid=str(start.get("streamSid") or details.get("streamSid") or ""),
    )
    log.info("phone.bridge.joined", bridge=leg.bridge, leg=leg.side)
    task = asyncio.create_task(_relay(joined, send))

    async def stop() -> None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        log.info("phone.bridge.left", bridge=leg.bridge, leg=leg.side)

    stack.push_async_callback(stop)
    return joined


async def _relay(joined: _Joined, send: Send) -> None:
    """The other side's audio onto this stream, as Twilio expects outbound media."""
    try:
        while True:
            payload = await joined.port.receive()
            media = {"payload": payload}
            await send({"event": "media", "streamSid": joined.stream_sid, "media": media})
    except (WebSocketDisconnect, RuntimeError, OSError, RedisError) as exc:
        # The socket or Redis went away: the stream's own loop ends this side.
        log.warning("phone.bridge.relay_ended", error=type(exc).__name__)
