"""The agent screen (agent role: ``phone:capture``): start secure capture for a live call,
watch masked progress, re-request a field, cancel, then charge.

The page is plain server-rendered HTML; ``/console/static/phone.js`` opens
``/console/phone/live/{call_sid}``, a WebSocket authenticated like the pages (the session
cookie, a same-origin ``Origin`` and the session's CSRF token in the query). The socket sends
the masked view of the call whenever its row changes (read from the database, so the media
stream may be served by another node: a change notice, through Redis pub/sub across nodes,
says when to read it) and takes the agent's actions as JSON messages.

The session is checked again before every action (which counts as activity for the idle
timeout) and every few seconds while the agent only watches: a socket outlives neither a
sign-out, an idle timeout, a disabled account, a role change nor a change of the merchant
the account is limited to. It is closed with 1008.

An operator limited to one merchant sees and acts on that merchant's calls only. A socket
may be opened before its call exists (the agent opens the screen, then starts capture):
opening it claims nothing, so the merchant is checked on every read of the row that would
be pushed and on every action; another merchant's call is never pushed, and every action on
it is answered as for a call that does not exist (``call_not_found``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, WebSocket, WebSocketException, status
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from cardshield.crypto import Secret
from cardshield.errors import CardshieldError
from cardshield.phone.agent.control import AgentControl, MerchantScope
from cardshield.phone.agent.service import agent_control
from cardshield.phone.agent.view import masked_view
from cardshield.phone.live import notices_for
from cardshield.runtime import Runtime
from cardshield.security import sessions
from cardshield.security.permissions import Access, Permission, declare, has_permission
from cardshield.security.sessions import Session
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router

router = console_router(tags=["console"])
Agent = Annotated[Principal, Require(Permission.PHONE_CAPTURE)]
# The row is read again when a change notice arrives (phone.live: Redis pub/sub across
# nodes), and at the latest after FALLBACK_S, in case a notice was lost.
FALLBACK_S = 1.0
SESSION_CHECK_S = 5.0  # while the agent only watches; every action is checked at once
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@router.get("/phone")
def phone_page(request: Request, principal: Agent) -> Response:
    call = request.query_params.get("call", "")[:64]
    return render(request, "phone.html", {"call": call})


def _clock(websocket: WebSocket) -> datetime:
    clock = getattr(websocket.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin", "")
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return hmac.compare_digest(origin.encode(), f"{scheme}://{websocket.url.netloc}".encode())


@dataclass(frozen=True)
class AgentSession:
    """The session behind an agent socket, and its cookie value to check it again with."""

    session: Session
    token: Secret[str]

    def still_allowed(self, websocket: WebSocket, *, touch: bool) -> bool:
        """Whether the session is still live and may capture; ``touch``: agent activity."""
        runtime: Runtime = websocket.app.state.runtime
        with runtime.engine.begin() as conn:
            live = sessions.load(conn, self.token.reveal(), now=_clock(websocket), touch=touch)
        # The merchants this socket acts for were fixed when it opened.
        return (
            _may_capture(live)
            and live is not None
            and live.operator.merchant_id == self.session.operator.merchant_id
        )

    @property
    def scope(self) -> MerchantScope:
        return MerchantScope(self.session.operator.merchant_id)


def _may_capture(session: Session | None) -> bool:
    return (
        session is not None
        and session.active
        and has_permission(session.operator.role, Permission.PHONE_CAPTURE)
    )


def _agent_socket(websocket: WebSocket) -> AgentSession:
    """A live console session of an operator allowed ``phone:capture`` (else 1008)."""
    runtime: Runtime = websocket.app.state.runtime
    secure = not (websocket.url.scheme == "ws" and (websocket.url.hostname or "") in _LOOPBACK)
    token = websocket.cookies.get("__Host-cardshield_session" if secure else "cardshield_session")
    with runtime.engine.begin() as conn:
        session = sessions.load(conn, token, now=_clock(websocket))
    csrf = websocket.query_params.get("csrf", "")
    if (
        session is None
        or token is None
        or not _may_capture(session)
        or not _same_origin(websocket)
        or not hmac.compare_digest(csrf.encode(), session.csrf_token.encode())
    ):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "not allowed")
    return AgentSession(session, Secret(token))


AgentSocket = Annotated[
    AgentSession,
    Depends(declare(_agent_socket, Access("permission", Permission.PHONE_CAPTURE.value))),
]


def _act(
    control: AgentControl,
    runtime: Runtime,
    agent: AgentSession,
    call: str,
    msg: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    session, scope = agent.session, agent.scope
    actor = f"operator:{session.operator.id}"
    action = msg.get("action")
    merchant = session.operator.merchant_id or runtime.settings.phone_merchant_id
    try:
        if action == "start":
            control.start(call, merchant, scope=scope, now=now, actor=actor)
        elif action == "rerequest":
            field = str(msg.get("field", ""))
            control.rerequest(call, field, scope=scope, now=now, actor=actor)
        elif action == "cancel":
            control.cancel(call, scope=scope, now=now, actor=actor)
        elif action == "charge":
            amount = msg.get("amount")
            if not isinstance(amount, int):
                return {"type": "error", "code": "invalid_amount"}
            currency = str(msg.get("currency", ""))
            control.charge(
                call, scope=scope, amount=amount, currency=currency, now=now, actor=actor
            )
        else:
            return {"type": "error", "code": "unknown_action"}
    except CardshieldError as exc:
        return {"type": "error", "code": exc.code}
    return None


async def _session_ended(websocket: WebSocket) -> None:
    await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="session ended")


@router.websocket("/phone/live/{call_sid}")
async def live(websocket: WebSocket, call_sid: str, agent: AgentSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    call = call_sid[:64]
    control = agent_control(runtime)
    found = await run_in_threadpool(control.store.find, call)
    if found is not None and not agent.scope.covers(found.merchant_id):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "not allowed")
    await websocket.accept()

    async def push() -> None:
        version = -1
        loop = asyncio.get_running_loop()
        checked = loop.time()
        # Subscribed before the first read, so no change between the two is missed.
        async with notices_for(runtime).listen(call) as changes:
            while True:
                if loop.time() - checked >= SESSION_CHECK_S:
                    checked = loop.time()
                    if not await run_in_threadpool(agent.still_allowed, websocket, touch=False):
                        await _session_ended(websocket)
                        return
                # Checked on every read: the call may have come in for another merchant
                # after this socket opened.
                state = await run_in_threadpool(control.find, call, agent.scope)
                if state is not None and state.version != version:
                    version = state.version
                    await websocket.send_text(json.dumps(masked_view(state)))
                await changes.wait(FALLBACK_S)

    pusher = asyncio.create_task(push())
    try:
        while True:
            text = await websocket.receive_text()
            try:
                msg = json.loads(text[:4096])
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if not await run_in_threadpool(agent.still_allowed, websocket, touch=True):
                await _session_ended(websocket)
                break
            now = _clock(websocket)
            reply = await run_in_threadpool(_act, control, runtime, agent, call, msg, now)
            if reply is not None:
                await websocket.send_text(json.dumps(reply))
    except WebSocketDisconnect:
        pass
    finally:
        pusher.cancel()
