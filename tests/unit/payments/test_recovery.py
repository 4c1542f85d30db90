"""Crash safety: a crash, timeout or error between the gateway call and the record never
leads to a second charge, and recovery leaves records that reconcile with the processor."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardshield.crypto.kms import init_kms
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayResult,
    GatewayTimeout,
)
from cardshield.gateways.sandbox import SandboxConnector, account_for
from cardshield.payments.errors import (
    IdempotencyKeyInUse,
    OperationInProgress,
    PaymentProcessing,
)
from cardshield.payments.reconcile import reconcile
from cardshield.payments.recovery import resume_pending
from cardshield.payments.service import PaymentService
from tests.unit.payments.conftest import NOW, PayEnv

LOCK_EXPIRED = NOW + timedelta(seconds=61)
LATER = NOW + timedelta(minutes=10)


class Crash(Exception):
    """The process died here (raised where a kill would have struck)."""


class CrashAfterCall:
    """The real sandbox, but the caller dies right after the processor answered."""

    name = "sandbox"

    def __init__(self, inner: SandboxConnector, *crash_on: str) -> None:
        self.inner = inner
        self.crash_on = set(crash_on)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def _call(self, method: str, request: Any) -> GatewayResult:
        result: GatewayResult = getattr(self.inner, method)(request)
        if method in self.crash_on:
            raise Crash(method)
        return result

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return self._call("authorize", request)

    def capture(self, request: FollowUpRequest) -> GatewayResult:
        return self._call("capture", request)

    def refund(self, request: FollowUpRequest) -> GatewayResult:
        return self._call("refund", request)


class LostOnce(CrashAfterCall):
    """The first authorization times out before reaching the processor."""

    def __init__(self, inner: SandboxConnector) -> None:
        super().__init__(inner)
        self.lost = False

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        if not self.lost:
            self.lost = True
            raise GatewayTimeout
        return self.inner.authorize(request)


def crashing(env: PayEnv, *methods: str) -> PaymentService:
    wrapper = CrashAfterCall(env.sandbox, *methods)
    return PaymentService(env.engine, env.vault, lambda m: (wrapper, account_for(m)))


def assert_reconciled(env: PayEnv) -> None:
    report = reconcile(env.engine, env.sandbox.ledger())
    assert report.differences == [] and report.ok, report.to_dict()


def test_crash_between_the_gateway_call_and_the_record(fresh: PayEnv) -> None:
    env, m = fresh, fresh.merchant
    # With an idempotency key: the retry after the lock expired resumes, without the card.
    tok = env.token()  # single-use: consumed by the first attempt
    args = dict(amount=5100, currency="EUR", token=tok, capture_method="manual")
    with pytest.raises(Crash):
        crashing(env, "authorize").create(m, idempotency_key="pay-1", now=NOW, **args)
    (charge,) = env.sandbox.ledger()
    assert charge.is_charge
    with pytest.raises(IdempotencyKeyInUse):  # the dead request still holds the key
        env.service.create(m, idempotency_key="pay-1", now=NOW, **args)
    p = env.service.create(m, idempotency_key="pay-1", now=LOCK_EXPIRED, **args)
    assert p.status == "authorized" and not p.replayed
    assert [e.id for e in env.ledger(p.id) if e.is_charge] == [charge.id]
    assert env.events(p.id) == ["payment.authorized"]

    # The same for a capture and a refund.
    with pytest.raises(Crash):
        crashing(env, "capture").capture(m, p.id, idempotency_key="cap-1", now=NOW)
    c = env.service.capture(m, p.id, idempotency_key="cap-1", now=LOCK_EXPIRED)
    assert (c.status, c.amount_captured) == ("captured", 5100)
    with pytest.raises(Crash):
        crashing(env, "refund").refund(m, p.id, amount=100, idempotency_key="re-1", now=NOW)
    r = env.service.refund(m, p.id, amount=100, idempotency_key="re-1", now=LOCK_EXPIRED)
    assert r.status == "succeeded"
    assert [e.operation for e in env.ledger(p.id)] == ["authorize", "capture", "refund"]

    # Without a key the payment waits for the recovery job, which finds the charge.
    with pytest.raises(Crash):
        crashing(env, "authorize").create(
            m, amount=5200, currency="EUR", token=env.token(), now=NOW
        )
    early = resume_pending(env.service, now=NOW + timedelta(minutes=1))
    assert early.examined == 0  # too young: it may still be in flight
    report = resume_pending(env.service, now=LATER)
    assert (report.examined, report.resolved, report.still_pending) == (1, 1, 0)
    assert report.to_dict()["resolved_by_kind"] == {"authorize": 1}
    assert sum(e.is_charge for e in env.sandbox.ledger()) == 2
    assert_reconciled(env)


def test_timeouts_and_processor_errors(fresh: PayEnv) -> None:
    env, s, m = fresh, fresh.service, fresh.merchant
    # Timeout after the charge happened, with a key: the retry finds it through sync.
    args = dict(amount=1991, currency="EUR", token=env.token())
    with pytest.raises(PaymentProcessing) as info:
        s.create(m, idempotency_key="t-1", now=NOW, **args)
    assert (info.value.http_status, info.value.code) == (503, "payment_processing")
    pid = info.value.payment_id
    assert env.row(pid)["status"] == "created" and env.ops(pid)[0]["status"] == "pending"
    p = s.create(m, idempotency_key="t-1", now=NOW, **args)  # released: no wait needed
    assert (p.id, p.status) == (pid, "captured")
    assert len([e for e in env.ledger(pid) if e.is_charge]) == 1

    # ... and without a key: the recovery job finds it.
    with pytest.raises(PaymentProcessing) as info:
        s.create(m, amount=2991, currency="EUR", token=env.token(), now=NOW)
    silent = info.value.payment_id

    # Lost before the processor saw it: with a saved card the retry re-sends under the
    # same key (the processor would answer a key it had seen from its records).
    lost_once = LostOnce(env.sandbox)
    flaky = PaymentService(env.engine, env.vault, lambda m: (lost_once, account_for(m)))
    saved = env.token(single_use=False)
    args = dict(amount=3000, currency="EUR", token=saved, idempotency_key="t-2")
    with pytest.raises(PaymentProcessing) as info:
        flaky.create(m, now=NOW, **args)
    assert env.ledger(info.value.payment_id) == []
    again = flaky.create(m, now=NOW, **args)
    assert (again.id, again.status) == (info.value.payment_id, "captured")
    assert len(env.ledger(again.id)) == 1

    # ... with a single-use token the card is gone: the job settles it as never charged.
    t3: dict[str, Any] = dict(amount=4992, currency="EUR", token=env.token(), idempotency_key="t-3")
    with pytest.raises(PaymentProcessing) as info:
        s.create(m, now=NOW, **t3)
    lost = info.value.payment_id
    with pytest.raises(PaymentProcessing):  # the token is used up: only sync could tell
        s.create(m, now=NOW, **t3)

    # A processor error on a capture: the capture stays pending and blocks another one.
    held = s.create(
        m, amount=8000, currency="EUR", token=env.token(), capture_method="manual", now=NOW
    )
    with pytest.raises(PaymentProcessing):
        s.capture(m, held.id, amount=1994, now=NOW)
    assert env.row(held.id)["status"] == "authorized"
    with pytest.raises(OperationInProgress) as busy:
        s.capture(m, held.id, now=NOW)
    assert (busy.value.http_status, busy.value.code) == (409, "payment_operation_in_progress")

    report = resume_pending(s, now=LATER)
    assert report.errors == 0 and report.still_pending == 0
    assert env.row(silent)["status"] == "captured"
    lost_row = env.row(lost)
    assert (lost_row["status"], lost_row["raw_decline_code"]) == ("failed", "no_such_operation")
    assert env.events(lost) == ["payment.failed"]
    retried = s.create(m, now=LATER, **t3)
    assert (retried.id, retried.status) == (lost, "failed")
    assert env.row(held.id)["status"] == "authorized"  # the lost capture failed, nothing moved
    assert s.capture(m, held.id, now=LATER).amount_captured == 8000
    assert_reconciled(env)


KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from cardshield.crypto.kms import open_kms
    from cardshield.gateways.sandbox import account_for, build
    from cardshield.payments.service import PaymentService
    from cardshield.storage import make_engine
    from cardshield.vault import MemoryCVVStore, Vault

    url, kms_url, merchant, token, now = sys.argv[1:]
    engine = make_engine(url)
    vault = Vault(engine, open_kms(kms_url), MemoryCVVStore())
    sandbox = build({"database_url": url})

    class KilledAfterCharge:
        name = "sandbox"

        def __getattr__(self, attr):
            return getattr(sandbox, attr)

        def authorize(self, request):
            sandbox.authorize(request)
            os.kill(os.getpid(), signal.SIGKILL)  # between the gateway call and phase 3

    service = PaymentService(engine, vault, lambda m: (KilledAfterCharge(), account_for(m)))
    service.create(merchant, amount=6150, currency="EUR", token=token,
                   idempotency_key="killed-1", now=datetime.fromisoformat(now))
    """
)


@pytest.mark.slow
def test_a_killed_process_then_a_retry_charges_once(database_url: str, tmp_path: Path) -> None:
    from tests.unit.payments.conftest import close_shared, new_env, open_shared

    kms_url = f"local:{tmp_path / 'kek.key'}"
    init_kms(kms_url).close()  # a key file both processes can open
    shared = open_shared(database_url, kms_url=kms_url)
    env = new_env(shared)
    try:
        tok = env.token(cvv=None)
        script = tmp_path / "child.py"
        script.write_text(KILLED_CHILD)
        child = subprocess.run(
            [
                sys.executable,
                str(script),
                database_url,
                kms_url,
                env.merchant,
                tok,
                NOW.isoformat(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert child.returncode == -9, child.stderr[-2000:]
        (charge,) = env.sandbox.ledger()
        assert charge.is_charge and charge.amount == 6150
        p = env.service.create(
            env.merchant,
            amount=6150,
            currency="EUR",
            token=tok,
            idempotency_key="killed-1",
            now=LOCK_EXPIRED,
        )
        assert p.status == "captured"
        assert [e.id for e in env.sandbox.ledger()] == [charge.id]
        assert_reconciled(env)
    finally:
        close_shared(shared)
