"""Webhook endpoints and their delivery log (developers and admins): add an endpoint (its
signing secret is shown once), roll its secret, disable it, replay a delivery.

Adding, rolling and disabling need a fresh confirmation; replaying does not (it re-sends
what the merchant was already sent). Each writes an audit entry naming the operator.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from sqlalchemy import Connection, select
from starlette.responses import RedirectResponse, Response

from cardshield.errors import CardshieldError
from cardshield.payments.webhooks import (
    create_endpoint,
    disable_endpoint,
    list_endpoints,
    replay,
    roll_secret,
)
from cardshield.security.permissions import Permission
from cardshield.storage.schema import events, webhook_deliveries, webhook_endpoints
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.pages.merchants import pick_merchant, visible_merchants
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
Developer = Annotated[Principal, Require(Permission.WEBHOOKS_MANAGE)]
FreshDeveloper = Annotated[Principal, Require(Permission.WEBHOOKS_MANAGE, fresh=True)]
Field = Annotated[str, Form(max_length=2000)]
LOG_SIZE = 50
STATUSES = ("pending", "delivered", "failed")


def _deliveries(conn: Connection, merchant_id: str, status: str | None) -> list[Any]:
    d = webhook_deliveries
    query = (
        select(
            d.c.id,
            d.c.status,
            d.c.attempts,
            d.c.last_status_code,
            d.c.last_error,
            d.c.created_at,
            d.c.delivered_at,
            d.c.next_attempt_at,
            d.c.object_id,
            events.c.id.label("event_id"),
            events.c.type.label("event_type"),
            webhook_endpoints.c.url,
        )
        .join(events, events.c.id == d.c.event_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == d.c.endpoint_id)
        .where(d.c.merchant_id == merchant_id)
        .order_by(d.c.id.desc())
        .limit(LOG_SIZE)
    )
    if status in STATUSES:
        query = query.where(d.c.status == status)
    return list(conn.execute(query))


def _page(
    request: Request, principal: Principal, merchant: str | None, *, error: str | None = None
) -> Response:
    status = request.query_params.get("status")
    with services(request).engine.connect() as conn:
        mid = pick_merchant(conn, principal, merchant)
        context: dict[str, Any] = {
            "merchants": visible_merchants(conn, principal),
            "merchant": mid,
            "endpoints": list_endpoints(conn, merchant_id=mid) if mid else [],
            "deliveries": _deliveries(conn, mid, status) if mid else [],
            "status": status or "",
            "statuses": STATUSES,
            "error": error,
            "message": request.query_params.get("done"),
        }
    return render(request, "webhooks.html", context, status=400 if error else 200)


@router.get("/webhooks")
def webhooks(request: Request, principal: Developer) -> Response:
    return _page(request, principal, request.query_params.get("merchant"))


@router.post("/webhooks")
def add_endpoint(
    request: Request,
    principal: FreshDeveloper,
    merchant: Field,
    url: Field,
    enabled_events: Field = "*",
) -> Response:
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            mid = pick_merchant(conn, principal, merchant) or ""
            created = create_endpoint(
                conn,
                merchant_id=mid,
                url=url.strip(),
                enabled_events=enabled_events.split() or ["*"],
                now=principal.now,
                actor=principal.actor,
            )
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    return render(
        request,
        "webhook_secret.html",
        {
            "endpoint": created.endpoint,
            "secret": created.secret.reveal(),
            "merchant": mid,
            "rolled": False,
        },
    )


@router.post("/webhooks/{endpoint_id}/roll")
def roll(
    request: Request, principal: FreshDeveloper, endpoint_id: str, merchant: Field
) -> Response:
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            mid = pick_merchant(conn, principal, merchant) or ""
            secret = roll_secret(
                conn, endpoint_id, now=principal.now, merchant_id=mid, actor=principal.actor
            )
            endpoint = next(e for e in list_endpoints(conn, merchant_id=mid) if e.id == endpoint_id)
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    return render(
        request,
        "webhook_secret.html",
        {"endpoint": endpoint, "secret": secret.reveal(), "merchant": mid, "rolled": True},
    )


@router.post("/webhooks/{endpoint_id}/disable")
def disable(
    request: Request, principal: FreshDeveloper, endpoint_id: str, merchant: Field
) -> Response:
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            mid = pick_merchant(conn, principal, merchant) or ""
            disable_endpoint(
                conn, endpoint_id, now=principal.now, merchant_id=mid, actor=principal.actor
            )
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    return RedirectResponse(f"/console/webhooks?merchant={mid}&done=Disabled", status_code=303)


@router.post("/webhooks/deliveries/{delivery_id}/replay")
def replay_delivery(
    request: Request, principal: Developer, delivery_id: int, merchant: Field
) -> Response:
    svc = services(request)
    try:
        with svc.engine.connect() as conn:
            mid = pick_merchant(conn, principal, merchant) or ""
        queued = replay(
            svc.engine,
            now=principal.now,
            delivery_id=delivery_id,
            merchant_id=mid,
            actor=principal.actor,
        )
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    done = "Queued+again" if queued else "Already+being+sent"
    return RedirectResponse(f"/console/webhooks?merchant={mid}&done={done}", status_code=303)
