"""``/v1/gateways/{connector}/webhooks``: processors' own webhooks, verified by signature
over the raw body before anything is parsed, then applied to the payments they concern."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from cardshield.errors import InvalidRequestError
from cardshield.web.deps import NowDep, Public, RuntimeDep
from cardshield.web.routers._schemas import ERRORS

router = APIRouter(
    prefix="/v1/gateways", tags=["gateway webhooks"], dependencies=[Public], responses=ERRORS
)


class UnknownConnector(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "This connector is not configured here."


@router.post("/{connector}/webhooks", summary="Receive a processor's webhook")
async def receive(connector: str, request: Request, runtime: RuntimeDep, now: NowDep) -> Response:
    if connector != runtime.settings.connector:
        raise UnknownConnector(param="connector")
    body = await request.body()
    gateway, _ = runtime.payments.connector_for("")
    events = gateway.parse_webhook(dict(request.headers), body, str(request.url))
    for event in events:
        runtime.payments.handle_gateway_event(event, now=now)
    if connector == "adyen":
        return PlainTextResponse("[accepted]")  # Adyen retries until it reads exactly this
    return JSONResponse({"received": len(events)})
