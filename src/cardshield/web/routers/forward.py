"""``/v1/forward``: send card data to an allow-listed HTTPS endpoint of the merchant's
choice, with ``{{card.number}}`` etc. filled in inside the vault."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from cardshield.gateways.forward import ForwardRequest, forward
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.web.deps import NowDep, RuntimeDep, SecretKey
from cardshield.web.routers._common import Body
from cardshield.web.routers._schemas import ERRORS, ForwardOut, ok

router = APIRouter(prefix="/v1/forward", tags=["forward"], responses=ERRORS)


class OutboundRequest(Body):
    method: str = Field(default="POST", max_length=10)
    url: str = Field(max_length=2000, description="https://<allow-listed host>/...")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = Field(default="", max_length=32_000)


class ForwardCreate(Body):
    token: str = Field(max_length=64)
    request: OutboundRequest


@router.post(
    "",
    response_model=None,
    responses=ok(ForwardOut),
    summary="Forward a request with card data substituted inside the vault",
)
def forward_route(
    body: ForwardCreate,
    key: Annotated[ApiKeyInfo, SecretKey("proxy:forward")],
    runtime: RuntimeDep,
    now: NowDep,
) -> dict[str, Any]:
    r = body.request
    response = forward(
        runtime.vault,
        runtime.engine,
        merchant_id=key.merchant_id,
        token=body.token,
        request=ForwardRequest(method=r.method, url=r.url, headers=r.headers, body=r.body),
        now=now,
        actor=f"api_key:{key.id}",
    )
    return {
        "object": "forward_response",
        "status": response.status,
        "headers": [list(h) for h in response.headers],
        "body": response.body,
    }
