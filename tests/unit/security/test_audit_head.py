"""The signed head kept outside the database: no rewrite, resealed or not, and no truncation
goes unnoticed.

Someone who can write the database, but not use the KMS, attacks a log of entries 1-10
sealed with a checkpoint every 4 (4, 8 and the head 10) and 11-12 not sealed yet: they
rewrite, delete, replay or reorder entries, strip the seals from there on, delete the
checkpoints that would give them away, and wait for the sealer to sign the chain again. The
real sealer and verifier run on a real database (SQLite and PostgreSQL) with a real head file.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update

from cardshield.crypto.kms import open_kms
from cardshield.security import seal, verify
from cardshield.security.audit import (
    checkpoint_message,
    entry_values,
)
from cardshield.security.audit_head import SignedHead
from cardshield.security.errors import AuditError
from cardshield.storage.schema import audit_checkpoints, audit_log
from tests.unit.security.conftest import LATER, NOW, append_many
from tests.unit.security.keyed_chain import (
    CONTENT,
    EVERY,
    Chain,
    rehash_old_way,
    row,
    sealed_chain,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    yield from sealed_chain(request.param, tmp_path, tmp_path / "data" / "audit-head.json")


def renumber(conn: Connection, from_seq: int, by: int) -> None:
    conn.execute(text("UPDATE audit_log SET seq = -seq WHERE seq >= :s"), {"s": from_seq})
    conn.execute(text("UPDATE audit_log SET seq = :by - seq WHERE seq < 0"), {"by": by})


def delete_and_renumber(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == 6))
    renumber(conn, 7, -1)


def replay_entry(conn: Connection) -> None:
    """Insert a copy of entry 3 (its keyed hash is genuine) as entry 6."""
    copy = row(conn, 3)
    renumber(conn, 6, 1)
    conn.execute(insert(audit_log).values({**copy, "seq": 6}))


def forge_entry(conn: Connection) -> None:
    """Insert a made-up entry as entry 6, its hash computed the only way the attacker can."""
    values = entry_values(
        now=NOW,
        actor="operator:mallory",
        action="card.reveal",
        outcome="success",
        merchant_id="m_1",
        target="tok_forged",
        details=None,
    )
    renumber(conn, 6, 1)
    conn.execute(insert(audit_log).values({**values, "seq": 6}))


def swap(conn: Connection) -> None:
    """Exchange the whole contents of entries 3 and 6, keyed hashes and all."""
    a, b = row(conn, 3), row(conn, 6)
    for seq, src in ((3, b), (6, a)):
        values = {c: src[c] for c in [*CONTENT, "content_hash", "hash_version"]}
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(values))


def strip_from(seq: int) -> Callable[[Connection], None]:
    """Remove the seals from ``seq`` on and every checkpoint that covers them."""

    def mutate(conn: Connection) -> None:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq >= seq)
            .values(prev_hash=None, chain_hash=None, sealed_at=None)
        )
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.upto_seq >= seq))

    return mutate


def truncate_tail(conn: Connection) -> None:
    """Delete the newest sealed entries, the unsealed tail and their checkpoints."""
    conn.execute(delete(audit_log).where(audit_log.c.seq >= 9))
    conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.upto_seq >= 9))


# (attack before the seals are stripped, where the seals are stripped from, and what
# verify --expect-head then reports: seq and kind)
RESEALS: dict[str, tuple[Callable[[Connection], None], int, int, str]] = {
    "edit an entry, its hash recomputed the old way": (rehash_old_way(6), 6, 6, "edited"),
    "the same, marked as an unkeyed legacy entry": (
        rehash_old_way(6, downgrade=True),
        6,
        6,
        "edited",
    ),
    "delete an entry and renumber the rest": (delete_and_renumber, 6, 6, "truncated"),
    "insert a copy of a genuine entry": (replay_entry, 6, 6, "truncated"),
    "insert a forged entry": (forge_entry, 6, 6, "edited"),
    "reorder two entries": (swap, 3, 3, "truncated"),
}


@pytest.mark.parametrize("case", list(RESEALS))
def test_rewrite_and_reseal_is_refused_and_detected(chain: Chain, case: str) -> None:
    mutate, strip, seq, kind = RESEALS[case]
    head = chain.head()
    assert chain.verify(head).ok
    chain.attack(mutate)
    chain.attack(strip_from(strip))

    resealed = chain.seal()
    assert resealed.stalled_at is not None, f"{case}: the sealer signed the rewritten chain"
    assert resealed.checkpoints == () and resealed.sealed == 0
    assert chain.head() == head  # nothing new was published either
    with chain.engine.connect() as conn:
        kept = conn.execute(select(audit_checkpoints.c.upto_seq)).scalars().all()
        assert kept == [cp for cp in (4, 8, 10) if cp < strip]

    report = chain.verify(head)
    assert report.problem is not None, f"{case}: not detected"
    assert (report.problem.seq, report.problem.kind) == (seq, kind), report.problem.describe()


@pytest.mark.parametrize("case", ["delete", "replay", "reorder"])
def test_a_chain_resealed_elsewhere_differs_from_the_kept_head(chain: Chain, case: str) -> None:
    """Entries whose keyed hashes are genuine, moved around and sealed again by a sealer that
    has no head file (another node, a restored one): only the kept head can tell."""
    mutate = {"delete": delete_and_renumber, "replay": replay_entry, "reorder": swap}[case]
    head = chain.head()
    chain.attack(mutate)
    chain.attack(strip_from(3))
    resealed = chain.seal(head_file=False)
    assert resealed.stalled_at is None and resealed.head_seq >= 10
    assert chain.verify().ok  # the database alone is consistent again
    report = chain.verify(head)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (10, "rewritten")


def test_tail_truncation_is_caught_by_the_kept_head(chain: Chain) -> None:
    head = chain.head()
    assert head.seq == 10
    chain.attack(truncate_tail)
    assert chain.verify().ok  # nothing left in the database says entries 9-12 existed
    report = chain.verify(head)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (9, "truncated")
    assert "before the expected head 10" in report.problem.detail

    append_many(chain.engine, 3, start=20)  # on SQLite these take the freed numbers 9-11
    stalled = chain.seal()
    assert (stalled.stalled_at, stalled.stall_reason) == (9, "truncated")
    assert stalled.sealed == 0 and stalled.checkpoints == ()
    assert chain.head() == head


def test_each_signed_head_is_published(chain: Chain, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cardshield.audit")
    head = chain.head()
    with chain.engine.connect() as conn:
        cp = conn.execute(select(audit_checkpoints).where(audit_checkpoints.c.upto_seq == 10)).one()
    assert (head.seq, head.chain_hash, head.signature) == (10, cp.chain_hash, cp.signature)
    assert chain.kms.verify(checkpoint_message(head.seq, head.chain_hash), head.signature or b"")

    report = chain.seal()
    assert report.head_seq == 12 and chain.head().seq == 12
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    signed = [e for e in events if e.get("audit_event") == "head_signed"]
    assert [(e["seq"], e["chain_hash"]) for e in signed] == [(12, report.head_hash)]
    signature = chain.head().signature or b""
    assert signed[0]["signature"] == base64.b64encode(signature).decode()


def test_a_head_signed_with_another_key_is_refused(chain: Chain) -> None:
    head = chain.head()
    stranger = open_kms("memory:")
    with pytest.raises(AuditError, match="not signed by this KMS"):
        seal(chain.engine, stranger, now=LATER, checkpoint_every=EVERY, head_file=chain.head_file)
    with pytest.raises(AuditError, match="not signed by this KMS"):
        verify(chain.engine, stranger, checkpoint_every=EVERY, expect_head=head)
    made_up = SignedHead(head.seq, "00" * 32, head.signature)
    with pytest.raises(AuditError, match="not signed by this KMS"):
        chain.verify(made_up)
