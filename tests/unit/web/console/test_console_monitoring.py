"""Monitoring: Prometheus metrics (internal clients only, no card data in labels), structured
security events, the card-access volume watch, and the tokenization rate limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from cardshield.cards import PAN, Expiry, luhn_check_digit
from cardshield.security.apikeys import create_key
from cardshield.security.monitor import watch_card_access
from cardshield.security.permissions import Role
from cardshield.web.metrics import internal_address
from tests.conftest import assert_no_card_data
from tests.unit.web.console.support import BASE_URL, Console, console_fixture, csrf_of

console = console_fixture("sqlite")
EVENTS = "cardshield_security_events_total"
CARD = "4556" + "00123456789"
CARD = CARD + luhn_check_digit(CARD)


@pytest.fixture(autouse=True)
def _fresh_limits(console: Console) -> None:
    console.services.limiter.reset()


def _client(c: Console, address: str) -> TestClient:
    return TestClient(c.app, base_url=BASE_URL, client=(address, 40000))


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_only_for_internal_clients_and_without_card_data(console: Console) -> None:
    c = console
    outside = _client(c, "198.51.100.4").get("/metrics")
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "internal_only"
    with c.engine.begin() as conn:
        sk = create_key(
            conn, now=c.clock(), merchant_id=c.merchant, kind="secret", scopes=["tokens:read"]
        )
    token = c.runtime.vault.tokenize(c.merchant, PAN(CARD), Expiry(2031, 1), now=c.clock()).token
    inside = _client(c, "10.1.2.3")
    before = inside.get("/metrics").text
    got = inside.get(f"/v1/tokens/{token}", headers={"Authorization": f"Bearer {sk.key.reveal()}"})
    assert got.status_code == 200
    scraped = inside.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    labels = {"route": "/v1/tokens/{token_id}", "method": "GET", "status": "200"}
    assert _metric(text, "cardshield_http_requests_total", **labels) == (
        _metric(before, "cardshield_http_requests_total", **labels) + 1
    )
    assert "cardshield_http_request_duration_seconds_bucket" in text
    assert token not in text and sk.key.reveal() not in text
    assert_no_card_data(text, pans=(CARD,))
    assert _metric(text, "cardshield_card_data_accesses_5m") >= 1
    assert internal_address("127.0.0.1") and internal_address("::1")
    assert internal_address("192.168.1.9") and internal_address("::ffff:10.0.0.1")
    assert not internal_address("8.8.8.8") and not internal_address("203.0.113.9")
    assert not internal_address("testclient") and not internal_address(None)


def test_failed_sign_ins_are_structured_events_and_counted(console: Console) -> None:
    c = console
    c.add_operator("watched", Role.AUDITOR)
    metrics = _client(c, "127.0.0.1")
    before = _metric(
        metrics.get("/metrics").text, "cardshield_security_events_total", event="login_failed"
    )
    client = c.client()
    page = client.get("/console/login")
    with capture_logs() as logs:
        client.post(
            "/console/login",
            data={
                "username": "watched",
                "password": "not-the-right-one",
                "csrf_token": csrf_of(page.text),
            },
        )
    failed = [e for e in logs if e.get("security_event") == "login_failed"]
    assert failed == [
        {
            "event": "security event",
            "log_level": "warning",
            "security_event": "login_failed",
            "username": "watched",
            "ip": "testclient",
            "reason": "bad_password",
        }
    ]
    after = _metric(
        metrics.get("/metrics").text, "cardshield_security_events_total", event="login_failed"
    )
    assert after == before + 1


def test_permission_denials_are_events(console: Console) -> None:
    c = console
    c.add_operator("nosy-agent", Role.AGENT)
    client = c.client()
    c.sign_in(client, "nosy-agent")
    with capture_logs() as logs:
        assert client.get("/console/audit").status_code == 403
    denied = [e for e in logs if e.get("security_event") == "permission_denied"]
    assert len(denied) == 1 and denied[0]["permission"] == "audit:view"


def test_unusual_card_access_volume_is_reported(console: Console) -> None:
    c = console
    now = c.clock()
    for _ in range(6):
        c.runtime.vault.tokenize(
            c.merchant, PAN(CARD), Expiry(2031, 1), now=now, actor="api_key:key_busy"
        )
    c.runtime.vault.tokenize(
        c.merchant, PAN(CARD), Expiry(2031, 1), now=now, actor="api_key:key_calm"
    )
    with capture_logs() as logs:
        loud = watch_card_access(c.engine, now=now + timedelta(seconds=1), threshold=5)
    assert [v.actor for v in loud] == ["api_key:key_busy"] and loud[0].count == 6
    alerts = [e for e in logs if e.get("security_event") == "card_access_volume"]
    assert len(alerts) == 1 and alerts[0]["actor"] == "api_key:key_busy"
    later = watch_card_access(c.engine, now=now + timedelta(minutes=6), threshold=5)
    assert later == []


def test_tokenization_is_rate_limited_per_key_and_address(console: Console) -> None:
    c = console
    with c.engine.begin() as conn:
        pk = create_key(
            conn,
            now=c.clock(),
            merchant_id=c.merchant,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=["https://shop.example"],
        )
    headers = {"Authorization": f"Bearer {pk.key.reveal()}"}
    body = {"card": {"number": CARD, "exp_month": 1, "exp_year": 2031}}
    shopper = _client(c, "203.0.113.50")
    c.app.state.rate_limiter = None  # a fresh limiter for this app
    statuses = [
        shopper.post("/v1/tokens", json=body, headers=headers).status_code for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    limited = shopper.post("/v1/tokens", json=body, headers=headers)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert_no_card_data(limited.text, pans=(CARD,))
    other = _client(c, "203.0.113.51")  # another shopper of the same merchant
    assert other.post("/v1/tokens", json=body, headers=headers).status_code == 200
