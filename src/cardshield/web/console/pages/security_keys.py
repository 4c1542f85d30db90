"""An operator's own security keys: adding one (a WebAuthn registration) and removing one.

Both are sensitive, like new recovery codes: a key added from a stolen session would be a
lasting way in, so they need a password-and-code confirmation in the last five minutes.
The browser side is ``/console/static/webauthn.js``: it reads the options the page carries
in ``data-options``, asks the browser for a credential, puts the answer into the form's
hidden ``credential`` field and submits the form. There is no other request and no inline
script; each load of the page opens a new challenge in the session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from cardshield.security import security_keys, sessions
from cardshield.security.errors import (
    ReauthRequired,
    SecurityKeyRejected,
    SecurityKeysUnavailable,
    TooManySecurityKeys,
)
from cardshield.security.security_keys import RelyingParty
from cardshield.web.console.auth import Principal, SignedIn
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])

CredentialField = Annotated[str, Form(min_length=2, max_length=16384)]
NameField = Annotated[str, Form(max_length=256)]


def _confirmed(request: Request, principal: Principal) -> RelyingParty:
    if not principal.fresh:
        raise ReauthRequired
    rp = services(request).relying_party
    if rp is None:
        raise SecurityKeysUnavailable
    return rp


def _new_key_page(
    request: Request, principal: Principal, *, name: str = "", error: str | None = None
) -> Response:
    rp = _confirmed(request, principal)
    svc = services(request)
    options: str | None = None
    with svc.engine.begin() as conn:
        if security_keys.count_keys(conn, principal.operator.id) >= security_keys.MAX_KEYS:
            error = TooManySecurityKeys().message
        else:
            options, challenge = security_keys.registration_options(
                conn, rp, operator_id=principal.operator.id
            )
            sessions.set_challenge(conn, principal.session, challenge, now=principal.now)
    context = {"options": options, "name": name, "error": error, "rp": rp}
    return render(request, "security_key_new.html", context, status=400 if error else 200)


@router.get("/account/security-keys/new")
def new_security_key(request: Request, principal: SignedIn) -> Response:
    return _new_key_page(request, principal)


@router.post("/account/security-keys")
def add_security_key(
    request: Request, principal: SignedIn, credential: CredentialField, name: NameField = ""
) -> Response:
    rp = _confirmed(request, principal)
    svc = services(request)
    svc.limiter.hit("mfa", principal.session.id)
    with svc.engine.begin() as conn:  # taken (and committed) whatever the answer
        challenge = sessions.take_challenge(conn, principal.session, now=principal.now)
    try:
        security_keys.add_key(
            svc.engine,
            rp,
            now=principal.now,
            operator_id=principal.operator.id,
            challenge=challenge,
            response=credential,
            name=name,
            actor=principal.actor,
        )
    except (SecurityKeyRejected, TooManySecurityKeys) as exc:
        return _new_key_page(request, principal, name=name, error=exc.message)
    return RedirectResponse("/console/account?key=added", status_code=303)


@router.post("/account/security-keys/{security_key_id}/remove")
def remove_security_key(request: Request, principal: SignedIn, security_key_id: str) -> Response:
    if not principal.fresh:
        raise ReauthRequired
    security_keys.remove_key(
        services(request).engine,
        now=principal.now,
        operator_id=principal.operator.id,
        key_id=security_key_id[:64],
        actor=principal.actor,
    )
    return RedirectResponse("/console/account?key=removed", status_code=303)
