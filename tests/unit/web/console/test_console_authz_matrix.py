"""The authorization matrix, generated from the application's own route list.

Every route (API and console) and method is called by every kind of caller: anonymous, a
half signed-in operator (password only), an operator of each role, a secret key, a
publishable key, another merchant's secret key, and a secret key holding one scope only
(one such key per scope). The expected answer comes from the route's declared access
(cardshield.security.permissions), so a new route is covered the moment it exists, and a
route that declares nothing fails this test; which scope each API route declares is itself
checked against the table API_SCOPES (test_api_routes_declare_the_scopes_of_the_contract).

Callers get a fresh session and a valid CSRF token for every request, so what is measured
is authorization alone. Path parameters are filled with real objects of the first merchant
(a token, a payment, decoy key/endpoint/operator ids), so the other merchant's key must get
404 where it names them.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from starlette.websockets import WebSocketDisconnect

from cardshield.cards import PAN, Expiry, luhn_check_digit
from cardshield.payments.webhooks import create_endpoint
from cardshield.phone.agent.service import agent_control, keypad
from cardshield.phone.calls import CallStore
from cardshield.phone.pay_connector import limits as pay_connector_limits
from cardshield.security import sessions
from cardshield.security.apikeys import SCOPES, create_key
from cardshield.security.permissions import (
    Access,
    Permission,
    Role,
    UndeclaredRoute,
    has_permission,
    iter_routes,
    route_access,
)
from cardshield.security.ratelimit import RateLimiter
from cardshield.storage.schema import audit_log, payments
from cardshield.web.console.pages import phone as agent_screen
from cardshield.web.console.routing import DENIED_HEADER
from cardshield.web.deps import Public
from tests.conftest import assert_no_card_data
from tests.unit.security.operator_support import PASSWORD
from tests.unit.web.console.support import BASE_URL, Console, console_fixture

console = console_fixture("sqlite", "postgresql")
# A generated card number (not the published one the API docs show as an example): the
# tokenized canary that no response of any route may contain.
MATRIX_PAN = "491718001234567" + luhn_check_digit("491718001234567")
OUTSIDE_ADDRESS = ("203.0.113.9", 50000)  # TEST-NET-3: neither loopback nor private
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
CONSOLE_KINDS = {"anonymous_form", "mfa_pending", "signed_in", "permission"}
API_DENIALS = {
    "invalid_api_key",
    "secret_key_required",
    "publishable_key_required",
    "insufficient_scope",
    "internal_only",
    "twilio_signature_invalid",
    "pay_connector_auth_failed",
}


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str  # anonymous | pending | role | secret | publishable | other_secret | scoped
    role: Role | None = None
    scope: str | None = None  # the one scope of a "scoped" secret key
    key: str | None = None
    operator_id: str | None = None


@dataclass
class World:
    console: Console
    callers: list[Caller]
    params: dict[str, str]
    login_csrf: str


def declarations(app: FastAPI) -> list[tuple[str, str, Access]]:
    """(method, path, access) for every route; UndeclaredRoute when one declares nothing."""
    found = []
    for route in iter_routes(app):
        access = route_access(route)
        if route.methods is None:
            continue  # a WebSocket route: test_every_websocket_route_against_every_caller
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, route.path, access))
    return found


@pytest.fixture(scope="module")
def world(console: Console) -> World:
    c = console
    now = c.clock()
    with c.engine.begin() as conn:
        secret = create_key(
            conn, now=now, merchant_id=c.merchant, kind="secret", scopes=sorted(SCOPES)
        )
        publishable = create_key(
            conn,
            now=now,
            merchant_id=c.merchant,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=["https://shop.example"],
        )
        other = create_key(
            conn, now=now, merchant_id=c.other_merchant, kind="secret", scopes=sorted(SCOPES)
        )
        decoy_key = create_key(
            conn, now=now, merchant_id=c.merchant, kind="secret", scopes=["tokens:read"]
        )
        endpoint = create_endpoint(
            conn,
            merchant_id=c.merchant,
            url="https://hooks.example.com/cardshield",
            enabled_events=["*"],
            now=now,
        )
        conn.execute(
            insert(payments).values(
                id="pay_matrix1",
                merchant_id=c.merchant,
                status="captured",
                amount=1050,
                currency="EUR",
                amount_authorized=1050,
                amount_captured=1050,
                amount_refunded=0,
                capture_method="automatic",
                card_brand="visa",
                card_bin="42424242",
                card_last4="4242",
                card_exp_month=12,
                card_exp_year=2030,
                connector="sandbox",
                metadata={},
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    token = c.runtime.vault.tokenize(c.merchant, PAN(MATRIX_PAN), Expiry(2030, 12), now=now).token
    callers = [Caller("anonymous", "anonymous")]
    for role in Role:
        op = c.add_operator(f"matrix-{role.value}", role)
        callers.append(Caller(role.value, "role", role=role, operator_id=op.id))
    pending = c.add_operator("matrix-pending", Role.ADMIN)
    callers += [
        Caller("mfa-pending admin", "pending", operator_id=pending.id),
        Caller("secret key", "secret", key=secret.key.reveal()),
        Caller("publishable key", "publishable", key=publishable.key.reveal()),
        Caller("other merchant's key", "other_secret", key=other.key.reveal()),
    ]
    with c.engine.begin() as conn:
        for scope in sorted(SCOPES):
            only = create_key(conn, now=now, merchant_id=c.merchant, kind="secret", scopes=[scope])
            callers.append(Caller(f"{scope} key", "scoped", key=only.key.reveal(), scope=scope))
    decoy_operator = c.add_operator("matrix-decoy", Role.AGENT)
    params = {
        "token_id": token,
        "payment_id": "pay_matrix1",
        "key_id": decoy_key.info.id,
        "endpoint_id": endpoint.endpoint.id,
        "operator_id": decoy_operator.id,
        "delivery_id": "1",
        "name": "console.css",
    }
    return World(c, callers, params, login_csrf="matrix-login-csrf")


def expected(access: Access, caller: Caller, *, names_an_object: bool) -> str:
    kind = access.kind
    if kind == "public" and access.scope in ("twilio_signature", "pay_connector_basic"):
        return "deny"  # Twilio's side: no caller here holds its signing token or credentials
    if kind in ("public", "anonymous_form"):
        return "allow"
    if kind == "internal":
        return "deny"  # the matrix calls from an outside address
    if kind == "secret_key":
        if caller.kind == "secret":
            return "allow"
        if caller.kind == "scoped":
            return "allow" if caller.scope == access.scope else "deny"
        if caller.kind == "other_secret":
            return "not_found" if names_an_object else "allow"
        return "deny"
    if kind == "publishable_key":
        return "allow" if caller.kind == "publishable" else "deny"
    if kind == "mfa_pending":
        return "allow" if caller.kind == "pending" else "deny"
    if kind == "signed_in":
        return "allow" if caller.kind == "role" else "deny"
    if kind == "permission":
        assert access.scope is not None
        ok = caller.role is not None and has_permission(caller.role, Permission(access.scope))
        return "allow" if ok else "deny"
    raise AssertionError(f"unknown access kind {kind}")


def outcome(response: Any) -> str:
    if response.status_code >= 500:
        return f"error {response.status_code}"
    if response.headers.get(DENIED_HEADER):
        return "deny"
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            code = response.json().get("error", {}).get("code")
        except ValueError:
            code = None
        if code in API_DENIALS:
            return "deny"
    if response.status_code in (401, 403):
        return f"unexplained {response.status_code}"
    if response.status_code == 404:
        return "not_found"
    return "allow"


def _client(world: World, caller: Caller) -> tuple[TestClient, dict[str, str], str]:
    """A client for one request: a fresh session (and its CSRF token) for operators."""
    c = world.console
    client = TestClient(
        c.app, base_url=BASE_URL, raise_server_exceptions=False, client=OUTSIDE_ADDRESS
    )
    client.cookies.set("__Host-cardshield_login", world.login_csrf)
    headers: dict[str, str] = {}
    csrf = ""
    if caller.key:
        headers["Authorization"] = f"Bearer {caller.key}"
    if caller.operator_id:
        stage: sessions.Stage = "mfa" if caller.kind == "pending" else "active"
        with c.engine.begin() as conn:
            token = sessions.start(conn, now=c.clock(), operator_id=caller.operator_id, stage=stage)
            live = sessions.load(conn, token.reveal(), now=c.clock())
        assert live is not None
        client.cookies.set("__Host-cardshield_session", token.reveal())
        csrf = live.csrf_token
    return client, headers, csrf


def test_every_route_against_every_caller(world: World) -> None:
    c = world.console
    c.services.limiter.reset()
    # Every caller fails the pay connector's credential check from one address: let them all
    # be answered 401 rather than 429 once past the failure limit.
    c.app.state.pay_connector_limiter = RateLimiter(
        "memory://", dict.fromkeys(pay_connector_limits.rules(c.runtime.settings), "10000/minute")
    )
    routes = declarations(c.app)
    assert len(routes) >= 40
    mismatches, cells = [], 0
    for method, path, access in routes:
        in_path = [m.group(1) for m in _PARAM.finditer(path)]
        unknown = any(p not in world.params for p in in_path)
        url = _PARAM.sub(lambda m: world.params.get(m.group(1), "x_unknown"), path)
        for caller in world.callers:
            client, headers, csrf = _client(world, caller)
            body: dict[str, Any] = {}
            if method != "GET" and access.kind in CONSOLE_KINDS:
                token = world.login_csrf if access.kind == "anonymous_form" else csrf
                body["data"] = {"csrf_token": token}
            elif method != "GET":
                body["json"] = {}  # a well-formed JSON body, so access is decided first
            response = client.request(method, url, headers=headers, follow_redirects=False, **body)
            cells += 1
            want = expected(access, caller, names_an_object=bool(in_path) and not unknown)
            got = outcome(response)
            if unknown and want == "allow" and got == "not_found":
                got = "allow"
            if caller.kind == "scoped" and want == "allow" and got == "not_found":
                got = "allow"  # authorized; an earlier caller deleted the object it names
            if got != want:
                mismatches.append(f"{method} {path} as {caller.name}: want {want}, got {got}")
            assert_no_card_data(response.content, pans=(MATRIX_PAN,))
    assert not mismatches, "\n".join(mismatches)
    assert cells == len(routes) * len(world.callers)


# The test client opens sockets as ws:// on the base URL's host: the page's own origin then.
SOCKET_ORIGIN = BASE_URL.replace("https://", "http://")


def _socket_opens(client: TestClient, url: str, headers: dict[str, str]) -> bool:
    """Whether the server accepts the WebSocket upgrade (and keeps it open)."""
    try:
        with client.websocket_connect(url, headers=headers) as ws:
            ws.close()
    except WebSocketDisconnect:
        return False
    return True


def test_every_websocket_route_against_every_caller(world: World) -> None:
    """The WebSocket routes, which the HTTP matrix above cannot call: the agent screen's
    socket opens for a signed-in role with phone capture only (with its session's CSRF token
    and the console's own Origin, as the page sends them), and the media stream socket for
    no caller here (it needs Twilio's signature)."""
    c = world.console
    sockets = [
        (route.path, route_access(route))
        for route in iter_routes(c.app)
        if route.methods is None and hasattr(route, "path")
    ]
    assert {path for path, _ in sockets} >= {
        "/console/phone/live/{call_sid}",
        "/phone/twilio/media",
    }
    mismatches = []
    for path, access in sockets:
        url = _PARAM.sub("CA" + "5" * 32, path)
        for caller in world.callers:
            client, headers, csrf = _client(world, caller)
            query = f"?csrf={csrf}" if csrf else ""
            opened = _socket_opens(client, url + query, {**headers, "Origin": SOCKET_ORIGIN})
            want = expected(access, caller, names_an_object=False) == "allow"
            if opened != want:
                mismatches.append(f"WS {path} as {caller.name}: want {want}, got {opened}")
    assert not mismatches, "\n".join(mismatches)


def test_the_matrix_sees_the_declarations_it_tests(world: World) -> None:
    """Spot checks that the expectations are not vacuous: each kind of access appears."""
    kinds = {access.kind for _, _, access in declarations(world.console.app)}
    assert {
        "public",
        "internal",
        "anonymous_form",
        "secret_key",
        "publishable_key",
        "mfa_pending",
        "signed_in",
        "permission",
    } <= kinds
    perms = {a.scope for _, _, a in declarations(world.console.app) if a.kind == "permission"}
    assert perms == {p.value for p in Permission}


# The scope each secret-key route needs: part of the API's contract, so changing a route's
# declaration means changing this table too. Saving a card consumes a shopper's token and
# creates a reusable one: it is tokens:create (which secret keys hold by default), never
# the read scope.
API_SCOPES = {
    ("GET", "/v1/tokens/{token_id}"): "tokens:read",
    ("POST", "/v1/payments"): "payments:write",
    ("GET", "/v1/payments"): "payments:read",
    ("GET", "/v1/payments/{payment_id}"): "payments:read",
    ("POST", "/v1/payments/{payment_id}/capture"): "payments:write",
    ("POST", "/v1/payments/{payment_id}/void"): "payments:write",
    ("POST", "/v1/payments/{payment_id}/confirm"): "payments:write",
    ("POST", "/v1/refunds"): "payments:write",
    ("GET", "/v1/refunds/{refund_id}"): "payments:read",
    ("POST", "/v1/verifications"): "payments:write",
    ("POST", "/v1/payment_methods"): "tokens:create",
    ("GET", "/v1/payment_methods/{pm_id}"): "tokens:read",
    ("DELETE", "/v1/payment_methods/{pm_id}"): "tokens:delete",
    ("GET", "/v1/events"): "payments:read",
    ("GET", "/v1/events/{event_id}"): "payments:read",
    ("POST", "/v1/webhook_endpoints"): "webhooks:manage",
    ("GET", "/v1/webhook_endpoints"): "webhooks:manage",
    ("GET", "/v1/webhook_endpoints/{endpoint_id}"): "webhooks:manage",
    ("DELETE", "/v1/webhook_endpoints/{endpoint_id}"): "webhooks:manage",
    ("POST", "/v1/forward"): "proxy:forward",
    ("POST", "/v1/phone/rtp/sessions"): "payments:write",
    ("DELETE", "/v1/phone/rtp/sessions/{call_sid}"): "payments:write",
}


def test_api_routes_declare_the_scopes_of_the_contract(world: World) -> None:
    """The matrix checks that each route enforces what it declares; this checks what it
    declares: the scope of API_SCOPES, and never a read scope for a route that changes
    something (a tokens:read key must not save cards)."""
    declared = {
        (method, path): access.scope
        for method, path, access in declarations(world.console.app)
        if access.kind == "secret_key"
    }
    assert declared == API_SCOPES
    writes_with_read = sorted(
        f"{method} {path}"
        for (method, path), scope in declared.items()
        if method != "GET" and scope is not None and scope.endswith(":read")
    )
    assert not writes_with_read
    assert set(declared.values()) | {"tokens:create"} <= SCOPES


def test_a_route_without_a_declaration_fails() -> None:
    app = FastAPI(redoc_url=None)  # as cardshield's app: /openapi.json and /docs only
    router = APIRouter(dependencies=[Public])

    @router.get("/fine")
    def fine() -> None: ...

    app.include_router(router)
    assert [(m, p) for m, p, _ in declarations(app)][-1] == ("GET", "/fine")

    @app.get("/v1/forgotten")
    def forgotten() -> None: ...

    with pytest.raises(UndeclaredRoute, match="/v1/forgotten"):
        declarations(app)

    @app.get("/v1/confused", dependencies=[Public, Depends(lambda: None)])
    def confused() -> None: ...

    assert route_access(next(r for r in iter_routes(app) if r.path == "/v1/confused")).kind == (
        "public"
    )


def test_sensitive_console_actions_need_a_fresh_confirmation(console: Console) -> None:
    """Creating keys, changing roles, rolling secrets: a session older than 5 minutes is
    sent to confirm its password and code first, then the action works."""
    c = console
    c.services.limiter.reset()
    c.add_operator("fresh-admin", Role.ADMIN)
    client = c.client()
    csrf = c.sign_in(client, "fresh-admin")
    c.clock.advance(minutes=6)
    form = {"csrf_token": csrf, "merchant": c.merchant, "kind": "secret", "scopes": "tokens:read"}
    stale = client.post("/console/api-keys", data=form, follow_redirects=False)
    assert stale.status_code == 303
    assert stale.headers["location"] == "/console/reauth?next=/console/api-keys"
    confirm = client.post(
        "/console/reauth",
        data={
            "csrf_token": csrf,
            "password": PASSWORD,
            "code": c.code("fresh-admin"),
            "next": "/console/api-keys",
        },
        follow_redirects=False,
    )
    assert confirm.status_code == 303 and confirm.headers["location"] == "/console/api-keys"
    created = client.post("/console/api-keys", data=form)
    assert created.status_code == 200 and "sk_live_" in created.text
    c.clock.advance(minutes=5)
    again = client.post("/console/api-keys", data=form, follow_redirects=False)
    assert again.status_code == 303 and "/console/reauth" in again.headers["location"]


def test_operators_limited_to_a_merchant_see_only_its_payments(
    console: Console, world: World
) -> None:
    c = console
    other_admin = c.add_operator("matrix-other-admin", Role.ADMIN, merchant=c.other_merchant)
    client = c.client()
    with c.engine.begin() as conn:
        token = sessions.start(conn, now=c.clock(), operator_id=other_admin.id, stage="active")
    client.cookies.set("__Host-cardshield_session", token.reveal())
    assert client.get("/console/payments/pay_matrix1").status_code == 404
    listing = client.get("/console/payments")
    assert listing.status_code == 200 and "pay_matrix1" not in listing.text
    keys = client.get(f"/console/api-keys?merchant={c.merchant}")
    assert keys.status_code == 404


@dataclass(frozen=True)
class SignedInAgent:
    client: TestClient
    csrf: str
    actor: str  # how the audit log names the agent


def _agent_of(c: Console, username: str, merchant: str | None) -> SignedInAgent:
    """An agent limited to ``merchant`` (``None``: all merchants), signed in."""
    op = c.add_operator(username, Role.AGENT, merchant=merchant)
    client = c.client()
    with c.engine.begin() as conn:
        token = sessions.start(conn, now=c.clock(), operator_id=op.id, stage="active")
        live = sessions.load(conn, token.reveal(), now=c.clock())
    assert live is not None
    client.cookies.set("__Host-cardshield_session", token.reveal())
    return SignedInAgent(client, live.csrf_token, f"operator:{op.id}")


def _messages_until_echo(ws: Any) -> list[dict[str, Any]]:
    """Every message the socket sends before the answer to an unknown action (which always
    comes, so reading never hangs)."""
    ws.send_text(json.dumps({"action": "echo"}))
    seen = []
    while (message := json.loads(ws.receive_text())) != {
        "type": "error",
        "code": "unknown_action",
    }:
        seen.append(message)
    return seen


def test_an_agent_socket_opened_before_the_call_never_reaches_another_merchants_call(
    console: Console,
) -> None:
    """An agent of the other merchant opens the live socket for a call id before the call
    exists; the call then comes in for the first merchant (its own agent starts capture and
    the caller keys the card). The early socket is pushed nothing, and start, re-request,
    cancel and charge are refused as for an unknown call; the call is untouched, and the
    first merchant's agent goes on to charge it."""
    c = console
    c.services.limiter.reset()
    call = "CA" + "6" * 32
    intruding = _agent_of(c, "capture-intruder", c.other_merchant)
    owning = _agent_of(c, "capture-owner", c.merchant)
    url = f"/console/phone/live/{call}?csrf="
    origin = {"Origin": SOCKET_ORIGIN}
    store = CallStore(c.engine)
    not_found = {"type": "error", "code": "call_not_found"}
    actions = [
        {"action": "cancel"},
        {"action": "rerequest", "field": "card"},
        {"action": "charge", "amount": 700, "currency": "EUR"},
        {"action": "start"},
    ]
    with intruding.client.websocket_connect(url + intruding.csrf, headers=origin) as intruder:
        for action in actions[:-1]:  # an unknown call (start would create one)
            intruder.send_text(json.dumps(action))
            assert json.loads(intruder.receive_text()) == not_found
        with owning.client.websocket_connect(url + owning.csrf, headers=origin) as owner:
            owner.send_text(json.dumps({"action": "start"}))
            while json.loads(owner.receive_text())["step"] != "expiry":
                pass  # the row as created (idle), then with capture started
            pad = keypad(c.runtime, c.clock)
            for digit in "1230#" + MATRIX_PAN + "#" + "123#":
                pad.press(call, digit)
            ready = store.get(call)
            assert (ready.step, ready.merchant_id) == ("ready", c.merchant)
            # Long enough for the early socket to have read the row (a notice, or its fallback).
            time.sleep(agent_screen.FALLBACK_S * 1.5)
            for action in actions:
                intruder.send_text(json.dumps(action))
            seen = _messages_until_echo(intruder)
            assert seen == [not_found] * len(actions), seen
            assert store.get(call) == ready
            owner.send_text(json.dumps({"action": "charge", "amount": 700, "currency": "EUR"}))
            while (view := json.loads(owner.receive_text())).get("outcome") is None:
                assert view.get("type") == "capture", view
            assert view["outcome"] == "approved"
        assert _messages_until_echo(intruder) == []  # nor the charge's view
        assert_no_card_data(json.dumps(view), pans=(MATRIX_PAN,))
    with c.engine.connect() as conn:
        entries = conn.execute(select(audit_log).where(audit_log.c.target == call)).all()
    assert {e.action for e in entries} >= {"phone.capture.start", "phone.capture.charge"}
    assert intruding.actor not in {e.actor for e in entries}


def test_an_agent_socket_for_another_merchants_existing_call_is_refused(
    console: Console,
) -> None:
    """The WebSocket matrix's merchant cell: an agent limited to one merchant cannot open the
    live socket of another merchant's existing call; an agent of that merchant, and an
    agent for all merchants, can."""
    c = console
    c.services.limiter.reset()
    call = "CA" + "8" * 32
    agent_control(c.runtime).start(call, c.merchant, now=c.clock(), actor="test")
    url = f"/console/phone/live/{call}?csrf="
    origin = {"Origin": SOCKET_ORIGIN}
    other = _agent_of(c, "socket-other-agent", c.other_merchant)
    assert not _socket_opens(other.client, url + other.csrf, origin)
    for agent in (
        _agent_of(c, "socket-own-agent", c.merchant),
        _agent_of(c, "socket-all-agent", None),
    ):
        with agent.client.websocket_connect(url + agent.csrf, headers=origin) as ws:
            assert json.loads(ws.receive_text())["call_sid"] == call
