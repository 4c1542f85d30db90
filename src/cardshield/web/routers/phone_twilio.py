"""Twilio voice webhooks: for the secure IVR, ``/phone/twilio/voice`` answers a call and
``/phone/twilio/ivr/{step}`` receives each Gather's digits; for agent-assisted capture,
``/phone/twilio/connect`` connects the caller's call or the agent's call to the media socket
as one leg of a bridge (see :mod:`cardshield.phone.transports.bridge`).

These routes are open to the internet but authenticated by ``X-Twilio-Signature`` (checked
in constant time over the URL Twilio called and the form parameters, before anything is
read from them); any other caller gets 403. The TwiML they return never contains a digit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cardshield.errors import CardshieldError, InvalidRequestError
from cardshield.phone.ivr.flow import STEPS
from cardshield.phone.ivr.service import ivr_flow
from cardshield.phone.ivr.twiml import render
from cardshield.phone.transports import stream_auth
from cardshield.phone.transports.bridge import BRIDGE_ID, BadBridge, connect_twiml, leg_of
from cardshield.phone.twilio_signature import signature_valid
from cardshield.runtime import Runtime
from cardshield.security.permissions import Access, declare
from cardshield.web.deps import NowDep, RuntimeDep, get_runtime
from cardshield.web.routers._schemas import ERRORS

# Open to anyone, authenticated by Twilio's request signature instead of a key or session.
TWILIO_SIGNED = Access("public", "twilio_signature")


class TwilioSignatureInvalid(CardshieldError):
    type = "invalid_request_error"
    code = "twilio_signature_invalid"
    http_status = 403
    default_message = "The X-Twilio-Signature header is missing or does not match."


class UnknownStep(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such IVR step."


def signed_url(runtime: Runtime, request: Request) -> str:
    """The URL Twilio signed: the configured public URL when behind a proxy."""
    if runtime.settings.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{runtime.settings.effective_public_url}{request.url.path}{query}"
    return str(request.url)


async def _twilio_form(request: Request) -> dict[str, str]:
    runtime = get_runtime(request)
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    signature = request.headers.get("x-twilio-signature")
    if not signature_valid(
        runtime.settings.twilio_auth_token.get_secret_value(),
        signed_url(runtime, request),
        params,
        signature,
    ):
        raise TwilioSignatureInvalid
    return params


TwilioForm = Annotated[dict[str, str], Depends(declare(_twilio_form, TWILIO_SIGNED))]
# Twilio's side of the call, not part of the merchant API: kept out of the API description.
router = APIRouter(
    prefix="/phone/twilio", tags=["phone"], responses=ERRORS, include_in_schema=False
)


def _twiml(xml: str) -> Response:
    return Response(xml, media_type="application/xml", headers={"Cache-Control": "no-store"})


def _action_base(request: Request) -> str:
    return str(request.url_for("ivr_step", step="x")).rsplit("/", 1)[0]


def _call_sid(params: Mapping[str, Any]) -> str:
    sid = str(params.get("CallSid", ""))
    if not sid or len(sid) > 64:
        raise InvalidRequestError("CallSid is missing.", param="CallSid")
    return sid


@router.post("/voice", summary="Answer a call: greeting and amount confirmation")
def voice(form: TwilioForm, request: Request, runtime: RuntimeDep, now: NowDep) -> Response:
    settings = runtime.settings
    flow = ivr_flow(runtime)
    amount_text = request.query_params.get("amount")
    amount = int(amount_text) if amount_text and amount_text.isdigit() else settings.phone_amount
    currency = (request.query_params.get("currency") or settings.phone_currency).upper()[:3]
    if amount <= 0:
        raise InvalidRequestError("No amount to collect.", param="amount")
    prompt = flow.start(
        _call_sid(form),
        merchant_id=settings.phone_merchant_id,
        amount=amount,
        currency=currency,
        now=now,
    )
    return _twiml(render(prompt, _action_base(request)))


@router.post("/ivr/{step}", name="ivr_step", summary="Receive the digits of one IVR step")
def ivr_step(
    step: str, form: TwilioForm, request: Request, runtime: RuntimeDep, now: NowDep
) -> Response:
    if step not in STEPS:
        raise UnknownStep(param="step")
    digits = form.get("Digits", "")
    if len(digits) > 32 or any(c not in "0123456789*#" for c in digits):
        digits = "x"  # refused by every field check; never echoed
    prompt = ivr_flow(runtime).handle(_call_sid(form), step, digits, now)
    return _twiml(render(prompt, _action_base(request)))


@router.post(
    "/connect", name="bridge_connect", summary="Connect a call to the media socket as one leg"
)
def connect(
    form: TwilioForm,
    request: Request,
    runtime: RuntimeDep,
    now: NowDep,
    leg: str = "caller",
    bridge: str | None = None,
) -> Response:
    """The caller's call (``leg=caller``, bridged under its own CallSid) or the agent's call
    (``leg=agent&bridge=<the caller's CallSid>``), connected to ``/phone/twilio/media``; the
    stream's ``auth`` parameter binds it to this call, bridge and leg for a few minutes."""
    if leg == "agent" and not bridge:
        raise InvalidRequestError(
            "The agent's leg needs bridge=<the caller's CallSid>.", param="bridge"
        )
    call_sid = _call_sid(form)
    try:
        joined = leg_of({"leg": leg, "bridge": bridge or call_sid})
        if joined is None or not BRIDGE_ID.fullmatch(call_sid):
            raise BadBridge("CallSid must be 1 to 64 letters, digits, '-' or '_'", "CallSid")
    except BadBridge as exc:
        raise InvalidRequestError(f"{exc}.", param=exc.param) from None
    auth = stream_auth.issue(runtime.kms, call_sid=call_sid, leg=joined, now=now)
    return _twiml(connect_twiml(media_url(runtime, request), joined, auth))


def media_url(runtime: Runtime, request: Request) -> str:
    """The media socket's ``wss://`` URL (``ws://`` for a plain-HTTP deployment)."""
    base = runtime.settings.effective_public_url if runtime.settings.public_url else None
    http = f"{base}/phone/twilio/media" if base else str(request.url_for("media_stream"))
    scheme, _, rest = http.partition("://")
    return f"{'wss' if scheme in ('https', 'wss') else 'ws'}://{rest}"
