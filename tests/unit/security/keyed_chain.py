"""A keyed audit log under attack: entries 1-10 sealed with a checkpoint every 4 (4, 8 and the
head 10), 11-12 not sealed yet, on a real database through the real sealer and verifier; and
the ways someone who can write the database, but not use the KMS, edits it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.security import seal, verify
from cardshield.security.audit import HASH_UNKEYED, bind_key, content_hash
from cardshield.security.audit_head import SignedHead, read_head
from cardshield.security.audit_seal import SealReport
from cardshield.security.audit_verify import VerifyReport
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_log
from tests.databases import postgres_database, sqlite_database
from tests.unit.security.conftest import LATER, append_many

EVERY = 4
CONTENT = ["occurred_at", "actor", "merchant_id", "action", "target", "outcome", "details"]


@dataclass
class Chain:
    engine: Engine
    kms: KMSProvider
    head_file: Path | None = None  # where the sealer keeps the signed head, if anywhere

    def seal(self, *, head_file: bool = True) -> SealReport:
        path = self.head_file if head_file else None
        return seal(self.engine, self.kms, now=LATER, checkpoint_every=EVERY, head_file=path)

    def verify(self, expect: SignedHead | None = None) -> VerifyReport:
        return verify(self.engine, self.kms, checkpoint_every=EVERY, expect_head=expect)

    def head(self) -> SignedHead:
        assert self.head_file is not None
        head = read_head(self.head_file)
        assert head is not None
        return head

    def attack(self, mutate: Callable[[Connection], None]) -> None:
        with self.engine.begin() as conn:
            mutate(conn)


def _url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield sqlite_database(tmp_path)
    else:
        yield from postgres_database()


def sealed_chain(kind: str, tmp_path: Path, head_file: Path | None = None) -> Iterator[Chain]:
    """The log described above, on ``kind`` ("sqlite" or "postgresql"); for a fixture."""
    for url in _url(kind, tmp_path):
        engine = make_engine(url)
        upgrade(engine)
        kms = open_kms("memory:")
        bind_key(engine, kms)
        log = Chain(engine, kms, head_file)
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
