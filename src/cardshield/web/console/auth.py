"""Who is calling a console route, and may they: the console's access declarations.

Each dependency here is one :class:`~cardshield.security.permissions.Access` declaration:

* ``Require(Permission.X)`` -- a signed-in operator whose role grants X;
  ``Require(X, fresh=True)`` also needs a password-and-code confirmation in the last five
  minutes (creating API keys, changing roles, rolling secrets);
* ``SignedIn`` -- any signed-in operator (their own account page, sign-out);
* ``MfaPending`` -- past the password, before the second factor (the MFA pages only);
* ``AnonymousForm`` -- anyone, with the sign-in form's own CSRF cookie (the sign-in page).

Every unsafe request (POST) must carry the session's CSRF token in the ``csrf_token`` form
field. The session cookie is ``__Host-`` prefixed, Secure, HttpOnly and SameSite=Strict; the
Secure flag (and with it the prefix) is dropped only for plain-HTTP requests to localhost or
127.0.0.1, which is how the demo and the tests run; anything else must be served over HTTPS
(behind a proxy: run uvicorn with ``--proxy-headers``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from cardshield.crypto import Secret
from cardshield.security import events, sessions
from cardshield.security.audit import append as audit
from cardshield.security.errors import (
    CsrfInvalid,
    PermissionDenied,
    ReauthRequired,
    SessionRequired,
)
from cardshield.security.operators import Operator
from cardshield.security.permissions import Access, Permission, declare, has_permission
from cardshield.security.sessions import Session
from cardshield.web.console.services import services
from cardshield.web.deps import get_now

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_CSRF_MAX_AGE = 3600


def secure_cookies(request: Request) -> bool:
    return not (request.url.scheme == "http" and (request.url.hostname or "") in _LOOPBACK)


def _cookie(request: Request, name: str) -> str:
    return f"__Host-cardshield_{name}" if secure_cookies(request) else f"cardshield_{name}"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        _cookie(request, name),
        value,
        max_age=max_age,
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        _cookie(request, name),
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def read_cookie(request: Request, name: str) -> str | None:
    return request.cookies.get(_cookie(request, name))


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@dataclass(frozen=True)
class Principal:
    """A signed-in (or, for the MFA pages, half signed-in) operator and their session."""

    session: Session
    now: datetime
    ip: str | None

    @property
    def operator(self) -> Operator:
        return self.session.operator

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    @property
    def actor(self) -> str:
        return f"operator:{self.operator.id}"

    @property
    def merchant_scope(self) -> str | None:
        """The one merchant this operator works for, or None for all."""
        return self.operator.merchant_id

    def can(self, permission: Permission) -> bool:
        return self.session.active and has_permission(self.operator.role, permission)

    @property
    def fresh(self) -> bool:
        return sessions.recently_confirmed(self.session, now=self.now)


async def _form(request: Request) -> FormData | None:
    if request.method in _SAFE:
        return None
    return await request.form()


def _field(form: FormData | None, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


def _csrf(request: Request, form: FormData | None, expected: str, actor: str) -> None:
    if request.method in _SAFE:
        return
    presented = _field(form, "csrf_token")
    if not presented or not hmac.compare_digest(expected.encode(), presented.encode()):
        events.emit(events.CSRF_REJECTED, actor=actor, path=request.url.path, ip=client_ip(request))
        raise CsrfInvalid


def _principal(request: Request, form: FormData | None, *, pending: bool) -> Principal:
    now = get_now(request)
    engine = services(request).engine
    with engine.begin() as conn:
        session = sessions.load(conn, read_cookie(request, "session"), now=now)
    if session is None or session.active == pending:
        raise SessionRequired
    principal = Principal(session, now, client_ip(request))
    request.state.principal = principal
    _csrf(request, form, session.csrf_token, principal.actor)
    return principal


def _deny(request: Request, principal: Principal, permission: Permission) -> None:
    """Record a refused access (PCI DSS 10.2.1.4) and raise PermissionDenied."""
    with services(request).engine.begin() as conn:
        audit(
            conn,
            now=principal.now,
            actor=principal.actor,
            action="console.access_denied",
            outcome="denied",
            merchant_id=principal.merchant_scope,
            target=request.url.path[:128],
            details={"permission": permission.value, "method": request.method},
        )
    events.emit(
        events.PERMISSION_DENIED,
        actor=principal.actor,
        permission=permission.value,
        path=request.url.path,
    )
    raise PermissionDenied


def Require(permission: Permission, *, fresh: bool = False) -> Any:
    """Dependency: a signed-in operator whose role grants ``permission``."""

    def dependency(request: Request, form: Annotated[FormData | None, Depends(_form)]) -> Principal:
        principal = _principal(request, form, pending=False)
        if not principal.can(permission):
            _deny(request, principal, permission)
        if fresh and not principal.fresh:
            raise ReauthRequired
        return principal

    dependency.__name__ = f"require_{permission.value.replace(':', '_')}"
    declare(dependency, Access("permission", permission.value))
    dependency.cardshield_fresh = fresh  # type: ignore[attr-defined]
    return Depends(dependency)


def _signed_in(request: Request, form: Annotated[FormData | None, Depends(_form)]) -> Principal:
    return _principal(request, form, pending=False)


def _mfa_pending(request: Request, form: Annotated[FormData | None, Depends(_form)]) -> Principal:
    return _principal(request, form, pending=True)


def _anonymous_form(
    request: Request, form: Annotated[FormData | None, Depends(_form)]
) -> FormData | None:
    """The sign-in form: a double-submit token (cookie == field), as no session exists yet."""
    if request.method not in _SAFE:
        cookie = read_cookie(request, "login") or ""
        presented = _field(form, "csrf_token")
        if not cookie or not hmac.compare_digest(cookie.encode(), presented.encode()):
            events.emit(events.CSRF_REJECTED, path=request.url.path, ip=client_ip(request))
            raise CsrfInvalid
    return form


declare(_signed_in, Access("signed_in"))
declare(_mfa_pending, Access("mfa_pending"))
declare(_anonymous_form, Access("anonymous_form"))

SignedIn = Annotated[Principal, Depends(_signed_in)]
MfaPending = Annotated[Principal, Depends(_mfa_pending)]
AnonymousForm = Annotated[FormData | None, Depends(_anonymous_form)]


def new_login_token() -> Secret[str]:
    return Secret(secrets.token_urlsafe(32))
