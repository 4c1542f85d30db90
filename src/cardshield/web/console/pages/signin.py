"""Signing in and out: password, then a TOTP or recovery code or a security key (or first
TOTP enrollment), re-authentication before sensitive actions, sign-out here and everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from cardshield.crypto import Secret
from cardshield.security import sessions, totp
from cardshield.security.audit import append as audit
from cardshield.security.errors import SignInFailed
from cardshield.web.console.auth import (
    LOGIN_CSRF_MAX_AGE,
    AnonymousForm,
    MfaPending,
    Principal,
    SignedIn,
    clear_cookie,
    client_ip,
    new_login_token,
    set_cookie,
)
from cardshield.web.console.pages.security_keys import (
    CredentialField,
    sign_in_options,
    take_challenge,
)
from cardshield.web.console.render import inline_svg, render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services
from cardshield.web.deps import NowDep

router = console_router(tags=["console"])

Field = Annotated[str, Form(max_length=256)]
CodeField = Annotated[str, Form(max_length=32)]
# A second sign-in step, ready to run: SignInFailed if it does not pass.
Step = Callable[[], object]
NextField = Annotated[str, Form(max_length=512)]


def safe_next(value: str | None) -> str:
    """Only a path inside the console: never another site (open redirect)."""
    if not value or not value.startswith("/console/") or "//" in value or "\\" in value:
        return "/console/"
    return value


def _login_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    token = new_login_token().reveal()
    next_path = safe_next(request.query_params.get("next"))
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_path, "error": error},
        status=status,
    )
    set_cookie(response, request, "login", token, max_age=LOGIN_CSRF_MAX_AGE)
    return response


@router.get("/login")
def login_page(request: Request, _form: AnonymousForm) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    _form: AnonymousForm,
    now: NowDep,
    username: Field,
    password: Field,
    next: NextField = "/console/",
) -> Response:
    svc = services(request)
    ip = client_ip(request) or "-"
    svc.limiter.hit("login_ip", ip)
    svc.limiter.hit("login_user", username.strip().lower()[:64])
    try:
        operator = svc.signin.check_password(
            now=now, username=username, password=Secret(password), ip=ip
        )
    except SignInFailed as exc:
        return _login_page(request, error=exc.message, status=401)
    stage: sessions.Stage = "mfa" if operator.mfa_enrolled else "enroll"
    with svc.engine.begin() as conn:
        token = sessions.start(
            conn,
            now=now,
            operator_id=operator.id,
            stage=stage,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
    target = "/console/mfa" if stage == "mfa" else "/console/enroll"
    response = RedirectResponse(f"{target}?next={safe_next(next)}", status_code=303)
    set_cookie(response, request, "session", token.reveal())
    clear_cookie(response, request, "login")
    return response


def _activate(request: Request, principal: Principal, response: Response) -> Response:
    """Replace the pending session by a new active one (a new id: no session fixation)."""
    svc = services(request)
    with svc.engine.begin() as conn:
        sessions.end(conn, principal.session)
        token = sessions.start(
            conn,
            now=principal.now,
            operator_id=principal.operator.id,
            stage="active",
            ip=principal.ip,
            user_agent=request.headers.get("user-agent"),
        )
    set_cookie(response, request, "session", token.reveal())
    return response


def _second_factor_page(
    request: Request,
    principal: Principal,
    template: str,
    next_path: str,
    *,
    error: str | None = None,
) -> Response:
    """The code page (sign-in or confirmation), offering the operator's security keys too."""
    context = {
        "next": safe_next(next_path),
        "error": error,
        "security_key_options": sign_in_options(request, principal),
    }
    return render(request, template, context, status=401 if error else 200)


@router.get("/mfa")
def mfa_page(request: Request, principal: MfaPending) -> Response:
    if principal.session.stage == "enroll":
        return RedirectResponse("/console/enroll", status_code=303)
    return _second_factor_page(
        request, principal, "mfa.html", request.query_params.get("next") or ""
    )


def _by_code(request: Request, principal: Principal, code: str, purpose: str) -> Step:
    """The second step as a TOTP or recovery code."""
    signin = services(request).signin
    return lambda: signin.check_second_factor(
        now=principal.now,
        operator_id=principal.operator.id,
        code=code,
        ip=principal.ip,
        purpose=purpose,
    )


def _by_key(request: Request, principal: Principal, credential: str, purpose: str) -> Step:
    """The second step as a security key's answer; the session's challenge is taken now."""
    signin = services(request).signin
    rp, challenge = take_challenge(request, principal)
    return lambda: signin.check_security_key(
        now=principal.now,
        operator_id=principal.operator.id,
        rp=rp,
        challenge=challenge,
        response=credential,
        ip=principal.ip,
        purpose=purpose,
    )


def _complete_sign_in(
    request: Request, principal: Principal, next_path: str, second_step: Step
) -> Response:
    """``second_step`` (a code or a key), then an active session; the page again if not."""
    try:
        second_step()
    except SignInFailed as exc:
        return _second_factor_page(request, principal, "mfa.html", next_path, error=exc.message)
    return _activate(request, principal, RedirectResponse(safe_next(next_path), status_code=303))


