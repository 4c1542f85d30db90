"""The console's home and each operator's own account: sessions, recovery codes, security
keys (added and removed in :mod:`.security_keys`), password."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from cardshield.crypto import Secret
from cardshield.security import security_keys, sessions
from cardshield.security.errors import ReauthRequired, SignInFailed, WeakPassword
from cardshield.security.permissions import Permission
from cardshield.web.console.auth import SignedIn, clear_cookie
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
Field = Annotated[str, Form(max_length=256)]

# Where a role lands after signing in: its first section, in this order.
_LANDING = (
    (Permission.REPORTS_VIEW, "/console/dashboard"),
    (Permission.PAYMENTS_VIEW, "/console/payments"),
    (Permission.API_KEYS_MANAGE, "/console/api-keys"),
    (Permission.AUDIT_VIEW, "/console/audit"),
)


@router.get("/")
def home(request: Request, principal: SignedIn) -> Response:
    for permission, target in _LANDING:
        if principal.can(permission):
            return RedirectResponse(target, status_code=303)
    return render(request, "home.html")


_KEY_NOTICES = {"added": "Security key added.", "removed": "Security key removed."}


def _account(request: Request, principal: SignedIn, **extra: object) -> Response:
    svc = services(request)
    with svc.engine.connect() as conn:
        context: dict[str, object] = {
            "session_count": sessions.count_for(conn, principal.operator.id),
            "codes_left": svc.accounts.recovery_codes_left(conn, principal.operator.id),
            "security_keys": security_keys.list_keys(conn, principal.operator.id),
            "security_keys_available": svc.relying_party is not None,
        }
    notice = _KEY_NOTICES.get(request.query_params.get("key", ""))
    if notice:
        context["message"] = notice
    context.update(extra)
    status = 400 if extra.get("error") else 200
    return render(request, "account.html", context, status=status)


@router.get("/account")
def account(request: Request, principal: SignedIn) -> Response:
    return _account(request, principal)


@router.post("/account/password")
def change_password(
    request: Request, principal: SignedIn, current: Field, new: Field, confirm: Field
) -> Response:
    svc = services(request)
    op = principal.operator
    if new != confirm:
        return _account(request, principal, error="The new passwords do not match.")
    try:
        svc.signin.check_password(
            now=principal.now, username=op.username, password=Secret(current), ip=principal.ip
        )
        svc.accounts.set_password(
            now=principal.now, operator_id=op.id, password=Secret(new), actor=principal.actor
        )
    except (SignInFailed, WeakPassword) as exc:
        return _account(request, principal, error=exc.message)
    # Changing the password ended every session, this one included.
    response = RedirectResponse("/console/login", status_code=303)
    clear_cookie(response, request, "session")
    return response


@router.post("/account/recovery-codes")
def new_recovery_codes(request: Request, principal: SignedIn) -> Response:
    if not principal.fresh:
        raise ReauthRequired
    codes = services(request).accounts.regenerate_recovery_codes(
        now=principal.now, operator_id=principal.operator.id, actor=principal.actor
    )
    return render(
        request,
        "recovery_codes.html",
        {"codes": [c.reveal() for c in codes], "next": "/console/account"},
    )
