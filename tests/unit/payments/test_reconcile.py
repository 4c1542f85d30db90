"""Reconciliation against the sandbox ledger: zero differences after real traffic, every
planted difference found; the `cardshield payments reconcile | resume` commands."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.payments.errors import PaymentProcessing
from cardshield.payments.reconcile import KINDS, reconcile
from cardshield.storage.schema import payment_operations, payments, sandbox_ledger
from tests.unit.payments.conftest import FRESH_KMS_URL, NOW, PayEnv

T1 = NOW + timedelta(seconds=1)


def _traffic(env: PayEnv) -> dict[str, str]:
    s, m = env.service, env.merchant
    manual = s.create(
        m, amount=9000, currency="EUR", token=env.token(), capture_method="manual", now=NOW
    )
    s.capture(m, manual.id, amount=7000, now=T1)
    s.refund(m, manual.id, amount=2500, now=T1)
    sale = s.create(m, amount=1200, currency="JPY", token=env.token(), now=NOW)
    held = s.create(
        m, amount=300, currency="EUR", token=env.token(), capture_method="manual", now=NOW
    )
    s.void(m, held.id, now=T1)
    s.create(m, amount=100, currency="EUR", token=env.token("4000000000000002"), now=NOW)
    s.verify(m, token=env.token(), currency="EUR", now=NOW)
    challenge = s.create(
        m, amount=4400, currency="EUR", token=env.token("4000000000003220"), now=NOW
    )
    return {"manual": manual.id, "sale": sale.id, "challenge": challenge.id}


def _insert_op(env: PayEnv, payment_id: str, kind: str, status: str, amount: int) -> str:
    key = "cs_planted_" + secrets.token_hex(8)
    with env.engine.begin() as conn:
        conn.execute(
            payment_operations.insert().values(
                id="op_planted_" + secrets.token_hex(6),
                payment_id=payment_id,
                merchant_id=env.merchant,
                kind=kind,
                status=status,
                amount=amount,
                gateway_key=key,
                created_at=NOW,
            )
        )
    return key


def _insert_ledger(env: PayEnv, key: str, operation: str, amount: int) -> None:
    with env.engine.begin() as conn:
        conn.execute(
            sandbox_ledger.insert().values(
                id="sbx_ch_planted_" + secrets.token_hex(6),
                account="sbx_acct_x",
                idempotency_key=key,
                operation=operation,
                status="succeeded",
                amount=amount,
                currency="EUR",
                created_at=NOW,
            )
        )


def test_reconcile_agrees_after_traffic_and_finds_planted_differences(fresh: PayEnv) -> None:
    env = fresh
    ids = _traffic(env)
    report = reconcile(env.engine, env.sandbox.ledger())
    assert report.ok, report.to_dict()
    assert (report.payments, report.ledger_rows) == (6, 9)

    # The customer passed the challenge; until we hear of it the charge is unrecorded.
    ref = env.service.retrieve(env.merchant, ids["challenge"]).connector_reference
    assert ref is not None
    env.sandbox.approve_challenge(ref)
    waiting = reconcile(env.engine, env.sandbox.ledger())
    assert [(d.kind, d.payment_id) for d in waiting.differences] == [
        ("charged_not_recorded", ids["challenge"]),
        ("amount_mismatch", ids["challenge"]),  # captured 4400 there, 0 here
    ]
    env.service.complete_action(env.merchant, ids["challenge"], now=T1)
    assert reconcile(env.engine, env.sandbox.ledger()).ok

    # Plant one difference of each kind.
    _insert_ledger(env, "cs_unknown_key", "sale", 777)  # a charge we never asked for
    twice = _insert_op(env, ids["sale"], "authorize", "succeeded", 1200)
    _insert_ledger(env, twice, "sale", 1200)  # the sale charged a second time
    _insert_op(env, ids["manual"], "refund", "succeeded", 10)  # recorded, never sent
    _insert_op(env, ids["manual"], "capture", "pending", 5)  # stuck, processor never saw it
    with env.engine.begin() as conn:
        conn.execute(
            update(payments).where(payments.c.id == ids["challenge"]).values(amount_captured=4401)
        )
    found = reconcile(env.engine, env.sandbox.ledger())
    assert not found.ok
    assert found.counts() == {
        "charged_twice": 1,
        "charged_not_recorded": 1,
        "recorded_not_charged": 1,
        # the challenge payment's captured total; the second sale doubles the sale's total
        "amount_mismatch": 2,
        "unresolved": 1,
    }
    by_kind = {d.kind: d for d in found.differences}
    assert by_kind["charged_twice"].payment_id == ids["sale"]
    assert by_kind["charged_not_recorded"].payment_id is None
    assert by_kind["recorded_not_charged"].payment_id == ids["manual"]
    assert by_kind["unresolved"].payment_id == ids["manual"]
    assert {d.payment_id for d in found.differences if d.kind == "amount_mismatch"} == {
        ids["sale"],
        ids["challenge"],
    }
    assert set(found.to_dict()["counts"]) == set(KINDS)


def test_payments_commands(fresh: PayEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh
    for name in [k for k in __import__("os").environ if k.startswith("CARDSHIELD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CARDSHIELD_DATABASE_URL", env.url)
    monkeypatch.setenv("CARDSHIELD_KMS_URL", FRESH_KMS_URL)
    runner = CliRunner()
    now = datetime.now(UTC)
    with pytest.raises(PaymentProcessing):  # the answer is lost after the charge
        env.service.create(
            env.merchant, amount=1991, currency="EUR", token=env.token(now=now), now=now
        )

    early = runner.invoke(app, ["payments", "resume", "--json"])
    assert early.exit_code == 0, early.output
    assert json.loads(early.stdout)["examined"] == 0  # younger than 300 s
    pending = runner.invoke(app, ["payments", "reconcile", "--json"])
    assert pending.exit_code == 1
    assert json.loads(pending.stdout)["counts"]["charged_not_recorded"] == 1

    resumed = runner.invoke(app, ["payments", "resume", "--older-than", "0", "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout) | {"resolved_by_kind": None} == {
        "examined": 1,
        "resolved": 1,
        "still_pending": 0,
        "errors": 0,
        "resolved_by_kind": None,
    }
    clean = runner.invoke(app, ["payments", "reconcile"])
    assert clean.exit_code == 0 and "no differences" in clean.stdout
    _insert_ledger(env, "cs_unknown", "sale", 5)
    dirty = runner.invoke(app, ["payments", "reconcile"])
    assert dirty.exit_code == 1 and "charged_not_recorded" in dirty.stdout
