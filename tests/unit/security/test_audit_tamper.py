"""Tampering with any single audit entry or checkpoint is found, with the right seq and kind.

The log under attack: entries 1-10 sealed with a checkpoint every 4 (4, 8 and the head 10),
then entries 11-12 not sealed yet. Each case changes the database the way an attacker with
write access to it would, then :func:`verify` must name the first damaged entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.security import seal, verify
from cardshield.security.audit import chain_hash, entry_values
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_checkpoints, audit_log
from tests.databases import postgres_database, sqlite_database
from tests.unit.security.conftest import LATER, NOW, append_many

EVERY = 4
COLUMNS = [c.name for c in audit_log.columns if c.name != "seq"]
CONTENT = ["occurred_at", "actor", "merchant_id", "action", "target", "outcome", "details"]


class Log:
    """A sealed log plus its pristine copy, restored before every case."""

    def __init__(self, engine: Engine, kms: KMSProvider) -> None:
        self.engine, self.kms = engine, kms
        append_many(engine, 10)
        seal(engine, kms, now=LATER, checkpoint_every=EVERY)
        append_many(engine, 2, start=10)
        with engine.connect() as conn:
            self.rows = [r._asdict() for r in conn.execute(select(audit_log))]
            self.checkpoints = [r._asdict() for r in conn.execute(select(audit_checkpoints))]

    def restore(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(audit_log))
            conn.execute(delete(audit_checkpoints))
            conn.execute(insert(audit_log), self.rows)
            conn.execute(insert(audit_checkpoints), self.checkpoints)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    urls: Iterator[str]
    if request.param == "sqlite":
        urls = iter([sqlite_database(Path(tmp_path_factory.mktemp("audit")))])
    else:
        urls = postgres_database()
    url = next(urls)
    engine = make_engine(url)
    upgrade(engine)
    yield Log(engine, open_kms("memory:"))
    engine.dispose()
    next(urls, None)  # drops the PostgreSQL database


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).one()._asdict()


def renumber(conn: Connection, from_seq: int, by: int) -> None:
    """Shift entries >= from_seq by ``by`` (in two steps: the primary key stays unique)."""
    conn.execute(text("UPDATE audit_log SET seq = -seq WHERE seq >= :s"), {"s": from_seq})
    conn.execute(text("UPDATE audit_log SET seq = :by - seq WHERE seq < 0"), {"by": by})


def swap(conn: Connection, a: int, b: int, columns: list[str]) -> None:
    ra, rb = row(conn, a), row(conn, b)
    for seq, src in ((a, rb), (b, ra)):
        conn.execute(
            update(audit_log).where(audit_log.c.seq == seq).values({c: src[c] for c in columns})
        )


def forged(seq: int, prev: str | None) -> dict[str, Any]:
    values = entry_values(
        now=NOW,
        actor="operator:mallory",
        action="card.delete",
        outcome="success",
        merchant_id="m_1",
        target="tok_forged",
        details=None,
    )
    chain = chain_hash(prev, seq, values["content_hash"]) if prev else "ab" * 32
    return {**values, "seq": seq, "prev_hash": prev or "cd" * 32, "chain_hash": chain}


def edit_field(conn: Connection) -> None:
    conn.execute(update(audit_log).where(audit_log.c.seq == 6).values(actor="operator:mallory"))


def edit_details_and_rehash(conn: Connection) -> None:
    r = row(conn, 6)
    r["details"] = r["details"].replace('"n":5', '"n":500')
    new = entry_values(
        now=r["occurred_at"],
        actor=r["actor"],
        action=r["action"],
        outcome=r["outcome"],
        merchant_id=r["merchant_id"],
        target=r["target"],
        details={"n": 500},
    )
    conn.execute(
        update(audit_log)
        .where(audit_log.c.seq == 6)
        .values(details=new["details"], content_hash=new["content_hash"])
    )


def rewrite_chain_from(conn: Connection) -> None:
    """Edit entry 6 and re-seal everything after it: only the signed checkpoint at 8 knows."""
    edit_details_and_rehash(conn)
    prev = row(conn, 5)["chain_hash"]
    for seq in range(6, 11):
        chain = chain_hash(prev, seq, row(conn, seq)["content_hash"])
        conn.execute(
            update(audit_log).where(audit_log.c.seq == seq).values(prev_hash=prev, chain_hash=chain)
        )
        prev = chain


def delete_row(seq: int) -> Callable[[Connection], None]:
    def mutate(conn: Connection) -> None:
        conn.execute(delete(audit_log).where(audit_log.c.seq == seq))

    return mutate


def edit_unsealed(conn: Connection) -> None:
    conn.execute(update(audit_log).where(audit_log.c.seq == 12).values(outcome="failure"))


def truncate(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq >= 9))


def delete_and_renumber(conn: Connection) -> None:
    conn.execute(delete(audit_log).where(audit_log.c.seq == 6))
    renumber(conn, 7, -1)


def insert_forged_consistent(conn: Connection) -> None:
    renumber(conn, 6, 1)
    conn.execute(insert(audit_log).values(forged(6, row(conn, 5)["chain_hash"])))


def insert_forged_sloppy(conn: Connection) -> None:
    renumber(conn, 6, 1)
    conn.execute(insert(audit_log).values(forged(6, None)))


def insert_forged_after_tail(conn: Connection) -> None:
    conn.execute(insert(audit_log).values(forged(13, None)))


def strip_seal(conn: Connection) -> None:
    conn.execute(
        update(audit_log)
        .where(audit_log.c.seq == 6)
        .values(prev_hash=None, chain_hash=None, sealed_at=None)
    )


def edit_checkpoint(column: str, value: Any) -> Callable[[Connection], None]:
    def mutate(conn: Connection) -> None:
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.upto_seq == 4)
            .values({column: value})
        )

    return mutate


def delete_checkpoint(conn: Connection) -> None:
    conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.upto_seq == 4))


CASES: dict[str, tuple[Callable[[Connection], None], int, str]] = {
    "edit a field": (edit_field, 6, "edited"),
    "edit details and its content hash": (edit_details_and_rehash, 6, "edited"),
    "edit and re-seal the rest of the chain": (rewrite_chain_from, 8, "rewritten"),
    "delete an entry": (delete_row(6), 6, "deleted"),
    "delete the first entry": (delete_row(1), 1, "deleted"),
    "delete the newest sealed entry": (delete_row(10), 10, "deleted"),
    "truncate the log": (truncate, 9, "deleted"),
    "delete an entry and renumber the rest": (delete_and_renumber, 6, "deleted"),
    "insert a forged entry with valid hashes": (insert_forged_consistent, 6, "inserted"),
    "insert a forged entry with made-up hashes": (insert_forged_sloppy, 6, "inserted"),
    "insert a sealed-looking entry after the tail": (insert_forged_after_tail, 13, "inserted"),
    "swap the contents of two entries": (
        lambda c: swap(c, 3, 6, [*CONTENT, "content_hash"]),
        3,
        "reordered",
    ),
    "swap contents without their hashes": (lambda c: swap(c, 3, 6, CONTENT), 3, "reordered"),
    "swap two whole entries": (lambda c: swap(c, 3, 6, COLUMNS), 3, "reordered"),
    "swap two neighbouring entries": (lambda c: swap(c, 5, 6, COLUMNS), 5, "reordered"),
    "strip an entry's seal": (strip_seal, 6, "edited"),
    "edit an unsealed entry": (edit_unsealed, 12, "edited"),
    "edit a checkpoint signature": (
        edit_checkpoint("signature", b"\x00" * 32),
        4,
        "bad_checkpoint",
    ),
    "point a checkpoint at another hash": (
        edit_checkpoint("chain_hash", "00" * 32),
        4,
        "bad_checkpoint",
    ),
    "delete a checkpoint": (delete_checkpoint, 4, "missing_checkpoint"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_detected(log: Log, case: str) -> None:
    mutate, seq, kind = CASES[case]
    log.restore()
    clean = verify(log.engine, log.kms, checkpoint_every=EVERY)
    assert clean.ok, clean.problem
    with log.engine.begin() as conn:
        mutate(conn)
    report = verify(log.engine, log.kms, checkpoint_every=EVERY)
    assert report.problem is not None, f"{case}: not detected"
    assert (report.problem.seq, report.problem.kind) == (seq, kind), report.problem.describe()


def test_deleting_an_unsealed_entry(log: Log) -> None:
    """SQLite never leaves a hole in its row ids, so a hole is a deletion; PostgreSQL leaves
    one on every rollback, so an unsealed hole is accepted until the sealer records it."""
    log.restore()
    with log.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 11))
    report = verify(log.engine, log.kms, checkpoint_every=EVERY)
    if log.engine.dialect.name == "sqlite":
        assert report.problem is not None
        assert (report.problem.seq, report.problem.kind) == (11, "deleted")
        stalled = seal(log.engine, log.kms, now=LATER, checkpoint_every=EVERY)
        assert (stalled.stalled_at, stalled.stall_reason, stalled.sealed) == (11, "deleted", 0)
    else:
        assert report.ok and report.unsealed == 1


def test_sealer_refuses_to_seal_over_tampering(log: Log) -> None:
    log.restore()
    with log.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 11).values(actor="mallory"))
    report = seal(log.engine, log.kms, now=LATER, checkpoint_every=EVERY)
    assert (report.sealed, report.stalled_at, report.stall_reason) == (0, 11, "edited")

    log.restore()
    with log.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 10))
    report = seal(log.engine, log.kms, now=LATER, checkpoint_every=EVERY)
    # Checkpoint 10 proves entry 10 existed: the gap is not recorded as a rollback.
    assert (report.sealed, report.gaps, report.stalled_at) == (0, (), 10)