@router.post("/mfa")
def mfa(
    request: Request,
    principal: MfaPending,
    code: CodeField,
    next: NextField = "/console/",
) -> Response:
    services(request).limiter.hit("mfa", principal.session.id)
    step = _by_code(request, principal, code, "login")
    return _complete_sign_in(request, principal, next, step)


@router.post("/mfa/security-key")
def mfa_security_key(
    request: Request,
    principal: MfaPending,
    credential: CredentialField,
    next: NextField = "/console/",
) -> Response:
    """The second factor from a security key: the browser's ``get()`` answer as JSON."""
    services(request).limiter.hit("mfa", principal.session.id)
    if principal.session.stage == "enroll":
        return RedirectResponse("/console/enroll", status_code=303)
    step = _by_key(request, principal, credential, "login")
    return _complete_sign_in(request, principal, next, step)


@router.get("/enroll")
def enroll_page(request: Request, principal: MfaPending) -> Response:
    if principal.session.stage != "enroll":
        return RedirectResponse("/console/mfa", status_code=303)
    svc = services(request)
    op = principal.operator
    # One seed per pending session (kept wrapped in the session row): reloading the page
    # shows the same QR code, and any node can check the code.
    if principal.session.pending_totp is None:
        wrapped = svc.accounts.wrap_seed(op.id, totp.new_seed())
        with svc.engine.begin() as conn:
            sessions.set_pending_totp(conn, principal.session, wrapped)
    else:
        wrapped = principal.session.pending_totp
    seed = svc.accounts.unwrap_seed(op.id, wrapped)
    uri = totp.provisioning_uri(seed, op.username)
    context = {"qr": inline_svg(totp.qr_svg(uri)), "secret": totp.seed_base32(seed)}
    if request.query_params.get("failed"):
        context["error"] = SignInFailed().message
    return render(request, "enroll.html", context)


@router.post("/enroll")
def enroll(request: Request, principal: MfaPending, code: CodeField) -> Response:
    svc = services(request)
    svc.limiter.hit("mfa", principal.session.id)
    wrapped = principal.session.pending_totp
    if principal.session.stage != "enroll" or wrapped is None:
        return RedirectResponse("/console/enroll", status_code=303)
    try:
        _, codes = svc.signin.enroll_totp(
            now=principal.now,
            operator_id=principal.operator.id,
            wrapped_seed=wrapped,
            code=code,
            ip=principal.ip,
        )
    except SignInFailed as exc:
        return RedirectResponse(f"/console/enroll?failed={exc.code}", status_code=303)
    page = render(
        request,
        "recovery_codes.html",
        {"codes": [c.reveal() for c in codes], "next": "/console/"},
    )
    return _activate(request, principal, page)


@router.post("/logout")
def logout(request: Request, principal: SignedIn) -> Response:
    svc = services(request)
    with svc.engine.begin() as conn:
        sessions.end(conn, principal.session)
        audit(
            conn,
            now=principal.now,
            actor=principal.actor,
            action="operator.logout",
            merchant_id=principal.merchant_scope,
            target=principal.operator.id,
        )
    response = RedirectResponse("/console/login", status_code=303)
    clear_cookie(response, request, "session")
    return response


@router.post("/logout-everywhere")
def logout_everywhere(request: Request, principal: SignedIn) -> Response:
    svc = services(request)
    with svc.engine.begin() as conn:
        ended = sessions.end_all(conn, principal.operator.id)
        audit(
            conn,
            now=principal.now,
            actor=principal.actor,
            action="operator.logout_all",
            merchant_id=principal.merchant_scope,
            target=principal.operator.id,
            details={"sessions": ended},
        )
    response = RedirectResponse("/console/login", status_code=303)
    clear_cookie(response, request, "session")
    return response


@router.get("/reauth")
def reauth_page(request: Request, principal: SignedIn) -> Response:
    return _second_factor_page(
        request, principal, "reauth.html", request.query_params.get("next") or ""
    )


def _reauthenticate(
    request: Request,
    principal: Principal,
    password: str,
    next_path: str,
    second_step: Step,
) -> Response:
    """The password, then ``second_step`` (a code or a key); a fresh confirmation if both
    pass, the page again with the one sign-in error if not."""
    svc = services(request)
    op = principal.operator
    try:
        svc.signin.check_password(
            now=principal.now, username=op.username, password=Secret(password), ip=principal.ip
        )
        second_step()
    except SignInFailed as exc:
        return _second_factor_page(request, principal, "reauth.html", next_path, error=exc.message)
    with svc.engine.begin() as conn:
        sessions.confirm(conn, principal.session, now=principal.now)
    return RedirectResponse(safe_next(next_path), status_code=303)


@router.post("/reauth")
def reauth(
    request: Request,
    principal: SignedIn,
    password: Field,
    code: CodeField,
    next: NextField = "/console/",
) -> Response:
    services(request).limiter.hit("mfa", principal.session.id)
    step = _by_code(request, principal, code, "reauth")
    return _reauthenticate(request, principal, password, next, step)


@router.post("/reauth/security-key")
def reauth_security_key(
    request: Request,
    principal: SignedIn,
    password: Field,
    credential: CredentialField,
    next: NextField = "/console/",
) -> Response:
    """The confirmation with the password and a security key instead of a code."""
    services(request).limiter.hit("mfa", principal.session.id)
    step = _by_key(request, principal, credential, "reauth")
    return _reauthenticate(request, principal, password, next, step)
