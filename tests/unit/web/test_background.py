from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cardshield.cards import PAN, Expiry
from cardshield.phone.calls import CallState, CallStore
from cardshield.security.audit import checkpoint_message
from cardshield.security.audit_head import SignedHead, read_head, write_head
from cardshield.security.audit_seal import SealReport
from cardshield.storage.schema import audit_log
from cardshield.web.background import Job, Scheduler, default_jobs
from tests.apps import Api


def test_scheduler_runs_jobs_and_survives_failures() -> None:
    runs: list[str] = []
    done = threading.Event()

    def flaky(now: datetime) -> None:
        runs.append("x")
        if len(runs) == 1:
            raise RuntimeError("first run fails")
        done.set()

    scheduler = Scheduler([Job("flaky", 0.01, flaky)])
    scheduler.start()
    assert done.wait(5)
    scheduler.stop()
    assert len(runs) >= 2


def test_default_jobs_seal_the_audit_chain(api: Api) -> None:
    vault = api.runtime.vault
    vault.tokenize(
        api.merchant,
        PAN("4242424242424242"),
        Expiry(2030, 1),
        now=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    )
    jobs = {j.name: j for j in default_jobs(api.runtime)}
    assert set(jobs) == {
        "audit.seal",
        "webhooks.deliver",
        "payments.resume",
        "idempotency.prune",
        "vault.purge",
        "security.card_access",
        "phone.prune",
    }
    for job in jobs.values():
        job.run(datetime.now(UTC))  # each runs against a real database without error
    jobs["audit.seal"].run(datetime.now(UTC) + timedelta(minutes=1))
    with api.runtime.engine.connect() as conn:
        unsealed = conn.execute(
            select(audit_log.c.seq).where(audit_log.c.chain_hash.is_(None))
        ).all()
    assert unsealed == []
    head = read_head(api.runtime.settings.effective_audit_head_file)  # kept outside the db
    assert head is not None and head.seq >= 1


def test_a_sealer_stopped_below_the_kept_head_says_so(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A head file ahead of the database (entries deleted, or another database): the
    background sealer signs nothing and logs why, every run."""
    chain = "ab" * 32
    signature = api.runtime.kms.sign(checkpoint_message(99, chain))
    write_head(api.runtime.settings.effective_audit_head_file, SignedHead(99, chain, signature))
    jobs = {j.name: j for j in default_jobs(api.runtime)}
    report = jobs["audit.seal"].run(datetime.now(UTC) + timedelta(minutes=1))
    assert isinstance(report, SealReport) and report.checkpoints == ()
    stalled = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("audit_event") == "seal_stalled"
    ]
    assert stalled and stalled[0]["reason"] == "truncated" and stalled[0]["seq"] == 1


def test_phone_calls_untouched_past_retention_are_forgotten(api: Api) -> None:
    store = CallStore(api.runtime.engine)
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    for sid, age in (("CAold", 31), ("CArecent", 29)):
        at = start - timedelta(days=age)
        store.create(
            CallState(
                call_sid=sid, merchant_id=api.merchant, mode="ivr", step="expiry",
                created_at=at, updated_at=at,
            )
        )  # fmt: skip
    jobs = {j.name: j for j in default_jobs(api.runtime)}
    jobs["phone.prune"].run(start)  # the default keeps 30 days
    assert store.find("CAold") is None
    assert store.find("CArecent") is not None
