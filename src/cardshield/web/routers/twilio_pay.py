"""``POST /v1/phone/twilio/pay-connector``: the endpoint of Twilio's Generic Pay Connector.

Twilio's <Pay> verb (self-service) and the Payments API (Agent Assist Pay) collect the card
on the call and POST it as JSON to the one URL configured for the connector, with the
connector's HTTP Basic username and password
(https://www.twilio.com/docs/voice/twiml/pay/generic-pay-connector). The Generic Pay
Connector posts both ``charge`` and ``tokenize`` requests to that URL itself (no ``/charge``
or ``/tokenize`` suffix, which older connectors used), so this one path is the whole
interface: enter it in the console as ``https://<cardshield>/v1/phone/twilio/pay-connector``.

Statuses (see :mod:`cardshield.phone.pay_connector.answers` for the bodies):

* 200: an answer Twilio acts on: a token, a payment id, or a processed failure (declined,
  incorrect number, expired card, ACH) with ``error_code``/``error_message``, which <Pay>
  reports to the action URL (and can ask the caller again for);
* 400: not JSON, a missing or malformed field, an unknown currency;
* 401 with ``WWW-Authenticate: Basic``: missing, wrong or revoked credentials;
* 409: the ``transaction_id`` is in use by a request still running, or was used with a
  different request; 429: rate limited (``Retry-After``); 503: the processor has not
  answered (the retry resumes the payment, it does not charge twice).

Every body that is not a 200 carries both Twilio's fields and the project's error object.
Nothing in a response, a log line or an error message holds the card number or the code.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cardshield.errors import CardshieldError
from cardshield.phone.pay_connector import PayConnectorService, limits
from cardshield.phone.pay_connector.answers import refused
from cardshield.phone.pay_connector.credentials import (
    CredentialInfo,
    PayConnectorAuthFailed,
    authenticate,
    known_merchant,
    parse_basic,
)
from cardshield.phone.pay_connector.request import PayRequestNotJson
from cardshield.security import events
from cardshield.security.audit import append as audit
from cardshield.security.errors import RateLimited
from cardshield.security.permissions import Access, declare
from cardshield.security.ratelimit import RateLimiter
from cardshield.web.deps import get_now, get_runtime
from cardshield.web.ratelimit import app_limiter

# Open to anyone, authenticated by the connector's HTTP Basic credentials instead of an API
# key or a session.
PAY_CONNECTOR_BASIC = Access("public", "pay_connector_basic")
MAX_BODY = 16 * 1024  # a request is a few hundred bytes; more is not Twilio
AUTH_FAILED_EVENT = "pay_connector_auth_failed"
ACTOR_UNAUTHENTICATED = "twilio_pay_connector"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="cardshield pay connector", charset="UTF-8"'}

# Twilio's side of the call, not part of the merchant API: kept out of the API description.
router = APIRouter(tags=["phone"], include_in_schema=False)


def _limiter(request: Request) -> RateLimiter:
    return app_limiter(request.app, slot="pay_connector_limiter", rules=limits.rules)


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def _failed(request: Request, username: str | None) -> CardshieldError:
    """Count, audit and log one failed credential check; the error to answer with."""
    limiter, ip = _limiter(request), _address(request)
    runtime, now = get_runtime(request), get_now(request)
    try:
        limiter.hit(limits.FAILURES_PER_IP, ip)
        if username is not None:
            limiter.hit(limits.FAILURES_PER_USER, username)
    except RateLimited as exc:
        return exc
    with runtime.engine.begin() as conn:
        # Only a username that exists is recorded: anything else is text from the internet.
        merchant = known_merchant(conn, username) if username is not None else None
        audit(
            conn,
            now=now,
            actor=ACTOR_UNAUTHENTICATED,
            action="pay_connector_credential.auth_failed",
            outcome="failure",
            merchant_id=merchant,
            target=username if merchant is not None else None,
            details={"ip": ip},
        )
    events.emit(AUTH_FAILED_EVENT, ip=ip, known_username=merchant is not None)
    return PayConnectorAuthFailed()


def _credential(request: Request) -> CredentialInfo | CardshieldError:
    """The caller's credential, or the error to answer with (the route shapes the body)."""
    presented = parse_basic(request.headers.get("authorization"))
    limiter = _limiter(request)
    try:
        limiter.hit(limits.ATTEMPTS_PER_IP, _address(request))
        if presented is not None:
            limiter.hit(limits.ATTEMPTS_PER_USER, presented[0])
    except RateLimited as exc:
        return exc
    if presented is None:
        return _failed(request, None)
    username, password = presented
    runtime = get_runtime(request)
    try:
        with runtime.engine.begin() as conn:
            return authenticate(conn, username, password, now=get_now(request))
    except PayConnectorAuthFailed:
        return _failed(request, username)


declare(_credential, PAY_CONNECTOR_BASIC)
Credential = Annotated[CredentialInfo | CardshieldError, Depends(_credential)]


def _error(method: Any, exc: CardshieldError) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, PayConnectorAuthFailed):
        headers |= _CHALLENGE
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(refused(method, exc), status_code=exc.http_status, headers=headers)


@router.post("/v1/phone/twilio/pay-connector", summary="Twilio Generic Pay Connector endpoint")
async def pay_connector(request: Request, credential: Credential) -> JSONResponse:
    if isinstance(credential, CardshieldError):
        return _error(None, credential)
    raw = await request.body()
    try:
        if len(raw) > MAX_BODY:
            raise ValueError("too large")
        body: object = json.loads(raw)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _error(None, PayRequestNotJson())
    runtime, now = get_runtime(request), get_now(request)
    service = PayConnectorService(runtime.vault, runtime.payments)
    answer = await run_in_threadpool(service.handle, credential.merchant_id, body, now=now)
    headers = {"Cache-Control": "no-store"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
