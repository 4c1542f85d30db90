"""``/v1/phone/rtp/sessions``: allocate and release RTP relay sessions (secret key,
``payments:write``).

A session is a pair of UDP ports on this node: the caller's media goes to ``caller_port``,
the agent's to ``agent_port``; the masked caller audio is sent to the agent address given
here, which must be a host the ``rtp_agent_hosts`` setting allows (400
``agent_host_not_allowed`` otherwise: the relay is not a way to send traffic anywhere).
The relay runs in the server's event loop; sessions idle for ``idle_timeout_s`` are swept.
Digits keyed during a call feed that call's agent capture.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cardshield.errors import InvalidRequestError
from cardshield.phone.agent.service import keypad
from cardshield.phone.calls import CallStore
from cardshield.phone.transports.relay import RtpRelay, agent_host_allowed
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.web.deps import RuntimeDep, SecretKey
from cardshield.web.routers._schemas import ERRORS

router = APIRouter(prefix="/v1/phone/rtp", tags=["phone"], responses=ERRORS)
IDLE_TIMEOUT_S = 30.0
Key = Annotated[ApiKeyInfo, SecretKey("payments:write")]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_sid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    agent_host: str = Field(default="127.0.0.1", max_length=255)
    agent_port: int = Field(ge=1, le=65535)
    event_payload_type: int = Field(default=101, ge=96, le=127)


class SessionNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No relay session for this call."


class AgentHostNotAllowed(InvalidRequestError):
    code = "agent_host_not_allowed"
    default_message = "agent_host is not one of the hosts the rtp_agent_hosts setting allows."


async def _sweep(relay: RtpRelay) -> None:
    while True:
        await asyncio.sleep(min(5.0, relay.idle_s))
        relay.sweep()


def _relay(request: Request, runtime: RuntimeDep) -> RtpRelay:
    relay: RtpRelay | None = getattr(request.app.state, "phone_relay", None)
    if relay is None:
        clock = getattr(request.app.state, "clock", None)
        relay = RtpRelay(
            keypad(runtime, clock or (lambda: datetime.now(UTC))), idle_s=IDLE_TIMEOUT_S
        )
        request.app.state.phone_relay = relay
        request.app.state.phone_relay_sweeper = asyncio.get_running_loop().create_task(
            _sweep(relay)
        )
    return relay


@router.post("/sessions", summary="Allocate an RTP relay session for a call")
async def allocate(
    body: SessionIn, request: Request, runtime: RuntimeDep, key: Key
) -> dict[str, Any]:
    if not agent_host_allowed(body.agent_host, runtime.settings.rtp_agent_hosts):
        raise AgentHostNotAllowed(param="agent_host")
    call = CallStore(runtime.engine).find(body.call_sid)
    if call is not None and call.merchant_id != key.merchant_id:
        raise SessionNotFound(param="call_sid")
    relay = _relay(request, runtime)
    session = await relay.allocate(
        body.call_sid,
        agent_addr=(body.agent_host, body.agent_port),
        event_pt=body.event_payload_type,
    )
    session.owner = key.merchant_id
    return {
        "object": "rtp_session",
        "call_sid": body.call_sid,
        "host": relay.host,
        "caller_port": session.caller_port,
        "agent_port": session.agent_port,
        "idle_timeout_s": relay.idle_s,
    }


@router.delete("/sessions/{call_sid}", summary="Release a call's RTP relay session")
async def release(call_sid: str, request: Request, key: Key) -> dict[str, Any]:
    relay: RtpRelay | None = getattr(request.app.state, "phone_relay", None)
    session = relay.sessions.get(call_sid) if relay is not None else None
    if relay is None or session is None or session.owner != key.merchant_id:
        raise SessionNotFound(param="call_sid")
    relay.release(call_sid)
    return {"object": "rtp_session", "call_sid": call_sid, "released": True}
