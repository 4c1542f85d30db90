"""Keyed entry hashes: someone who can write the database, but not use the KMS, cannot give
an edited or made-up entry a content hash the sealer and the verifier accept.

The log: entries 1-10 sealed with a checkpoint every 4, 11-12 not sealed yet, on a real
database (SQLite and PostgreSQL), through the real sealer and verifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, column, insert, select, table

from cardshield.crypto.kms import open_kms
from cardshield.security.audit import (
    HASH_KEYED,
    HASH_UNKEYED,
    AuditKey,
    bind_key,
    content_hash,
    entry_values,
)
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_log
from tests.databases import sqlite_database
from tests.unit.security.conftest import NOW, append_many
from tests.unit.security.keyed_chain import (
    CONTENT,
    Chain,
    old_way,
    rehash_old_way,
    row,
    sealed_chain,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    yield from sealed_chain(request.param, tmp_path)


def forge_entry(conn: Connection) -> None:
    """Append a made-up entry, its hash computed the only way the attacker can."""
    values = entry_values(
        now=NOW,
        actor="operator:mallory",
        action="card.reveal",
        outcome="success",
        merchant_id="m_1",
        target="tok_forged",
        details=None,
    )
    conn.execute(insert(audit_log).values({**values, "seq": 13}))


def test_entries_are_macs_under_the_kms_key(chain: Chain) -> None:
    with chain.engine.connect() as conn:
        first = row(conn, 1)
    key = AuditKey.derive(chain.kms)
    assert first["hash_version"] == HASH_KEYED
    assert first["content_hash"] == content_hash(**{c: first[c] for c in CONTENT}, key=key)
    assert first["content_hash"] != old_way(first)
    other = AuditKey.derive(open_kms("memory:"))
    assert first["content_hash"] != content_hash(**{c: first[c] for c in CONTENT}, key=other)
    assert "<hidden>" in repr(key)


@pytest.mark.parametrize("downgrade", [False, True])
def test_editing_a_sealed_entry_the_old_way_is_detected(chain: Chain, downgrade: bool) -> None:
    chain.attack(rehash_old_way(6, downgrade=downgrade))
    report = chain.verify()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (6, "edited")


def test_a_forged_entry_is_refused(chain: Chain) -> None:
    chain.attack(forge_entry)
    report = chain.verify()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (13, "edited")
    stalled = chain.seal()
    assert (stalled.sealed, stalled.stalled_at, stalled.stall_reason) == (2, 13, "edited")


def test_editing_the_unsealed_tail_the_old_way_is_refused(chain: Chain) -> None:
    chain.attack(rehash_old_way(12))
    report = chain.verify()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (12, "edited")
    stalled = chain.seal()
    assert (stalled.sealed, stalled.stalled_at, stalled.stall_reason) == (1, 12, "edited")


def test_a_legacy_log_keeps_verifying_after_the_upgrade(tmp_path: Path) -> None:
    """Entries written before keyed hashes (version 1) are checked the old way, but only
    before the first keyed entry: an unkeyed one after it is a downgrade."""
    engine = make_engine(sqlite_database(tmp_path))
    upgrade(engine, "0006")
    legacy = [
        entry_values(
            now=NOW,
            actor=f"operator:op_{i}",
            action="operator.login",
            outcome="success",
            merchant_id=None,
            target=None,
            details={"n": i},
        )
        for i in range(3)
    ]
    # The table as it was at 0006: no hash_version column yet.
    before = table("audit_log", *(column(c.name, c.type) for c in audit_log.c if c.name in CONTENT))
    before.append_column(column("content_hash", audit_log.c.content_hash.type))
    with engine.begin() as conn:
        for values in legacy:
            assert values.pop("hash_version") == HASH_UNKEYED
            conn.execute(insert(before).values(values))
    upgrade(engine)
    kms = open_kms("memory:")
    log = Chain(engine, kms)
    bind_key(engine, kms)
    append_many(engine, 2, start=3)
    with engine.connect() as conn:
        versions = conn.execute(select(audit_log.c.hash_version).order_by(audit_log.c.seq))
        assert versions.scalars().all() == [1, 1, 1, 2, 2]
    assert log.seal().sealed == 5
    assert log.verify().ok

    unbound = make_engine(sqlite_database(tmp_path))  # a process that never bound the key
    append_many(unbound, 1, start=9)
    unbound.dispose()
    report = log.verify()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (6, "edited")
    assert "unkeyed" in report.problem.detail
    stalled = log.seal()
    assert (stalled.stalled_at, stalled.stall_reason) == (6, "edited")
    engine.dispose()
