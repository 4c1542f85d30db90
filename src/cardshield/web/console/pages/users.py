"""Users and roles (admins only): create operators, change roles, disable, reset MFA.

Every change needs a fresh confirmation (password and code within five minutes) and ends
the affected operator's sessions; the audit log records who did what to whom.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from cardshield.crypto import Secret
from cardshield.errors import CardshieldError
from cardshield.security.errors import OperatorNotFound
from cardshield.security.permissions import Permission
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
Admin = Annotated[Principal, Require(Permission.USERS_MANAGE)]
FreshAdmin = Annotated[Principal, Require(Permission.USERS_MANAGE, fresh=True)]
Field = Annotated[str, Form(max_length=256)]


def _page(
    request: Request, principal: Principal, *, message: str | None = None, error: str | None = None
) -> Response:
    svc = services(request)
    with svc.engine.connect() as conn:
        people = [p for p in svc.accounts.all(conn) if _visible(principal, p.merchant_id)]
    return render(
        request,
        "users.html",
        {"people": people, "message": message, "error": error},
        status=400 if error else 200,
    )


def _visible(principal: Principal, merchant_id: str | None) -> bool:
    """An admin limited to one merchant sees and manages only that merchant's operators."""
    return principal.merchant_scope is None or merchant_id == principal.merchant_scope


@router.get("/users")
def users(request: Request, principal: Admin) -> Response:
    return _page(request, principal, message=request.query_params.get("done"))


@router.post("/users")
def create_user(
    request: Request,
    principal: FreshAdmin,
    username: Field,
    password: Field,
    role: Field,
    display_name: Field = "",
    merchant: Field = "",
) -> Response:
    try:
        op = services(request).accounts.create(
            now=principal.now,
            username=username,
            password=Secret(password),
            role=role,
            display_name=display_name,
            merchant_id=principal.merchant_scope or merchant.strip() or None,
            actor=principal.actor,
        )
    except CardshieldError as exc:
        return _page(request, principal, error=exc.message)
    return RedirectResponse(f"/console/users?done=Created+{op.username}", status_code=303)


def _change(
    request: Request, principal: Principal, operator_id: str, verb: str, **kw: str
) -> Response:
    svc = services(request)
    try:
        with svc.engine.connect() as conn:
            target = svc.accounts.get(conn, operator_id)
        if not _visible(principal, target.merchant_id):
            raise OperatorNotFound(param="operator")
        getattr(svc.accounts, verb)(
            now=principal.now, operator_id=operator_id, actor=principal.actor, **kw
        )
    except CardshieldError as exc:
        return _page(request, principal, error=exc.message)
    return RedirectResponse("/console/users?done=Saved", status_code=303)


@router.post("/users/{operator_id}/role")
def set_role(request: Request, principal: FreshAdmin, operator_id: str, role: Field) -> Response:
    return _change(request, principal, operator_id, "set_role", role=role)


@router.post("/users/{operator_id}/disable")
def disable(request: Request, principal: FreshAdmin, operator_id: str) -> Response:
    return _change(request, principal, operator_id, "disable")


@router.post("/users/{operator_id}/enable")
def enable(request: Request, principal: FreshAdmin, operator_id: str) -> Response:
    return _change(request, principal, operator_id, "enable")


@router.post("/users/{operator_id}/reset-mfa")
def reset_mfa(request: Request, principal: FreshAdmin, operator_id: str) -> Response:
    return _change(request, principal, operator_id, "reset_mfa")
