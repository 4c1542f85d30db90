"""PaymentService through the sandbox processor, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cardshield.cards import Expiry
from cardshield.errors import CardDataInText, CardshieldError
from cardshield.gateways.sandbox.transformers import LedgerEntry
from cardshield.payments.views import PaymentView
from cardshield.storage.schema import (
    events,
    idempotency_keys,
    payment_operations,
    payments,
    refunds,
)
from tests.unit.payments.conftest import NOW, PayEnv

T1, T2, T3, T4 = (NOW + timedelta(seconds=s) for s in (1, 2, 3, 4))


def codes(call: Any) -> tuple[str, int, str | None]:
    with pytest.raises(CardshieldError) as info:
        call()
    err = info.value
    return err.code, err.http_status, err.param


def test_manual_authorize_partial_capture_and_refunds(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    p = s.create(
        m, amount=1000, currency="eur", token=env.token(), capture_method="manual", now=NOW
    )
    assert (p.status, p.amount_authorized, p.amount_captured, p.currency) == (
        "authorized",
        1000,
        0,
        "EUR",
    )
    assert p.card is not None and p.card.last4 == "4242" and p.connector == "sandbox"
    assert p.to_dict()["amount_capturable"] == 1000
    c = s.capture(m, p.id, amount=600, now=T1)
    assert (c.status, c.amount_captured, c.amount_authorized) == ("captured", 600, 1000)
    r1 = s.refund(m, p.id, amount=200, reason="requested_by_customer", now=T2)
    assert (r1.status, r1.amount, r1.payment, r1.reason) == (
        "succeeded",
        200,
        p.id,
        "requested_by_customer",
    )
    assert s.retrieve(m, p.id).status == "partially_refunded"
    r2 = s.refund(m, p.id, now=T3)  # the rest
    assert r2.amount == 400
    final = s.retrieve(m, p.id)
    assert (final.status, final.amount_refunded) == ("refunded", 600)
    assert s.retrieve_refund(m, r1.id) == r1

    assert env.events(p.id) == [
        "payment.authorized",
        "payment.captured",
        "refund.succeeded",
        "payment.refunded",
        "refund.succeeded",
        "payment.refunded",
    ]
    assert [a[0] for a in env.audit(p.id)] == [
        "payment.create",
        "payment.authorize",
        "payment.capture",
        "payment.refund",
        "payment.refund",
    ]
    ledger = env.ledger(p.id)
    assert [(e.operation, e.amount, e.status) for e in ledger] == [
        ("authorize", 1000, "succeeded"),
        ("capture", 600, "succeeded"),
        ("refund", 200, "succeeded"),
        ("refund", 400, "succeeded"),
    ]
    assert all(op["status"] == "succeeded" for op in env.ops(p.id))
    assert env.row(p.id)["version"] == 8  # 1 + 3 reservations + 4 recordings


def test_automatic_capture_and_void(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    sale = s.create(m, amount=1500, currency="USD", token=env.token(), now=NOW)
    assert (sale.status, sale.amount_captured, sale.capture_method) == (
        "captured",
        1500,
        "automatic",
    )
    assert env.events(sale.id) == ["payment.authorized", "payment.captured"]
    assert [e.operation for e in env.ledger(sale.id)] == ["sale"]

    held = s.create(
        m, amount=700, currency="USD", token=env.token(), capture_method="manual", now=NOW
    )
    voided = s.void(m, held.id, now=T1)
    assert (voided.status, voided.amount_captured) == ("voided", 0)
    assert env.events(held.id) == ["payment.authorized", "payment.voided"]
    assert [e.operation for e in env.ledger(held.id)] == ["authorize", "void"]


def _payments_in_every_status(env: PayEnv) -> dict[str, str]:
    s, m = env.service, env.merchant
    by: dict[str, str] = {}
    by["authorized"] = s.create(
        m, amount=1000, currency="EUR", token=env.token(), capture_method="manual", now=NOW
    ).id
    by["captured"] = s.create(m, amount=1000, currency="EUR", token=env.token(), now=NOW).id
    part = s.create(m, amount=1000, currency="EUR", token=env.token(), now=NOW).id
    s.refund(m, part, amount=100, now=NOW)
    by["partially_refunded"] = part
    full = s.create(m, amount=1000, currency="EUR", token=env.token(), now=NOW).id
    s.refund(m, full, now=NOW)
    by["refunded"] = full
    void = s.create(
        m, amount=1000, currency="EUR", token=env.token(), capture_method="manual", now=NOW
    ).id
    s.void(m, void, now=NOW)
    by["voided"] = void
    by["failed"] = s.create(
        m, amount=1000, currency="EUR", token=env.token("4000000000000002"), now=NOW
    ).id
    by["requires_action"] = s.create(
        m, amount=1000, currency="EUR", token=env.token("4000000000003220"), now=NOW
    ).id
    by["verified"] = s.verify(m, token=env.token(), currency="EUR", now=NOW).id
    return by


ACTIONS = {
    "capture": lambda s, m, p: s.capture(m, p, now=T4),
    "void": lambda s, m, p: s.void(m, p, now=T4),
    "refund": lambda s, m, p: s.refund(m, p, amount=1, now=T4),
    "complete_action": lambda s, m, p: s.complete_action(m, p, now=T4),
}
ALLOWED = {
    "capture": {"authorized"},
    "void": {"authorized"},
    "refund": {"captured", "partially_refunded"},
    "complete_action": {"requires_action"},
}


def test_every_illegal_operation_is_refused_and_changes_nothing(env: PayEnv) -> None:
    by = _payments_in_every_status(env)
    assert {k: env.row(v)["status"] for k, v in by.items()} == {k: k for k in by}
    for action, call in ACTIONS.items():
        for status, pid in by.items():
            if status in ALLOWED[action]:
                continue
            before = (env.row(pid), len(env.ops(pid)), env.events(pid), len(env.ledger()))
            code, http, _ = codes(lambda: call(env.service, env.merchant, pid))  # noqa: B023
            assert (code, http) == ("payment_invalid_state", 400), (action, status)
            after = (env.row(pid), len(env.ops(pid)), env.events(pid), len(env.ledger()))
            assert after == before, (action, status)
    with pytest.raises(CardshieldError) as info:
        env.service.capture(env.merchant, by["voided"], now=T4)
    assert "status is voided" in info.value.message


def test_capture_and_refund_bounds(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    p = s.create(
        m, amount=1000, currency="EUR", token=env.token(), capture_method="manual", now=NOW
    )
    before = env.row(p.id)
    assert codes(lambda: s.capture(m, p.id, amount=1001, now=T1)) == (
        "amount_too_large",
        400,
        "amount",
    )
    assert codes(lambda: s.capture(m, p.id, amount=0, now=T1))[0] == "invalid_amount"
    assert codes(lambda: s.capture(m, p.id, amount=-3, now=T1))[0] == "invalid_amount"
    assert env.row(p.id) == before and len(env.ops(p.id)) == 1
    s.capture(m, p.id, amount=1000, now=T1)
    s.refund(m, p.id, amount=999, now=T2)
    assert codes(lambda: s.refund(m, p.id, amount=2, now=T3))[0] == "amount_too_large"
    assert codes(lambda: s.refund(m, p.id, amount=1, reason="bored", now=T3))[0] == (
        "parameter_invalid"
    )
    assert s.refund(m, p.id, amount=1, now=T3).status == "succeeded"
    assert codes(lambda: s.refund(m, p.id, now=T4))[0] == "payment_invalid_state"
    assert env.row(p.id)["amount_refunded"] == 1000
    assert codes(lambda: s.retrieve(m, "pay_nope")) == ("resource_missing", 404, "id")
    other = env.vault.create_merchant("other", now=NOW)
    assert codes(lambda: s.retrieve(other, p.id))[:2] == ("resource_missing", 404)
    assert codes(lambda: s.refund(other, p.id, now=T4))[:2] == ("resource_missing", 404)


def test_bad_input_gets_specific_codes_and_writes_nothing(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    tok = env.token()
    cases = [
        (dict(amount=1000, currency="XYZ"), ("invalid_currency", 400, "currency")),
        (dict(amount=0, currency="EUR"), ("invalid_amount", 400, "amount")),
        (dict(amount=-100, currency="EUR"), ("invalid_amount", 400, "amount")),
        (dict(amount=True, currency="EUR"), ("invalid_amount", 400, "amount")),
        (dict(amount=10.5, currency="EUR"), ("invalid_amount", 400, "amount")),
        (
            dict(amount=100, currency="EUR", capture_method="later"),
            ("parameter_invalid", 400, "capture_method"),
        ),
        (
            dict(amount=100, currency="EUR", metadata={f"k{i}": "v" for i in range(51)}),
            ("parameter_invalid", 400, "metadata"),
        ),
        (
            dict(amount=100, currency="EUR", return_url="javascript:alert(1)"),
            ("parameter_invalid", 400, "return_url"),
        ),
        (dict(amount=100, currency="EUR", token="tok_missing"), ("resource_missing", 404, "token")),
    ]
    for kwargs, expected in cases:
        kwargs = {"token": tok, **kwargs}
        assert codes(lambda: s.create(m, now=NOW, **kwargs)) == expected, kwargs  # noqa: B023

    used = env.token()
    s.create(m, amount=100, currency="EUR", token=used, now=NOW)
    expired = env.token()
    old_card = env.token(single_use=False, expiry=Expiry(2026, 12))
    counts = [env.count(t) for t in (payments, payment_operations, events, refunds)]
    ledger_rows = len(env.ledger())
    assert codes(lambda: s.create(m, amount=100, currency="EUR", token=used, now=NOW)) == (
        "token_already_used",
        400,
        "token",
    )
    late = NOW + timedelta(minutes=16)
    assert codes(lambda: s.create(m, amount=100, currency="EUR", token=expired, now=late)) == (
        "token_expired",
        400,
        "token",
    )
    next_year = NOW + timedelta(days=40)
    assert codes(
        lambda: s.create(m, amount=100, currency="EUR", token=old_card, now=next_year)
    ) == (
        "expired_card",
        402,
        "token",
    )
    assert codes(lambda: s.verify(m, token=tok, currency="ABC", now=NOW))[0] == "invalid_currency"
    assert [env.count(t) for t in (payments, payment_operations, events, refunds)] == counts
    assert len(env.ledger()) == ledger_rows
    # A verification is the one operation for zero.
    assert s.verify(m, token=tok, currency="EUR", now=NOW).amount == 0


CARD_OUTCOMES = [
    ("4242424242424242", "authorized", None),
    ("5555555555554444", "authorized", None),
    ("4000000000000010", "authorized", None),  # not a test card: succeeds
    ("4000000000000002", "failed", "card_declined"),
    ("4000000000009995", "failed", "insufficient_funds"),
    ("4000000000000069", "failed", "expired_card"),
    ("4000000000000127", "failed", "incorrect_cvc"),
    ("4000000000000119", "failed", "processing_error"),
    ("4000000000003220", "requires_action", None),
]


def test_test_card_outcomes(env: PayEnv) -> None:
    for number, status, decline in CARD_OUTCOMES:
        p = env.service.create(
            env.merchant,
            amount=2500,
            currency="GBP",
            token=env.token(number),
            capture_method="manual",
            now=NOW,
        )
        assert (p.status, p.decline_code) == (status, decline), number
        expected_event = {"authorized": "payment.authorized", "failed": "payment.failed"}
        assert env.events(p.id) == [expected_event.get(status, "payment.requires_action")]
        if decline:
            assert p.failure_message and p.amount_authorized == 0
            assert env.ops(p.id)[0]["status"] == "failed"
            assert env.row(p.id)["raw_decline_code"]
        if status == "requires_action":
            assert p.next_action is not None
            url = p.next_action["redirect_to_url"]["url"]
            assert url == f"https://cs.test/sandbox/3ds/{p.connector_reference}"


def test_three_d_secure_challenge_flow(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    back = "https://shop.example/return"
    p = s.create(
        m,
        amount=4200,
        currency="EUR",
        token=env.token("4000000000003220"),
        return_url=back,
        now=NOW,
    )
    assert p.status == "requires_action" and p.next_action is not None
    assert p.next_action["redirect_to_url"]["return_url"] == back
    assert env.ops(p.id)[0]["status"] == "pending"
    # Not answered yet: still waiting, nothing new.
    assert s.complete_action(m, p.id, now=T1).status == "requires_action"
    assert p.connector_reference is not None
    env.sandbox.approve_challenge(p.connector_reference)
    done = s.complete_action(m, p.id, now=T2)
    assert (done.status, done.amount_captured, done.next_action, done.return_url) == (
        "captured",
        4200,
        None,
        back,
    )
    assert env.events(p.id) == ["payment.requires_action", "payment.authorized", "payment.captured"]
    assert codes(lambda: s.complete_action(m, p.id, now=T3))[0] == "payment_invalid_state"
    assert len([e for e in env.ledger(p.id) if e.is_charge]) == 1

    # A refused challenge fails the payment; the processor's webhook settles it.
    q = s.create(m, amount=900, currency="EUR", token=env.token("4000002500003155"), now=NOW)
    assert q.connector_reference is not None
    env.sandbox.approve_challenge(q.connector_reference, approve=False)
    entry = env.sandbox.challenge(q.connector_reference)
    headers, body = env.sandbox.signed_webhook(entry)
    (event,) = env.sandbox.parse_webhook(headers, body, "https://cs.test/hooks/sandbox")
    settled = s.handle_gateway_event(event, now=T3)
    assert settled is not None
    assert (settled.status, settled.decline_code) == ("failed", "authentication_required")


def test_verify(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    ok = s.verify(m, token=env.token(), currency="usd", now=NOW)
    assert (ok.status, ok.amount, ok.capture_method, ok.currency) == ("verified", 0, "none", "USD")
    assert env.events(ok.id) == ["payment.verified"]
    assert [e.operation for e in env.ledger(ok.id)] == ["verify"]
    bad = s.verify(m, token=env.token("4000000000009995"), currency="USD", now=NOW)
    assert (bad.status, bad.decline_code) == ("failed", "insufficient_funds")
    challenge = s.verify(m, token=env.token("4000000000003220"), currency="USD", now=NOW)
    assert (challenge.status, challenge.decline_code) == ("failed", "authentication_required")


def test_list_with_cursor_pagination(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    made = [
        s.create(
            m,
            amount=100 + i,
            currency="EUR",
            token=env.token(),
            capture_method="manual",
            now=NOW + timedelta(seconds=i // 2),  # pairs share a timestamp
        ).id
        for i in range(5)
    ]
    s.void(m, made[0], now=T4)
    seen: list[str] = []
    cursor = None
    while True:
        page, more = s.list(m, limit=2, starting_after=cursor)
        seen += [p.id for p in page]
        if not more:
            break
        cursor = page[-1].id
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert [env.row(p)["created_at"] for p in seen] == sorted(
        (env.row(p)["created_at"] for p in seen), reverse=True
    )
    voided, more = s.list(m, status="voided")
    assert [p.id for p in voided] == [made[0]] and not more
    assert codes(lambda: s.list(m, limit=0))[0] == "parameter_invalid"
    assert codes(lambda: s.list(m, limit=101))[0] == "parameter_invalid"
    assert codes(lambda: s.list(m, status="lost"))[2] == "status"
    assert codes(lambda: s.list(m, starting_after="pay_missing")) == (
        "resource_missing",
        404,
        "starting_after",
    )
    other = env.vault.create_merchant("other", now=NOW)
    assert s.list(other) == ([], False)


def test_a_transition_that_rolls_back_emits_nothing(
    env: PayEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cardshield.payments.record as record_module

    def broken_audit(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    s, m = env.service, env.merchant
    events_before = env.count(events)
    monkeypatch.setattr(record_module, "audit", broken_audit)
    with pytest.raises(RuntimeError, match="disk full"):
        s.create(
            m, amount=1000, currency="EUR", token=env.token(), capture_method="manual", now=NOW
        )
    with env.engine.connect() as conn:
        (pid,) = conn.execute(select(payments.c.id).where(payments.c.merchant_id == m)).scalars()
    assert env.row(pid)["status"] == "created" and env.ops(pid)[0]["status"] == "pending"
    assert env.events(pid) == [] and env.count(events) == events_before
    monkeypatch.undo()
    # The processor did charge: recovery records it, with its event, exactly once.
    from cardshield.payments.recovery import resume_pending

    report = resume_pending(s, now=NOW + timedelta(minutes=10))
    assert report.resolved >= 1
    assert env.row(pid)["status"] == "authorized"
    assert env.events(pid) == ["payment.authorized"]


def test_no_card_data_in_views_events_audit_ledger_or_logs(
    env: PayEnv, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data

    caplog.set_level("DEBUG")
    s, m = env.service, env.merchant
    views: list[Any] = []
    tok = env.token(CANARY_PAN, cvv=CANARY_CVV)
    with pytest.raises(CardDataInText) as refused:  # card data in free text is refused
        s.create(
            m,
            amount=3000,
            currency="EUR",
            token=tok,
            description=f"card {CANARY_PAN} cvv {CANARY_CVV}",
            metadata={"note": f"{CANARY_PAN}"},
            idempotency_key="canary-0",
            now=NOW,
        )
    assert refused.value.param == "description"
    p = s.create(
        m,
        amount=3000,
        currency="EUR",
        token=tok,
        capture_method="manual",
        description="card on file",
        metadata={"note": "paid by card"},
        idempotency_key="canary-1",
        now=NOW,
    )
    views += [p, s.capture(m, p.id, now=T1), s.refund(m, p.id, amount=10, now=T2)]
    views.append(s.verify(m, token=env.token(CANARY_PAN, cvv=CANARY_CVV), currency="EUR", now=NOW))
    views += s.list(m)[0]
    with env.engine.connect() as conn:
        stored_keys = list(
            conn.execute(
                select(idempotency_keys.c.response_body).where(idempotency_keys.c.merchant_id == m)
            ).scalars()
        )
    blob = json.dumps([v.to_dict() for v in views]) + repr(views)
    blob += json.dumps(env.event_data()) + json.dumps(env.audit()) + repr(env.ledger())
    blob += json.dumps(stored_keys) + json.dumps(
        [env.row(v.id) for v in views if isinstance(v, PaymentView)], default=str
    )
    blob += caplog.text + json.dumps(refused.value.to_dict())
    assert_no_card_data(blob)
    assert f"cvv {CANARY_CVV}" not in blob
    assert isinstance(env.ledger()[0], LedgerEntry)
