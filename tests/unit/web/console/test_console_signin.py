"""Signing in to the console through its pages: MFA is required, wrong codes fail, a recovery
code works once, idle sessions expire, forms without the CSRF token are refused."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cardshield.crypto import Secret
from cardshield.security import totp
from cardshield.security.signin import MAX_FAILED_ATTEMPTS
from cardshield.storage.schema import audit_log
from cardshield.web.console.routing import CONSOLE_CSP, DENIED_HEADER
from tests.unit.security.operator_support import PASSWORD
from tests.unit.web.console.support import Console, b32decode, console_fixture, csrf_of

console = console_fixture("sqlite")


@pytest.fixture(autouse=True)
def _fresh_limits(console: Console) -> None:
    console.services.limiter.reset()


def _actions(c: Console) -> list[tuple[str, str]]:
    with c.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.outcome).order_by(audit_log.c.seq)
        )
        return [(r.action, r.outcome) for r in rows]


def _password_step(
    c: Console, client: TestClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def test_mfa_is_required_and_wrong_codes_fail(console: Console) -> None:
    c = console
    c.add_operator("olga", "operator")
    client = c.client()
    c.sign_in(client, "olga")  # enrolls TOTP on the way
    client.post(
        "/console/logout", data={"csrf_token": csrf_of(client.get("/console/account").text)}
    )

    other = c.client()
    step1 = _password_step(c, other, "olga")
    assert step1.status_code == 303 and step1.headers["location"].startswith("/console/mfa")
    # Past the password but before the code: no console page is reachable.
    for path in ("/console/payments", "/console/account", "/console/"):
        blocked = other.get(path, follow_redirects=False)
        assert blocked.status_code == 303 and blocked.headers[DENIED_HEADER] == "session"
        assert blocked.headers["location"].startswith("/console/login")
    form = other.get("/console/mfa")
    good = c.code("olga")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    bad = other.post("/console/mfa", data={"code": wrong, "csrf_token": csrf_of(form.text)})
    assert bad.status_code == 401 and "Sign-in failed" in bad.text
    assert other.get("/console/payments", follow_redirects=False).status_code == 303
    ok = other.post(
        "/console/mfa",
        data={"code": good, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert other.get("/console/payments").status_code == 200
    # The same code a second time (a replay from another browser) fails.
    third = c.client()
    _password_step(c, third, "olga")
    again = third.post(
        "/console/mfa",
        data={"code": good, "csrf_token": csrf_of(third.get("/console/mfa").text)},
    )
    assert again.status_code == 401
    log = _actions(c)
    assert ("operator.mfa_enroll", "success") in log and ("operator.mfa", "failure") in log


def test_recovery_code_works_once_through_the_page(console: Console) -> None:
    c = console
    c.add_operator("rita", "auditor")
    client = c.client()
    page = client.get("/console/login")
    client.post(
        "/console/login",
        data={"username": "rita", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    enroll = client.get("/console/enroll")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', enroll.text)
    assert secret is not None
    qr = re.search(r"<svg[^>]*class=\"qr\"", enroll.text)
    assert qr is not None, "the QR code is drawn inline, not fetched"

    c.seeds["rita"] = Secret(b32decode(secret.group(1)))
    shown = client.post(
        "/console/enroll", data={"code": c.code("rita"), "csrf_token": csrf_of(enroll.text)}
    )
    codes = re.findall(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>", shown.text)
    assert len(codes) == 10
    for attempt, expected in ((codes[0], 303), (codes[0], 401)):
        browser = c.client()
        _password_step(c, browser, "rita")
        form = browser.get("/console/mfa")
        used = browser.post(
            "/console/mfa",
            data={"code": attempt, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert used.status_code == expected


def test_idle_session_expires_after_15_minutes(console: Console) -> None:
    c = console
    c.add_operator("ivan", "auditor")
    client = c.client()
    c.sign_in(client, "ivan")
    c.clock.advance(minutes=14, seconds=59)
    assert client.get("/console/audit").status_code == 200  # activity: the clock restarts
    c.clock.advance(minutes=15)
    expired = client.get("/console/audit", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"] == "/console/login?next=/console/audit"


def test_forms_without_a_valid_csrf_token_are_refused(console: Console) -> None:
    c = console
    c.add_operator("carl", "auditor")
    c.add_operator("cora", "auditor")
    client, other = c.client(), c.client()
    c.sign_in(client, "carl")
    other_token = c.sign_in(other, "cora")
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "x" * 43}, {"csrf_token": other_token}):
        refused = client.post("/console/logout-everywhere", data=data, follow_redirects=False)
        assert refused.status_code == 403 and refused.headers[DENIED_HEADER] == "csrf"
    assert client.get("/console/audit").status_code == 200  # still signed in
    # The sign-in form has its own token (no session yet): cookie and field must match.
    anonymous = c.client()
    anonymous.get("/console/login")
    forged = anonymous.post(
        "/console/login",
        data={"username": "carl", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and forged.headers[DENIED_HEADER] == "csrf"


def test_logout_everywhere_ends_every_session(console: Console) -> None:
    c = console
    c.add_operator("lea", "auditor")
    first, second = c.client(), c.client()
    c.sign_in(first, "lea")
    token = c.sign_in(second, "lea")
    done = second.post(
        "/console/logout-everywhere", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    for client in (first, second):
        assert client.get("/console/audit", follow_redirects=False).status_code == 303
    assert ("operator.logout_all", "success") in _actions(c)


def test_lockout_through_the_sign_in_page_and_its_expiry(console: Console) -> None:
    c = console
    c.add_operator("lou", "auditor")
    client = c.client()
    c.sign_in(client, "lou")
    browser = c.client()
    # Rate limits count in wall-clock windows; clear them so only the lockout is at work.
    c.services.limiter.reset()
    for _ in range(MAX_FAILED_ATTEMPTS):
        assert _password_step(c, browser, "lou", "wrong-password-x").status_code == 401
    c.services.limiter.reset()
    c.clock.advance(minutes=29)
    assert _password_step(c, browser, "lou").status_code == 401  # locked: right password too
    c.clock.advance(minutes=1)
    assert _password_step(c, browser, "lou").status_code == 303


# The operator's next code written in other scripts' digits (fullwidth, Arabic-Indic,
# Devanagari): the digits of those scripts' zeros.
FOREIGN_ZEROS = ("\uff10", "\u0660", "\u0966")


def _foreign(code: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in code)


def _failed_attempts(c: Console, username: str) -> int:
    with c.engine.connect() as conn:
        return c.services.accounts.find(conn, username).failed_attempts


def test_a_code_in_non_ascii_digits_is_a_wrong_code(console: Console) -> None:
    """The right code in another script's digits: refused like a wrong code (the page again,
    401), never a server error, and counted against the lockout."""
    c = console
    c.add_operator("uma", "auditor")
    c.sign_in(c.client(), "uma")  # enrolls TOTP
    browser = c.client()
    assert _password_step(c, browser, "uma").status_code == 303
    for zero in FOREIGN_ZEROS:
        before = _failed_attempts(c, "uma")
        form = browser.get("/console/mfa")
        code = _foreign(totp.code_at(c.seeds["uma"], totp.step_at(c.clock())), zero)
        bad = browser.post("/console/mfa", data={"code": code, "csrf_token": csrf_of(form.text)})
        assert bad.status_code == 401 and "Sign-in failed" in bad.text, (zero, bad.status_code)
        assert _failed_attempts(c, "uma") == before + 1
    # Enrolling a new seed: the same.
    c.add_operator("uli", "auditor")
    newcomer = c.client()
    assert _password_step(c, newcomer, "uli").headers["location"].startswith("/console/enroll")
    enroll = newcomer.get("/console/enroll")
    found = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', enroll.text)
    assert found is not None
    seed = Secret(b32decode(found.group(1)))
    code = _foreign(totp.code_at(seed, totp.step_at(c.clock())), FOREIGN_ZEROS[0])
    refused = newcomer.post(
        "/console/enroll",
        data={"code": code, "csrf_token": csrf_of(enroll.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 303 and "failed=" in refused.headers["location"]
    assert _failed_attempts(c, "uli") == 1


def test_cookies_and_headers(console: Console) -> None:
    c = console
    c.add_operator("hank", "auditor")
    client = c.client()
    page = client.get("/console/login")
    assert page.headers["content-security-policy"] == CONSOLE_CSP
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert '<script src="/console/static/console.js"' in page.text and "<script>" not in page.text
    posted = client.post(
        "/console/login",
        data={"username": "hank", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = next(
        v for k, v in posted.headers.multi_items() if k == "set-cookie" and "session" in v
    )
    assert cookie.startswith("__Host-cardshield_session=")
    for flag in ("HttpOnly", "Path=/", "SameSite=strict", "Secure"):
        assert flag.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    # Plain HTTP is accepted for loopback development only, without Secure or the prefix.
    local = TestClient(c.app, base_url="http://127.0.0.1:8750")
    local_page = local.get("/console/login")
    local_cookie = local_page.headers["set-cookie"]
    assert local_cookie.startswith("cardshield_login=") and "secure" not in local_cookie.lower()
    css = client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/console/static/..%2Fauth.py").status_code == 404
    assert client.get("/console/static/missing.js").status_code == 404


def test_login_is_rate_limited(console: Console) -> None:
    c = console
    client = c.client()
    statuses = []
    for i in range(12):
        page = client.get("/console/login")
        statuses.append(
            client.post(
                "/console/login",
                data={
                    "username": "nobody",
                    "password": f"guess-{i}",
                    "csrf_token": csrf_of(page.text),
                },
            ).status_code
        )
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert totp.STEP_SECONDS == 30
