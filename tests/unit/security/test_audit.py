"""Audit append, seal and verify on a clean log, gaps, concurrency and card data discipline."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.security import GAP_ACTION, GENESIS_HASH, append, seal, verify
from cardshield.security.audit import chain_hash, content_hash, row_content_hash
from cardshield.storage.schema import audit_checkpoints, audit_log
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.security.conftest import LATER, NOW, append_many


def _rows(engine: Engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log).order_by(audit_log.c.seq)))


def _checkpoint_seqs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_checkpoints.c.upto_seq).order_by("upto_seq"))
        return [int(r.upto_seq) for r in rows]


def test_append_writes_one_unsealed_row_in_the_callers_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        seq = append(
            conn,
            now=NOW,
            actor="operator:alice",
            action="key.rotate",
            details={"b": [1, 2], "a": {"y": None, "x": True}},
        )
        # Rolled back with the caller: nothing of it survives.
        with engine.connect() as other:
            assert other.execute(select(audit_log)).all() == []
    (row,) = _rows(engine)
    assert row.seq == seq
    assert row.occurred_at == NOW and row.outcome == "success" and row.merchant_id is None
    assert row.details == '{"a":{"x":true,"y":null},"b":[1,2]}'
    assert row.prev_hash is None and row.chain_hash is None and row.sealed_at is None
    assert row.content_hash == row_content_hash(row)
    expected = content_hash(
        occurred_at=NOW,
        actor="operator:alice",
        merchant_id=None,
        action="key.rotate",
        target=None,
        outcome="success",
        details=row.details,
    )
    assert row.content_hash == expected
    # Any field of the content changes the hash.
    assert expected != content_hash(
        occurred_at=NOW + timedelta(microseconds=1),
        actor="operator:alice",
        merchant_id=None,
        action="key.rotate",
        target=None,
        outcome="success",
        details=row.details,
    )

    def failing_action() -> None:
        with engine.begin() as conn:
            append(conn, now=NOW, actor="x", action="card.use")
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        failing_action()
    assert len(_rows(engine)) == 1


def test_append_rejects_bad_input(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="naive"):
            append(conn, now=NOW.replace(tzinfo=None), actor="a", action="b")
        with pytest.raises(ValueError, match="longer than 64"):
            append(conn, now=NOW, actor="a", action="x" * 65)
        with pytest.raises(ValueError, match="JSON"):
            append(conn, now=NOW, actor="a", action="b", details={"n": float("nan")})
        with pytest.raises(ValueError, match="must not be empty"):
            append(conn, now=NOW, actor="", action="b")


def test_seal_links_entries_signs_checkpoints_and_verifies(
    engine: Engine, kms: KMSProvider
) -> None:
    assert verify(engine, kms).ok  # empty log
    append_many(engine, 7)
    report = seal(engine, kms, now=LATER, checkpoint_every=3)
    assert (report.sealed, report.gaps, report.head_seq, report.pending) == (7, (), 7, 0)
    assert report.checkpoints == (3, 6, 7)  # every 3rd, plus the head
    rows = _rows(engine)
    prev = GENESIS_HASH
    for row in rows:  # the chain is exactly the documented formula
        assert row.prev_hash == prev and row.sealed_at == LATER
        assert row.chain_hash == chain_hash(prev, row.seq, row.content_hash)
        prev = row.chain_hash
    assert report.head_hash == prev

    again = seal(engine, kms, now=LATER, checkpoint_every=3)  # idempotent
    assert (again.sealed, again.checkpoints, again.head_hash) == (0, (), prev)
    assert _rows(engine) == rows

    append_many(engine, 4, start=7)
    report = seal(engine, kms, now=LATER, checkpoint_every=3)
    assert report.checkpoints == (9, 11)
    assert _checkpoint_seqs(engine) == [3, 6, 9, 11]  # head 7 superseded by head 11
    append_many(engine, 2, start=11)  # an unsealed tail is checked entry by entry
    result = verify(engine, kms, checkpoint_every=3)
    assert result.ok, result.problem
    assert (result.sealed, result.unsealed, result.checkpoints, result.head_seq) == (11, 2, 4, 11)

    other_key = open_kms("memory:")
    bad = verify(engine, other_key, checkpoint_every=3)
    assert bad.problem is not None
    assert (bad.problem.seq, bad.problem.kind) == (3, "bad_checkpoint")


def test_seal_in_batches(engine: Engine, kms: KMSProvider) -> None:
    append_many(engine, 25)
    report = seal(engine, kms, now=LATER, checkpoint_every=10, batch_size=4)
    assert (report.sealed, report.head_seq) == (25, 25)
    # Every batch signs its head; only the latest head checkpoint is kept.
    assert _checkpoint_seqs(engine) == [10, 20, 25]
    assert verify(engine, kms, checkpoint_every=10).ok


def test_rolled_back_transaction_gap_is_recorded_after_grace(
    engine: Engine, kms: KMSProvider
) -> None:
    append_many(engine, 2)
    with engine.connect() as conn:
        append(conn, now=NOW, actor="x", action="card.tokenize")
        conn.rollback()
    append_many(engine, 2, start=2, at=NOW + timedelta(seconds=1))
    seqs = [r.seq for r in _rows(engine)]
    if engine.dialect.name == "sqlite":
        # SQLite reuses a rolled-back rowid: no gap ever appears.
        assert seqs == [1, 2, 3, 4]
    else:
        # A PostgreSQL sequence number is spent even on rollback.
        assert seqs == [1, 2, 4, 5]
        early = seal(engine, kms, now=NOW + timedelta(seconds=3), grace=timedelta(seconds=5))
        assert (early.sealed, early.gaps, early.head_seq, early.pending) == (2, (), 2, 2)
        assert verify(engine, kms).ok
    report = seal(engine, kms, now=NOW + timedelta(seconds=10), grace=timedelta(seconds=5))
    assert report.pending == 0
    result = verify(engine, kms)
    assert result.ok, result.problem
    if engine.dialect.name == "postgresql":
        assert report.gaps == (3,) and result.gaps == 1
        gap = next(r for r in _rows(engine) if r.seq == 3)
        assert gap.action == GAP_ACTION and gap.chain_hash is not None
    else:
        assert report.gaps == () and result.gaps == 0


def test_in_flight_transaction_past_grace_is_not_lost(engine: Engine, kms: KMSProvider) -> None:
    append_many(engine, 2)
    slow = engine.connect()
    slow_seq = append(slow, now=NOW, actor="x", action="card.use")  # open, not committed
    if engine.dialect.name == "sqlite":
        slow.commit()  # SQLite has one writer: the next append would wait for it anyway
    append_many(engine, 1, start=3, at=NOW)
    results = []
    sealer = threading.Thread(
        target=lambda: results.append(seal(engine, kms, now=NOW + timedelta(seconds=30)))
    )
    sealer.start()
    sealer.join(0.5)  # the sealer meets the open entry's seq (PostgreSQL) and waits on it
    slow.commit()
    slow.close()
    sealer.join(20)
    assert not sealer.is_alive()
    seal(engine, kms, now=NOW + timedelta(seconds=30))
    rows = _rows(engine)
    assert [r.seq for r in rows] == [1, 2, 3, 4] and slow_seq == 3
    assert all(r.action != GAP_ACTION and r.chain_hash for r in rows)
    assert verify(engine, kms).ok


def test_concurrent_appends_then_seal_verify_clean(engine: Engine, kms: KMSProvider) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            append_many(engine, 20, start=n * 100)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = seal(engine, kms, now=LATER, checkpoint_every=16)
    assert (report.sealed, report.gaps, report.head_seq) == (80, (), 80)
    result = verify(engine, kms, checkpoint_every=16)
    assert result.ok and result.sealed == 80


def test_sealers_run_concurrently_with_each_other_and_with_appends(
    engine: Engine, kms: KMSProvider
) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    reports = []

    def appender(n: int) -> None:
        try:
            append_many(engine, 15, start=n * 100, at=NOW)
        except BaseException as exc:
            errors.append(exc)

    def sealer() -> None:
        try:
            while not stop.is_set():
                reports.append(seal(engine, kms, now=NOW, checkpoint_every=7))
        except BaseException as exc:
            errors.append(exc)

    appenders = [threading.Thread(target=appender, args=(n,)) for n in range(3)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for t in appenders + sealers:
        t.start()
    for t in appenders:
        t.join()
    stop.set()
    for t in sealers:
        t.join()
    assert errors == []
    reports.append(seal(engine, kms, now=LATER, checkpoint_every=7))
    assert sum(r.sealed for r in reports) == 45  # every entry sealed exactly once
    assert sum(len(r.gaps) for r in reports) == 0
    multiples = [s for s in _checkpoint_seqs(engine) if s % 7 == 0]
    assert multiples == [7, 14, 21, 28, 35, 42]
    result = verify(engine, kms, checkpoint_every=7)
    assert result.ok, result.problem


def test_two_sealers_at_once_are_safe(engine: Engine, kms: KMSProvider) -> None:
    append_many(engine, 40)
    barrier = threading.Barrier(2)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(seal(engine, kms, now=LATER, checkpoint_every=10, batch_size=15))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.sealed for r in reports)[1] >= 15 and sum(r.sealed for r in reports) == 40
    assert _checkpoint_seqs(engine) == [10, 20, 30, 40]
    assert verify(engine, kms, checkpoint_every=10).ok


def test_entries_never_hold_card_data(engine: Engine, kms: KMSProvider, database_url: str) -> None:
    with engine.begin() as conn:
        append(
            conn,
            now=NOW,
            actor=f"operator:{CANARY_PAN}",
            action="card.tokenize",
            target=f"paste {CANARY_PAN}",
            details={
                "note": f"customer read out {CANARY_PAN}",
                "nested": [
                    {"pan": CANARY_PAN},
                    " ".join(CANARY_PAN[i : i + 4] for i in range(0, 16, 4)),
                ],
                CANARY_PAN: "as a key",
            },
        )
    seal(engine, kms, now=LATER)
    assert verify(engine, kms).ok
    (row,) = _rows(engine)
    blob = json.dumps([str(v) for v in row])
    assert_no_card_data(blob)
    assert "424242******4242" in row.details and "424242******4242" in row.target
    if engine.dialect.name == "sqlite":
        db = Path(make_url(database_url).database or "")
        for path in (db, db.with_name(db.name + "-wal")):
            if path.exists():
                assert_no_card_data(path.read_bytes())
