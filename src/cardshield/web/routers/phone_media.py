"""``/phone/twilio/media``: Twilio Media Streams WebSocket (``<Connect><Stream>``).

The upgrade request must carry a valid ``X-Twilio-Signature`` for the ``wss://`` URL (no
parameters); otherwise the socket is refused before it is accepted. Messages are handled by
:class:`cardshield.phone.transports.media_streams.MediaStreamSession` in a worker thread
(the keypad writes to the database).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketException, status
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from cardshield.phone.agent.service import keypad
from cardshield.phone.transports.media_streams import MediaStreamSession
from cardshield.phone.twilio_signature import signature_valid
from cardshield.runtime import Runtime
from cardshield.security.permissions import declare
from cardshield.web.routers.phone_twilio import TWILIO_SIGNED

router = APIRouter(prefix="/phone/twilio", tags=["phone"])
MAX_MESSAGE = 64 * 1024


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


@router.websocket("/media")
async def media_stream(websocket: WebSocket, runtime: TwilioSocket) -> None:
    await websocket.accept()
    session = MediaStreamSession(keypad(runtime, _clock(websocket)))
    try:
        while not session.stopped:
            text = await websocket.receive_text()
            if len(text) > MAX_MESSAGE:
                continue
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            for reply in await run_in_threadpool(session.handle, message):
                await websocket.send_text(json.dumps(reply))
    except WebSocketDisconnect:
        return
    await websocket.close()
