"""API keys (developers and admins): list, create (the secret is shown once), roll, revoke.

Creating, rolling and revoking need a fresh confirmation (password and code within five
minutes); each writes an audit entry naming the operator.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from cardshield.errors import CardshieldError
from cardshield.security.apikeys import (
    PUBLISHABLE_SCOPES,
    SCOPES,
    CreatedKey,
    create_key,
    list_keys,
    revoke,
)
from cardshield.security.errors import ApiKeyNotFound
from cardshield.security.permissions import Permission
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.pages.merchants import pick_merchant, visible_merchants
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
Developer = Annotated[Principal, Require(Permission.API_KEYS_MANAGE)]
FreshDeveloper = Annotated[Principal, Require(Permission.API_KEYS_MANAGE, fresh=True)]
Field = Annotated[str, Form(max_length=2000)]


def _page(
    request: Request, principal: Principal, merchant: str | None, *, error: str | None = None
) -> Response:
    with services(request).engine.connect() as conn:
        mid = pick_merchant(conn, principal, merchant)
        keys = list_keys(conn, merchant_id=mid, include_revoked=True) if mid else []
        known = visible_merchants(conn, principal)
    return render(
        request,
        "api_keys.html",
        {
            "merchants": known,
            "merchant": mid,
            "keys": keys,
            "scopes": sorted(SCOPES),
            "error": error,
            "message": request.query_params.get("done"),
        },
        status=400 if error else 200,
    )


@router.get("/api-keys")
def api_keys(request: Request, principal: Developer) -> Response:
    return _page(request, principal, request.query_params.get("merchant"))


@router.post("/api-keys")
def create(
    request: Request,
    principal: FreshDeveloper,
    merchant: Field,
    kind: Field = "secret",
    scopes: Annotated[list[str] | None, Form()] = None,
    origins: Field = "",
    description: Field = "",
) -> Response:
    wanted = list(scopes or [])
    if kind == "publishable" and not wanted:
        wanted = sorted(PUBLISHABLE_SCOPES)
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            mid = pick_merchant(conn, principal, merchant) or ""
            created = create_key(
                conn,
                now=principal.now,
                merchant_id=mid,
                kind="publishable" if kind == "publishable" else "secret",
                scopes=wanted,
                allowed_origins=origins.split(),
                description=description,
                actor=principal.actor,
            )
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    return _created(request, created)


def _created(request: Request, created: CreatedKey) -> Response:
    """The one time the key is shown."""
    return render(
        request,
        "api_key_created.html",
        {"info": created.info, "key": created.key.reveal(), "merchant": created.info.merchant_id},
    )


@router.post("/api-keys/{key_id}/revoke")
def revoke_key(
    request: Request, principal: FreshDeveloper, key_id: str, merchant: Field
) -> Response:
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            mid = pick_merchant(conn, principal, merchant)
            revoke(
                conn, now=principal.now, merchant_id=mid or "", key_id=key_id, actor=principal.actor
            )
        request.app.state.runtime.api_keys.forget(key_id)  # refused here at once
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    return RedirectResponse(f"/console/api-keys?merchant={mid}&done=Revoked", status_code=303)


@router.post("/api-keys/{key_id}/roll")
def roll_key(request: Request, principal: FreshDeveloper, key_id: str, merchant: Field) -> Response:
    """A new key with the same kind, scopes and origins; the old one is revoked at once."""
    svc = services(request)
    try:
        with svc.engine.begin() as conn:
            mid = pick_merchant(conn, principal, merchant) or ""
            old = next((k for k in list_keys(conn, merchant_id=mid) if k.id == key_id), None)
            if old is None:
                raise ApiKeyNotFound(param="key_id")
            created = create_key(
                conn,
                now=principal.now,
                merchant_id=mid,
                kind=old.kind,
                scopes=old.scopes,
                allowed_origins=old.allowed_origins,
                description=old.description,
                actor=principal.actor,
            )
            revoke(conn, now=principal.now, merchant_id=mid, key_id=key_id, actor=principal.actor)
        request.app.state.runtime.api_keys.forget(key_id)
    except CardshieldError as exc:
        return _page(request, principal, merchant or None, error=exc.message)
    return _created(request, created)
