"""``/v1/webhook_endpoints``: where cardshield sends signed events (secret shown once)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from cardshield.payments.webhooks.endpoints import (
    WebhookEndpoint,
    create_endpoint,
    disable_endpoint,
    get_endpoint,
    list_endpoints,
)
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.web.deps import NowDep, RuntimeDep, SecretKey
from cardshield.web.routers._common import Body, list_out
from cardshield.web.routers._schemas import ERRORS, WebhookEndpointList, WebhookEndpointOut, ok

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhook_endpoints"], responses=ERRORS)
Manage = Annotated[ApiKeyInfo, SecretKey("webhooks:manage")]


class EndpointCreate(Body):
    url: str = Field(max_length=2000, description="HTTPS URL of your receiver.")
    enabled_events: list[str] = Field(default_factory=lambda: ["*"], max_length=100)


def endpoint_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "enabled_events": list(endpoint.enabled_events),
        "status": "enabled" if endpoint.disabled_at is None else "disabled",
        "created": int(endpoint.created_at.timestamp()),
    }


@router.post(
    "",
    response_model=None,
    responses=ok(WebhookEndpointOut),
    summary="Add a webhook endpoint; the signing secret is returned once",
)
def create(body: EndpointCreate, key: Manage, runtime: RuntimeDep, now: NowDep) -> dict[str, Any]:
    with runtime.engine.begin() as conn:
        created = create_endpoint(
            conn,
            merchant_id=key.merchant_id,
            url=body.url,
            enabled_events=body.enabled_events,
            now=now,
            allow_http_loopback=runtime.settings.allow_http_loopback_webhooks,
            actor=f"api_key:{key.id}",
        )
    return {**endpoint_out(created.endpoint), "secret": created.secret.reveal()}


@router.get(
    "", response_model=None, responses=ok(WebhookEndpointList), summary="List webhook endpoints"
)
def list_all(key: Manage, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        items = list_endpoints(conn, merchant_id=key.merchant_id)
    return list_out("/v1/webhook_endpoints", (endpoint_out(e) for e in items), False)


@router.get(
    "/{endpoint_id}",
    response_model=None,
    responses=ok(WebhookEndpointOut),
    summary="Retrieve a webhook endpoint",
)
def retrieve(endpoint_id: str, key: Manage, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        return endpoint_out(get_endpoint(conn, endpoint_id, merchant_id=key.merchant_id))


@router.delete(
    "/{endpoint_id}",
    response_model=None,
    responses=ok(WebhookEndpointOut),
    summary="Disable a webhook endpoint",
)
def disable(endpoint_id: str, key: Manage, runtime: RuntimeDep, now: NowDep) -> dict[str, Any]:
    with runtime.engine.begin() as conn:
        disable_endpoint(
            conn, endpoint_id, now=now, merchant_id=key.merchant_id, actor=f"api_key:{key.id}"
        )
        return endpoint_out(get_endpoint(conn, endpoint_id, merchant_id=key.merchant_id))
