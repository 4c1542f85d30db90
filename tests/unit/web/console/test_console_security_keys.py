"""Security keys through the console's pages: added from the account page after a fresh
confirmation, offered on the second-factor page, used to sign in, removed. The answers come
from a software authenticator and are checked by the real webauthn library."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from cardshield.security.permissions import Role
from cardshield.security.security_keys import RelyingParty
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.security.operator_support import PASSWORD
from tests.unit.security.soft_authenticator import SoftKey
from tests.unit.web.console.support import BASE_URL, Console, console_fixture, csrf_of

console = console_fixture("sqlite")
_OPTIONS = re.compile(r'data-options="([^"]+)"')


@pytest.fixture(autouse=True)
def _keys_on(console: Console) -> None:
    console.services.limiter.reset()
    console.services.relying_party = RelyingParty.for_url(BASE_URL)


def _options(page: str) -> str:
    found = _OPTIONS.search(page)
    assert found is not None, "no WebAuthn options on the page"
    return html.unescape(found.group(1))


def _add_key(c: Console, client: TestClient, key: SoftKey, name: str = "desk key") -> None:
    page = client.get("/console/account/security-keys/new")
    assert page.status_code == 200, page.text
    assert '<script src="/console/static/webauthn.js"' in page.text
    posted = client.post(
        "/console/account/security-keys",
        data={
            "csrf_token": csrf_of(page.text),
            "name": name,
            "credential": key.register(_options(page.text)),
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/console/account?key=added"


def _to_mfa_page(client: TestClient, username: str) -> str:
    login = client.get("/console/login")
    step = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        follow_redirects=False,
    )
    assert step.headers["location"].startswith("/console/mfa")
    page = client.get("/console/mfa?next=/console/payments")
    assert page.status_code == 200
    return page.text


def test_add_a_key_then_sign_in_with_it(console: Console) -> None:
    c = console
    c.add_operator("kai", Role.OPERATOR)
    client = c.client()
    csrf = c.sign_in(client, "kai")
    account = client.get("/console/account").text
    assert "None yet" in account and 'id="new-security-key"' in account
    key = SoftKey("https://testserver")
    _add_key(c, client, key)
    account = client.get("/console/account?key=added").text
    assert "Security key added." in account and "desk key" in account
    client.post("/console/logout", data={"csrf_token": csrf})

    fresh = c.client()
    mfa = _to_mfa_page(fresh, "kai")
    assert 'action="/console/mfa/security-key"' in mfa
    answer = key.sign(_options(mfa))
    done = fresh.post(
        "/console/mfa/security-key",
        data={"csrf_token": csrf_of(mfa), "credential": answer, "next": "/console/payments"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/payments"
    assert fresh.get("/console/payments").status_code == 200
    # The same answer again, in a new sign-in: its challenge is gone and the count moved on.
    again = c.client()
    mfa = _to_mfa_page(again, "kai")
    replay = again.post(
        "/console/mfa/security-key",
        data={"csrf_token": csrf_of(mfa), "credential": answer},
        follow_redirects=False,
    )
    assert replay.status_code == 401 and "Sign-in failed" in replay.text
    assert 'action="/console/mfa/security-key"' in replay.text  # offered again, new challenge
    assert again.get("/console/payments", follow_redirects=False).status_code == 303


def test_adding_a_key_needs_a_fresh_confirmation(console: Console) -> None:
    c = console
    c.add_operator("lou", Role.AUDITOR)
    client = c.client()
    csrf = c.sign_in(client, "lou")
    page = client.get("/console/account/security-keys/new")
    options = _options(page.text)
    c.clock.advance(minutes=6)
    stale = client.get("/console/account/security-keys/new", follow_redirects=False)
    assert stale.headers["location"] == "/console/reauth?next=/console/account/security-keys/new"
    posted = client.post(
        "/console/account/security-keys",
        data={"csrf_token": csrf, "credential": SoftKey("https://testserver").register(options)},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/console/reauth")
    assert "None yet" in client.get("/console/account").text


def test_a_bad_answer_shows_the_page_again_and_stores_nothing(console: Console) -> None:
    c = console
    c.add_operator("moe", Role.DEVELOPER)
    client = c.client()
    c.sign_in(client, "moe")
    page = client.get("/console/account/security-keys/new")
    wrong_origin = SoftKey("https://testserver.evil.example").register(_options(page.text))
    posted = client.post(
        "/console/account/security-keys",
        data={
            "csrf_token": csrf_of(page.text),
            "name": f"my card {CANARY_PAN}",
            "credential": wrong_origin,
        },
    )
    assert posted.status_code == 400 and "could not be verified" in posted.text
    assert 'value="my card ' in posted.text  # shown again, masked
    assert_no_card_data(posted.text)
    assert 'data-options="' in posted.text  # a new challenge to try again with
    assert "None yet" in client.get("/console/account").text


def test_remove_a_key(console: Console) -> None:
    c = console
    c.add_operator("nia", Role.AGENT)
    client = c.client()
    c.sign_in(client, "nia")
    _add_key(c, client, SoftKey("https://testserver"), name="spare key")
    account = client.get("/console/account").text
    key_id = re.search(r"/console/account/security-keys/(sk_\w+)/remove", account)
    assert key_id is not None
    gone = client.post(
        f"/console/account/security-keys/{key_id.group(1)}/remove",
        data={"csrf_token": csrf_of(account)},
        follow_redirects=False,
    )
    assert gone.headers["location"] == "/console/account?key=removed"
    assert "None yet" in client.get("/console/account").text
    again = client.post(
        f"/console/account/security-keys/{key_id.group(1)}/remove",
        data={"csrf_token": csrf_of(account)},
    )
    assert again.status_code == 404 and "No such security key" in again.text
    client.post("/console/logout", data={"csrf_token": csrf_of(account)})
    assert "security-key" not in _to_mfa_page(c.client(), "nia")


def test_no_keys_where_the_console_has_no_host_name(console: Console) -> None:
    c = console
    c.services.relying_party = RelyingParty.for_url("http://127.0.0.1:8750")
    c.add_operator("ozzy", Role.OPERATOR)
    client = c.client()
    c.sign_in(client, "ozzy")
    account = client.get("/console/account").text
    assert "set <code>console_url</code>" in account and "new-security-key" not in account
    page = client.get("/console/account/security-keys/new")
    assert page.status_code == 409 and "console_url" in page.text


def test_confirm_a_sensitive_action_with_the_password_and_a_key(console: Console) -> None:
    c = console
    c.add_operator("pat", Role.OPERATOR)
    client = c.client()
    c.sign_in(client, "pat")
    key = SoftKey("https://testserver")
    _add_key(c, client, key)
    c.clock.advance(minutes=6)  # no longer fresh
    page = client.get("/console/reauth?next=/console/account/security-keys/new")
    assert 'action="/console/reauth/security-key"' in page.text
    wrong = client.post(
        "/console/reauth/security-key",
        data={
            "csrf_token": csrf_of(page.text),
            "password": "not-the-password-at-all",
            "credential": key.sign(_options(page.text)),
            "next": "/console/account/security-keys/new",
        },
    )
    assert wrong.status_code == 401 and "Sign-in failed" in wrong.text
    assert (
        client.get("/console/account/security-keys/new", follow_redirects=False).status_code == 303
    )
    page = client.get("/console/reauth?next=/console/account/security-keys/new")
    done = client.post(
        "/console/reauth/security-key",
        data={
            "csrf_token": csrf_of(page.text),
            "password": PASSWORD,
            "credential": key.sign(_options(page.text)),
            "next": "/console/account/security-keys/new",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/console/account/security-keys/new"
    assert client.get("/console/account/security-keys/new").status_code == 200
