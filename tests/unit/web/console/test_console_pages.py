"""Console pages doing their jobs: payments (list, filters, timeline, capture, refund, void
through the payments service and the sandbox processor), API keys shown once, webhooks
with replay, the audit viewer with chain verification, users and roles, the dashboard.
Every page is scanned for the canary card number."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from cardshield.cards import PAN, Expiry
from cardshield.payments.views import PaymentView
from cardshield.security.permissions import Role
from cardshield.storage.schema import (
    api_keys,
    audit_log,
    events,
    operators,
    webhook_deliveries,
)
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.web.console.support import Console, build_console


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    c = build_console(f"sqlite:///{tmp_path_factory.mktemp('pages')}/c.db")
    assert c.services.payments is c.runtime.payments  # the console uses the runtime's
    with c.client():
        yield c
    c.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_limits(console: Console) -> None:
    console.services.limiter.reset()


def _pay(c: Console, amount: int, *, manual: bool = False, pan: str = CANARY_PAN) -> PaymentView:
    token = c.runtime.vault.tokenize(c.merchant, PAN(pan), Expiry(2030, 12), now=c.clock()).token
    view: PaymentView = c.services.payments.create(
        c.merchant,
        amount=amount,
        currency="EUR",
        token=token,
        capture_method="manual" if manual else "automatic",
        now=c.clock(),
    )
    return view


def _signed_in(c: Console, username: str, role: Role) -> tuple[TestClient, str]:
    c.add_operator(username, role)
    client = c.client()
    return client, c.sign_in(client, username)


def _actions(engine: Engine, prefix: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.actor)
            .where(audit_log.c.action.startswith(prefix))
            .order_by(audit_log.c.seq)
        )
        return [(r.action, r.actor) for r in rows]


def test_payments_list_detail_and_actions(console: Console) -> None:
    c = console
    captured = _pay(c, 2500)
    held = _pay(c, 1200, manual=True)
    voided = _pay(c, 700, manual=True)
    declined = _pay(c, 900, pan="4000000000000002")
    client, csrf = _signed_in(c, "pat", Role.OPERATOR)

    listing = client.get("/console/payments")
    assert listing.status_code == 200
    for p in (captured, held, voided, declined):
        assert p.id in listing.text
    assert listing.headers["cache-control"] == "no-store"
    only_failed = client.get("/console/payments?status=failed")
    assert declined.id in only_failed.text and captured.id not in only_failed.text
    by_last4 = client.get("/console/payments?last4=0002")
    assert declined.id in by_last4.text and held.id not in by_last4.text

    detail = client.get(f"/console/payments/{captured.id}")
    assert detail.status_code == 200
    assert "visa •••• 4242" in detail.text and "BIN 424242" in detail.text
    assert "payment.succeeded" in detail.text or "authorize: succeeded" in detail.text
    assert 'id="refund"' in detail.text and 'id="capture"' not in detail.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', detail.text)
    assert key is not None
    form = {"csrf_token": csrf, "idempotency_key": key.group(1), "amount": "10.00"}
    refunded = client.post(f"/console/payments/{captured.id}/refund", data=form)
    assert refunded.status_code == 200 and "Refund requested" in refunded.text
    again = client.post(f"/console/payments/{captured.id}/refund", data=form)  # sent twice
    assert again.status_code == 200
    after = c.services.payments.retrieve(c.merchant, captured.id)
    assert after.amount_refunded == 1000 and after.status == "partially_refunded"
    too_much = client.post(
        f"/console/payments/{captured.id}/refund",
        data={"csrf_token": csrf, "idempotency_key": "other-key", "amount": "99.00"},
    )
    assert too_much.status_code == 400

    held_page = client.get(f"/console/payments/{held.id}")
    assert 'id="capture"' in held_page.text and 'id="void"' in held_page.text
    capture = client.post(
        f"/console/payments/{held.id}/capture",
        data={"csrf_token": csrf, "idempotency_key": "cap-1", "amount": ""},
    )
    assert capture.status_code == 200
    assert c.services.payments.retrieve(c.merchant, held.id).status == "captured"
    void = client.post(
        f"/console/payments/{voided.id}/void", data={"csrf_token": csrf, "idempotency_key": "v-1"}
    )
    assert void.status_code == 200
    assert c.services.payments.retrieve(c.merchant, voided.id).status == "voided"
    actor = {r.actor for r in _audited(c.engine, captured.id, held.id, voided.id)}
    assert any(a.startswith("operator:op_") for a in actor)

    for page in (listing, only_failed, detail, refunded, held_page, capture, void):
        assert_no_card_data(page.content)
    assert client.get("/console/payments/pay_nope").status_code == 404


# Amounts the capture and refund forms refuse (400, the form's error), each for its reason:
# not finite, not a plain decimal number, not positive, more decimals than the currency
# has (also past the 28 digits decimal arithmetic keeps), or above the largest amount.
BAD_AMOUNTS = (
    "Infinity",
    "-Infinity",
    "inf",
    "NaN",
    "sNaN",
    "-sNaN",
    "1E+99999999",
    "1e2",
    "0x10",
    "1_000",
    "\uff11\uff10",  # fullwidth digits
    "-5",
    "-0.01",
    "0",
    "0.00",
    "10.005",
    "10.5000000000000000000000000001",
    "0.0000000000000000000000000001",
    "1000000000",
    "99999999999999999999999999999999",
    "10.",
    ".5",
    "1.2.3",
    "+5",
)


def test_capture_and_refund_amounts_must_be_finite_bounded_and_in_minor_units(
    console: Console,
) -> None:
    c = console
    held = _pay(c, 1200, manual=True)
    paid = _pay(c, 2500)
    client, csrf = _signed_in(c, "amy", Role.OPERATOR)
    for n, amount in enumerate(BAD_AMOUNTS):
        for action, payment in (("capture", held), ("refund", paid)):
            form = {"csrf_token": csrf, "idempotency_key": f"bad-{action}-{n}", "amount": amount}
            page = client.post(f"/console/payments/{payment.id}/{action}", data=form)
            assert page.status_code == 400, (action, amount, page.status_code)
            assert "The amount" in page.text, (action, amount)
    assert c.services.payments.retrieve(c.merchant, held.id).status == "authorized"
    assert c.services.payments.retrieve(c.merchant, paid.id).amount_refunded == 0
    # Plain amounts in the currency's precision still work.
    for n, amount in enumerate(("0.01", " 1.5 ", "2", "3.00")):
        form = {"csrf_token": csrf, "idempotency_key": f"good-{n}", "amount": amount}
        page = client.post(f"/console/payments/{paid.id}/refund", data=form)
        assert page.status_code == 200 and "Refund requested" in page.text, (amount, page.text)
    assert c.services.payments.retrieve(c.merchant, paid.id).amount_refunded == 651
    form = {"csrf_token": csrf, "idempotency_key": "good-capture", "amount": "12.00"}
    assert client.post(f"/console/payments/{held.id}/capture", data=form).status_code == 200
    assert c.services.payments.retrieve(c.merchant, held.id).status == "captured"


def test_amounts_follow_the_currencys_minor_units() -> None:
    from cardshield.payments.money import MAX_AMOUNT, InvalidAmount
    from cardshield.web.console.pages.payments import _minor

    assert _minor("10", "JPY") == 10 and _minor("1.234", "KWD") == 1234
    assert _minor("10.500", "EUR") == 1050 and _minor("007.5", "EUR") == 750
    assert _minor("999999999.99", "EUR") == MAX_AMOUNT and _minor("", "EUR") is None
    for amount, currency in (("10.5", "JPY"), ("1.2345", "KWD"), ("1000000000.00", "EUR")):
        with pytest.raises(InvalidAmount):
            _minor(amount, currency)


def _audited(engine: Engine, *targets: str) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log).where(audit_log.c.target.in_(targets))))


def test_agents_and_auditors_cannot_move_money(console: Console) -> None:
    c = console
    paid = _pay(c, 1500)
    client, csrf = _signed_in(c, "aud", Role.AUDITOR)
    assert client.get(f"/console/payments/{paid.id}").status_code == 403
    refused = client.post(
        f"/console/payments/{paid.id}/refund", data={"csrf_token": csrf, "idempotency_key": "k"}
    )
    assert refused.status_code == 403
    assert c.services.payments.retrieve(c.merchant, paid.id).amount_refunded == 0
    with c.engine.connect() as conn:
        denied = conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "console.access_denied")
        ).all()
    assert any("payments:refund" in d.details for d in denied)


def test_api_keys_secret_is_shown_once(console: Console) -> None:
    c = console
    client, csrf = _signed_in(c, "dev", Role.DEVELOPER)
    created = client.post(
        "/console/api-keys",
        data={
            "csrf_token": csrf,
            "merchant": c.merchant,
            "kind": "secret",
            "scopes": ["tokens:read", "payments:read"],
            "description": f"backend {CANARY_PAN}",
        },
    )
    assert created.status_code == 200
    secret = re.search(r'id="new-key"[^>]*>(sk_live_[0-9A-Za-z]{43})<', created.text)
    assert secret is not None
    listing = client.get(f"/console/api-keys?merchant={c.merchant}")
    assert secret.group(1) not in listing.text and secret.group(1)[:12] in listing.text
    assert_no_card_data(created.content + listing.content)
    with c.engine.connect() as conn:
        key_id, revoked = conn.execute(
            select(api_keys.c.id, api_keys.c.revoked_at).where(
                api_keys.c.key_hash.isnot(None), api_keys.c.description.like("backend%")
            )
        ).one()
    assert revoked is None
    rolled = client.post(
        f"/console/api-keys/{key_id}/roll", data={"csrf_token": csrf, "merchant": c.merchant}
    )
    assert rolled.status_code == 200 and "sk_live_" in rolled.text
    assert secret.group(1) not in rolled.text
    with c.engine.connect() as conn:
        assert conn.execute(
            select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)
        ).scalar_one()
    assert [a for a, _ in _actions(c.engine, "api_key.")][-3:] == [
        "api_key.create",
        "api_key.create",
        "api_key.revoke",
    ]
    assert all(actor.startswith("operator:op_") for _, actor in _actions(c.engine, "api_key."))


def test_webhooks_endpoint_log_and_replay(console: Console) -> None:
    c = console
    client, csrf = _signed_in(c, "hook", Role.DEVELOPER)
    added = client.post(
        "/console/webhooks",
        data={
            "csrf_token": csrf,
            "merchant": c.merchant,
            "url": "https://hooks.example.com/in",
            "enabled_events": "*",
        },
    )
    assert added.status_code == 200 and "whsec_" in added.text
    insecure = client.post(
        "/console/webhooks",
        data={"csrf_token": csrf, "merchant": c.merchant, "url": "http://hooks.example.com/in"},
    )
    assert insecure.status_code == 400 and "https" in insecure.text
    _pay(c, 3100)  # its events are queued for the endpoint
    with c.engine.begin() as conn:
        delivery = (
            conn.execute(select(webhook_deliveries.c.id).order_by(webhook_deliveries.c.id.desc()))
            .scalars()
            .first()
        )
        assert delivery is not None
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery)
            .values(status="failed", attempts=8, last_status_code=500)
        )
    page = client.get(f"/console/webhooks?merchant={c.merchant}&status=failed")
    assert page.status_code == 200 and f">{delivery}<" in page.text
    replayed = client.post(
        f"/console/webhooks/deliveries/{delivery}/replay",
        data={"csrf_token": csrf, "merchant": c.merchant},
    )
    assert replayed.status_code == 200 and "Queued again" in replayed.text
    with c.engine.connect() as conn:
        status = conn.execute(
            select(webhook_deliveries.c.status).where(webhook_deliveries.c.id == delivery)
        ).scalar_one()
        assert conn.execute(select(events.c.id)).first() is not None
    assert status == "pending"
    replays = _actions(c.engine, "webhook.replay")
    assert replays and replays[-1][1].startswith("operator:op_")
    assert_no_card_data(page.content)


def test_audit_viewer_filters_and_verifies_the_chain(console: Console) -> None:
    c = console
    client, csrf = _signed_in(c, "judy", Role.AUDITOR)
    everything = client.get("/console/audit")
    assert everything.status_code == 200 and "operator.login" in everything.text
    logins = client.get("/console/audit?action=operator.login&outcome=success")
    rows = re.findall(r'<td class="mono">(operator\.[a-z_]+)</td>', logins.text)
    assert rows and set(rows) == {"operator.login"}
    cards = client.get("/console/audit?action=card.")
    shown = set(re.findall(r'<td class="mono">([a-z_]+\.[a-z_.]+)</td>', cards.text))
    assert "card.tokenize" in shown and all(a.startswith("card.") for a in shown)
    assert_no_card_data(everything.content + cards.content)
    intact = client.post("/console/audit/verify", data={"csrf_token": csrf})
    assert intact.status_code == 200 and "The audit log is intact" in intact.text
    with c.engine.begin() as conn:
        seq = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars().first()
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(actor="mallory"))
    tampered = client.post("/console/audit/verify", data={"csrf_token": csrf})
    assert "Tampering found" in tampered.text and f"audit entry {seq}: edited" in tampered.text
    with c.engine.begin() as conn:  # put it back for the other tests
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(actor="test"))


def test_users_and_roles(console: Console) -> None:
    c = console
    client, csrf = _signed_in(c, "boss", Role.ADMIN)
    weak = client.post(
        "/console/users",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "password": "password1234",
            "role": "agent",
        },
    )
    assert weak.status_code == 400 and "commonly used" in weak.text
    made = client.post(
        "/console/users",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "password": "long-and-unusual-42",
            "role": "agent",
        },
    )
    assert made.status_code == 200 and "newbie" in made.text
    with c.engine.connect() as conn:
        newbie = conn.execute(select(operators.c.id).where(operators.c.username == "newbie"))
        newbie_id = newbie.scalar_one()
    changed = client.post(
        f"/console/users/{newbie_id}/role", data={"csrf_token": csrf, "role": "auditor"}
    )
    assert changed.status_code == 200
    reset = client.post(f"/console/users/{newbie_id}/reset-mfa", data={"csrf_token": csrf})
    disabled = client.post(f"/console/users/{newbie_id}/disable", data={"csrf_token": csrf})
    assert reset.status_code == disabled.status_code == 200
    with c.engine.connect() as conn:
        row = conn.execute(select(operators).where(operators.c.id == newbie_id)).one()
    assert row.role == "auditor" and row.disabled_at is not None
    changes = [a for a, _ in _actions(c.engine, "operator.")]
    for action in ("operator.create", "operator.role_change", "operator.mfa_reset"):
        assert action in changes


def test_dashboard_charts(console: Console) -> None:
    c = console
    _pay(c, 1100)
    _pay(c, 1200, pan="4000000000000002")
    client, _ = _signed_in(c, "dash", Role.AUDITOR)
    page = client.get("/console/dashboard")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 3
    totals = dict(re.findall(r"<strong>([A-Za-z -]+)</strong> · (\d+) in 14 days", page.text))
    with c.engine.connect() as conn:
        made = len(
            conn.execute(
                select(audit_log.c.seq).where(audit_log.c.action.startswith("card."))
            ).all()
        )
    assert int(totals["Card-data accesses"]) == made
    assert int(totals["Declines"]) >= 1 and int(totals["Payments"]) >= 2
    assert "<script" not in page.text.split("</head>")[1]
    assert_no_card_data(page.content)


def test_payments_read_only_without_a_payments_service(console: Console) -> None:
    c = console
    paid = _pay(c, 1300)
    service, c.services.payments = c.services.payments, None
    try:
        client, csrf = _signed_in(c, "ro-op", Role.OPERATOR)
        page = client.get(f"/console/payments/{paid.id}")
        assert page.status_code == 200 and 'id="refund"' not in page.text
        posted = client.post(
            f"/console/payments/{paid.id}/refund", data={"csrf_token": csrf, "idempotency_key": "x"}
        )
        assert posted.status_code == 400 and "read-only" in posted.text
    finally:
        c.services.payments = service
