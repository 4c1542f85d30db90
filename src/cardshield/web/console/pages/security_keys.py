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

# A WebAuthn answer as JSON: a few hundred bytes of base64url for any real authenticator.
CredentialField = Annotated[str, Form(min_length=2, max_length=16384)]
NameField = Annotated[str, Form(max_length=256)]


def relying_party(request: Request) -> RelyingParty:
    rp = services(request).relying_party
    if rp is None:
        raise SecurityKeysUnavailable
    return rp


def take_challenge(request: Request, principal: Principal) -> tuple[RelyingParty, bytes | None]:
    """The relying party and the session's open challenge, taken (and committed) before the
    answer is checked, so that a wrong answer uses it up as well."""
    rp = relying_party(request)
    with services(request).engine.begin() as conn:
        return rp, sessions.take_challenge(conn, principal.session, now=principal.now)


def sign_in_options(request: Request, principal: Principal) -> str | None:
    """``get()`` options for the operator's keys, with a new challenge kept in the session;
    None when they have none or the console cannot offer keys (the page offers codes only)."""
    svc = services(request)
    rp = svc.relying_party
    if rp is None:
        return None
    with svc.engine.begin() as conn:
        found = security_keys.authentication_options(conn, rp, operator_id=principal.operator.id)
        if found is None:
            return None
        options, challenge = found
        sessions.set_challenge(conn, principal.session, challenge, now=principal.now)
    return options


def _confirmed(request: Request, principal: Principal) -> RelyingParty:
    if not principal.fresh:
        raise ReauthRequired
    return relying_party(request)


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
    # The name is shown again after a failed try, masked like the stored one would be.
    shown = security_keys.clean_name(name) if name.strip() else ""
    context = {"options": options, "name": shown, "error": error, "rp": rp}
    return render(request, "security_key_new.html", context, status=400 if error else 200)


@router.get("/account/security-keys/new")
def new_security_key(request: Request, principal: SignedIn) -> Response:
    return _new_key_page(request, principal)


@router.post("/account/security-keys")
def add_security_key(
    request: Request, principal: SignedIn, credential: CredentialField, name: NameField = ""
) -> Response:
    _confirmed(request, principal)
    svc = services(request)
    svc.limiter.hit("mfa", principal.session.id)
    rp, challenge = take_challenge(request, principal)
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
