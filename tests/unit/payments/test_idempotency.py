"""Idempotency keys: Stripe's semantics, stored in the database; 200 concurrent callers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cardshield.errors import CardshieldError
from cardshield.gateways.sandbox import account_for, build
from cardshield.payments.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    OperationInProgress,
    PaymentProcessing,
)
from cardshield.payments.idempotency import (
    Claim,
    Stored,
    claim,
    complete,
    gateway_key,
    prune_idempotency_keys,
    request_hash,
    run_idempotent,
)
from cardshield.payments.money import InvalidAmount
from cardshield.payments.service import PaymentService
from cardshield.payments.views import PaymentView
from cardshield.storage.schema import idempotency_keys, payments
from tests.unit.payments.conftest import NOW, PayEnv, Shared, new_env

H1 = request_hash({"amount": 100})
H2 = request_hash({"amount": 200})


def test_first_response_is_replayed_errors_included(env: PayEnv) -> None:
    engine, m = env.engine, env.merchant
    calls: list[int] = []

    def ok() -> tuple[int, dict[str, Any]]:
        calls.append(1)
        return 201, {"id": "obj_1", "call": len(calls)}

    first = run_idempotent(engine, merchant_id=m, key="k1", request_hash=H1, now=NOW, fn=ok)
    again = run_idempotent(engine, merchant_id=m, key="k1", request_hash=H1, now=NOW, fn=ok)
    assert first == again == (201, {"id": "obj_1", "call": 1}) and len(calls) == 1
    # The key belongs to the merchant: another merchant's same key is a new request.
    other = run_idempotent(engine, merchant_id=m + "x", key="k1", request_hash=H1, now=NOW, fn=ok)
    assert other[1]["call"] == 2

    def refuse() -> tuple[int, dict[str, Any]]:
        calls.append(1)
        raise InvalidAmount(param="amount")

    err = run_idempotent(engine, merchant_id=m, key="k2", request_hash=H1, now=NOW, fn=refuse)
    assert err[0] == 400 and err[1]["error"]["code"] == "invalid_amount"
    n = len(calls)
    assert run_idempotent(engine, merchant_id=m, key="k2", request_hash=H1, now=NOW, fn=ok) == err
    assert len(calls) == n

    with pytest.raises(IdempotencyKeyReused) as info:
        run_idempotent(engine, merchant_id=m, key="k1", request_hash=H2, now=NOW, fn=ok)
    assert (info.value.http_status, info.value.code) == (409, "idempotency_key_reused")


@pytest.mark.parametrize("key", ["", "   ", "x" * 256])
def test_invalid_keys(env: PayEnv, key: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid) as info:
        claim(env.engine, merchant_id=env.merchant, key=key, request_hash=H1, now=NOW)
    assert (info.value.http_status, info.value.param) == (400, "idempotency_key")


def test_longest_key_and_in_progress_and_takeover(env: PayEnv) -> None:
    engine, m, key = env.engine, env.merchant, "k" * 255
    held = claim(engine, merchant_id=m, key=key, request_hash=H1, now=NOW)
    assert isinstance(held, Claim) and not held.taken_over
    with pytest.raises(IdempotencyKeyInUse) as info:
        claim(engine, merchant_id=m, key=key, request_hash=H1, now=NOW + timedelta(seconds=59))
    assert info.value.http_status == 409
    with pytest.raises(IdempotencyKeyReused):
        claim(engine, merchant_id=m, key=key, request_hash=H2, now=NOW + timedelta(seconds=59))
    # The holder died: after its lock expires the next retry takes over, same epoch.
    later = NOW + timedelta(seconds=61)
    second = claim(engine, merchant_id=m, key=key, request_hash=H1, now=later)
    assert isinstance(second, Claim) and second.taken_over and second.epoch == NOW
    assert not complete(engine, held, 200, {"from": "first"})  # lost its claim
    assert complete(engine, second, 200, {"from": "second"}, "pay_1")
    stored = claim(engine, merchant_id=m, key=key, request_hash=H1, now=later)
    assert stored == Stored(200, {"from": "second"}, "pay_1")


def test_server_errors_are_not_stored_and_crashes_wait_for_the_lock(env: PayEnv) -> None:
    engine, m = env.engine, env.merchant
    attempts: list[str] = []

    def unknown() -> tuple[int, dict[str, Any]]:
        attempts.append("unknown")
        raise PaymentProcessing("pay_1", "gateway_timeout")

    with pytest.raises(PaymentProcessing):
        run_idempotent(engine, merchant_id=m, key="t", request_hash=H1, now=NOW, fn=unknown)
    resumed = run_idempotent(
        engine, merchant_id=m, key="t", request_hash=H1, now=NOW, fn=lambda: (200, {"ok": 1})
    )
    assert resumed == (200, {"ok": 1}) and attempts == ["unknown"]

    def busy() -> tuple[int, dict[str, Any]]:
        raise OperationInProgress  # 409: a passing conflict, not this request's answer

    with pytest.raises(OperationInProgress):
        run_idempotent(engine, merchant_id=m, key="b", request_hash=H1, now=NOW, fn=busy)
    assert run_idempotent(
        engine, merchant_id=m, key="b", request_hash=H1, now=NOW, fn=lambda: (200, {"ok": 3})
    ) == (200, {"ok": 3})

    def crash() -> tuple[int, dict[str, Any]]:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        run_idempotent(engine, merchant_id=m, key="c", request_hash=H1, now=NOW, fn=crash)
    with pytest.raises(IdempotencyKeyInUse):
        run_idempotent(engine, merchant_id=m, key="c", request_hash=H1, now=NOW, fn=crash)
    after = run_idempotent(
        engine,
        merchant_id=m,
        key="c",
        request_hash=H1,
        now=NOW + timedelta(seconds=61),
        fn=lambda: (200, {"ok": 2}),
    )
    assert after == (200, {"ok": 2})


def test_keys_are_pruned_after_24_hours(env: PayEnv) -> None:
    engine, m = env.engine, env.merchant
    run_idempotent(engine, merchant_id=m, key="old", request_hash=H1, now=NOW, fn=lambda: (200, {}))

    def mine() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(idempotency_keys)
                    .where(idempotency_keys.c.merchant_id == m)
                ).scalar_one()
            )

    prune_idempotency_keys(engine, NOW + timedelta(hours=23))
    assert mine() == 1
    assert prune_idempotency_keys(engine, NOW + timedelta(hours=25)) >= 1
    assert mine() == 0
    # Once pruned, the key is free for a new request.
    later = NOW + timedelta(hours=25)
    assert run_idempotent(
        engine, merchant_id=m, key="old", request_hash=H2, now=later, fn=lambda: (200, {"n": 2})
    ) == (200, {"n": 2})


def test_gateway_keys_are_derived_deterministically() -> None:
    base = gateway_key("m1", "order-1", NOW, "authorize")
    assert base == gateway_key("m1", "order-1", NOW, "authorize")
    assert base.startswith("cs_") and len(base) <= 128
    variants = {
        gateway_key("m2", "order-1", NOW, "authorize"),
        gateway_key("m1", "order-2", NOW, "authorize"),
        gateway_key("m1", "order-1", NOW + timedelta(microseconds=1), "authorize"),
        gateway_key("m1", "order-1", NOW, "capture"),
        gateway_key("m1", "order-1", NOW, "authorize", 1),
    }
    assert base not in variants and len(variants) == 5


def test_service_calls_replay_and_refuse_reuse(env: PayEnv) -> None:
    s, m = env.service, env.merchant
    tok = env.token()
    args = dict(amount=1000, currency="EUR", token=tok, capture_method="manual", now=NOW)
    p1 = s.create(m, idempotency_key="order-1", **args)
    p2 = s.create(m, idempotency_key="order-1", **args)
    assert not p1.replayed and p2.replayed and p2.to_dict() == p1.to_dict()
    assert len(env.ledger(p1.id)) == 1
    with pytest.raises(IdempotencyKeyReused):
        s.create(m, idempotency_key="order-1", **(args | {"amount": 1001}))
    with pytest.raises(IdempotencyKeyReused):  # a key names one request, not one per endpoint
        s.capture(m, p1.id, idempotency_key="order-1", now=NOW)

    c1 = s.capture(m, p1.id, amount=500, idempotency_key="cap-1", now=NOW)
    c2 = s.capture(m, p1.id, amount=500, idempotency_key="cap-1", now=NOW)
    assert c2.replayed and c2.to_dict() == c1.to_dict()
    r1 = s.refund(m, p1.id, amount=100, idempotency_key="ref-1", now=NOW)
    r2 = s.refund(m, p1.id, amount=100, idempotency_key="ref-1", now=NOW)
    assert r2.replayed and r2.to_dict() == r1.to_dict()
    assert [e.operation for e in env.ledger(p1.id)] == ["authorize", "capture", "refund"]

    # Errors are stored and replayed too, with their status and fields.
    with pytest.raises(CardshieldError) as first:
        s.create(m, idempotency_key="again", **args)
    with pytest.raises(CardshieldError) as second:
        s.create(m, idempotency_key="again", **args)
    assert first.value.code == "token_already_used"
    assert second.value.to_dict() == first.value.to_dict()
    assert second.value.http_status == 400


@pytest.mark.slow
def test_200_concurrent_requests_with_one_key(shared: Shared) -> None:
    env = new_env(shared)
    # A slower processor keeps the first request running while the others arrive.
    sandbox = build({"database_url": shared.url, "delay_ms": 150, "pool_size": 4})
    service = PaymentService(env.engine, env.vault, lambda m: (sandbox, account_for(m)))
    tok = env.token()
    callers = 200
    gate = threading.Barrier(callers)
    views: list[PaymentView] = []
    errors: list[CardshieldError] = []

    def call() -> None:
        gate.wait()
        try:
            views.append(
                service.create(
                    env.merchant,
                    amount=4242,
                    currency="EUR",
                    token=tok,
                    idempotency_key="one-key",
                    now=NOW,
                )
            )
        except CardshieldError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sandbox.close()
    assert len(views) + len(errors) == callers
    assert views, "the first caller must succeed"
    assert {v.id for v in views} == {views[0].id}
    assert all(v.status == "captured" for v in views)
    assert {(e.http_status, e.code) for e in errors} <= {(409, "idempotency_key_in_use")}
    charges = [e for e in env.ledger(views[0].id) if e.is_charge]
    assert len(charges) == 1 and charges[0].amount == 4242
    with env.engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(payments).where(payments.c.merchant_id == env.merchant)
        ).scalar_one()
    assert count == 1
    late = env.service.create(
        env.merchant, amount=4242, currency="EUR", token=tok, idempotency_key="one-key", now=NOW
    )
    assert late.replayed and late.id == views[0].id
