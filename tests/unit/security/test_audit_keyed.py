"""Keyed entry hashes: someone who can write the database, but not use the KMS, cannot give
an edited or made-up entry a content hash the sealer and the verifier accept.

The log: entries 1-10 sealed with a checkpoint every 4, 11-12 not sealed yet, on a real
database (SQLite and PostgreSQL), through the real sealer and verifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, column, insert, select, table, update

from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.security import seal, verify
from cardshield.security.audit import (
    HASH_KEYED,
    HASH_UNKEYED,
    AuditKey,
    bind_key,
    content_hash,
    entry_values,
)
from cardshield.security.audit_seal import SealReport
from cardshield.security.audit_verify import VerifyReport
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_log
from tests.databases import postgres_database, sqlite_database
from tests.unit.security.conftest import LATER, NOW, append_many

EVERY = 4
CONTENT = ["occurred_at", "actor", "merchant_id", "action", "target", "outcome", "details"]


@dataclass
class Chain:
    engine: Engine
    kms: KMSProvider

    def seal(self) -> SealReport:
        return seal(self.engine, self.kms, now=LATER, checkpoint_every=EVERY)

    def verify(self) -> VerifyReport:
        return verify(self.engine, self.kms, checkpoint_every=EVERY)

    def attack(self, mutate: Callable[[Connection], None]) -> None:
        with self.engine.begin() as conn:
            mutate(conn)


def _url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield sqlite_database(tmp_path)
    else:
        yield from postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    for url in _url(request.param, tmp_path):
        engine = make_engine(url)
        upgrade(engine)
        kms = open_kms("memory:")
        bind_key(engine, kms)
        log = Chain(engine, kms)
        append_many(engine, 10)
        assert log.seal().checkpoints == (4, 8, 10)
        append_many(engine, 2, start=10)
        yield log
        engine.dispose()


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()._asdict()


def old_way(values: dict[str, Any]) -> str:
    """The content hash as it was computed before it was keyed: plain SHA-256."""
    return content_hash(**{c: values[c] for c in CONTENT})


def rehash_old_way(seq: int, *, downgrade: bool = False) -> Callable[[Connection], None]:
    """Edit entry ``seq`` and give it a matching content hash, computed the old way."""

    def mutate(conn: Connection) -> None:
        r = row(conn, seq)
        r["actor"] = "operator:mallory"
        changes: dict[str, Any] = {"actor": r["actor"], "content_hash": old_way(r)}
        if downgrade:
            changes["hash_version"] = HASH_UNKEYED
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(changes))

    return mutate


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
