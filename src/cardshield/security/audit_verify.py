"""Verification of the audit log: the sealed chain end to end, the unsealed tail entry by entry.

:func:`verify` reads the whole log in ``seq`` order inside one snapshot and stops at the
first problem, which it names by sequence number and kind:

``edited``
    an entry's content no longer matches its content hash (an HMAC under the audit key), its
    seal does not match it, or it has an unkeyed legacy hash after keyed entries;
``deleted``
    a sequence number is missing and is not a recorded gap (sealed entries are numbered
    without holes: the sealer records every legitimate gap as an ``audit.gap`` entry);
``inserted``
    an entry that does not belong to the chain (forged, or pushed in with renumbering);
``reordered``
    an entry that belongs to the chain, but at another position (swapped or moved);
``bad_checkpoint``
    a checkpoint whose signature does not verify with the KMS key;
``rewritten``
    a correctly signed checkpoint, or the expected head, that does not match the chain:
    entries at or before it were rewritten with fresh hashes;
``missing_checkpoint``
    no checkpoint at a sequence number that is a multiple of ``checkpoint_every``;
``truncated``
    the sealed chain ends before the expected head (``expect_head``, a head kept outside the
    database): entries at or below it were deleted or unsealed.

Telling ``inserted`` from ``reordered`` and ``deleted`` needs a look beyond the failing
entry: where its seal says it belongs (the ``seq`` at which its stored hashes are
consistent) and where the entry that should follow its predecessor is now. These look-ups
scan the table, but only once, after a problem is found.

Unsealed entries carry no link yet; each is checked against its content hash. On
PostgreSQL a hole among them is normal (a transaction still open, or rolled back and not
yet recorded as a gap); on SQLite, whose row ids are reused after a rollback, it can only be
a deleted entry.

Limits, inherent to a hash chain kept in the database it protects: removing the newest
sealed entries *together with* the newest checkpoint, or stripping seals and checkpoints and
letting the sealer sign again, leaves nothing in the database to compare with; so does
removing an unsealed entry before the sealer records its number as a gap. The first two are
what ``expect_head`` is for: the signed head the sealer publishes outside the database
(:mod:`cardshield.security.audit_head`).
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from cardshield.security.audit import (
    DEFAULT_CHECKPOINT_EVERY,
    GAP_ACTION,
    GENESIS_HASH,
    HASH_KEYED,
    HASH_UNKEYED,
    AuditKey,
    Signer,
    chain_hash,
    checkpoint_message,
    is_digest,
    row_content_hash,
)
from cardshield.security.audit_head import SignedHead
from cardshield.storage.schema import audit_checkpoints, audit_log

# How far from its position an entry's own seal is searched for when nothing links to it.
_ORIGIN_WINDOW = 64
_STREAM_BATCH = 2000


@dataclass(frozen=True)
class Problem:
    """The first problem found: the entry's sequence number, the kind, and what was seen."""

    seq: int
    kind: str
    detail: str

    def describe(self) -> str:
        return f"audit entry {self.seq}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    """Result of :func:`verify`; ``ok`` when no problem was found."""

    problem: Problem | None
    sealed: int
    gaps: int
    unsealed: int
    checkpoints: int
    head_seq: int
    head_hash: str

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Found(Exception):
    """Carries the first problem out of the walk (control flow inside this module only)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


def _fail(seq: int, kind: str, detail: str) -> _Found:
    return _Found(Problem(seq, kind, detail))


def _snapshot(conn: Connection) -> Connection:
    """Make every read below see one consistent state of the log."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")  # a WAL read transaction: one snapshot until it ends
    return conn


def _origin(conn: Connection, row: Any) -> int | None:
    """The sequence number at which ``row``'s stored seal is consistent, if one is found."""
    candidates: list[int] = []
    if row.prev_hash == GENESIS_HASH:
        candidates.append(1)
    if row.prev_hash is not None:
        preds = conn.execute(
            select(audit_log.c.seq).where(audit_log.c.chain_hash == row.prev_hash)
        ).scalars()
        candidates += [int(seq) + 1 for seq in preds]
    candidates += range(max(1, row.seq - _ORIGIN_WINDOW), row.seq + _ORIGIN_WINDOW + 1)
    for seq in candidates:
        if chain_hash(row.prev_hash, seq, row.content_hash) == row.chain_hash:
            return seq
    return None


def _classify_link(conn: Connection, row: Any, prev: str) -> _Found:
    """``row`` (sealed) does not link to ``prev``, the verified chain hash before it."""
    s = row.seq
    if chain_hash(prev, s, row.content_hash) == row.chain_hash:
        return _fail(s, "edited", "its prev_hash was altered")
    successor = conn.execute(
        select(audit_log.c.seq)
        .where(audit_log.c.prev_hash == prev, audit_log.c.seq != s)
        .order_by(audit_log.c.seq)
        .limit(1)
    ).scalar()
    origin = _origin(conn, row)
    if successor is None:
        if origin is not None and origin > s:
            return _fail(s, "deleted", f"the entry before it is gone (it was sealed as {origin})")
        if origin is not None and origin < s:
            return _fail(origin, "inserted", f"entries were inserted before entry {s}")
        return _fail(s, "inserted", "it does not link to the chain")
    if origin is not None and origin != s:
        return _fail(s, "reordered", f"it was sealed as entry {origin}")
    return _fail(s, "inserted", f"it does not link to the chain (entry {successor} does)")


def _content_moved_from(conn: Connection, seq: int, content: str) -> int | None:
    """Another entry whose stored content hash is ``content``: where this content came from."""
    other = conn.execute(
        select(audit_log.c.seq)
        .where(audit_log.c.content_hash == content, audit_log.c.seq != seq)
        .limit(1)
    ).scalar()
    return None if other is None else int(other)


def _sealed_content_from(conn: Connection, row: Any, prev: str) -> int | None:
    """The entry whose content hash the seal of ``row`` was computed over, if another."""
    for other in conn.execute(select(audit_log.c.seq, audit_log.c.content_hash)):
        if other.seq != row.seq and chain_hash(prev, row.seq, other.content_hash) == (
            row.chain_hash
        ):
            return int(other.seq)
    return None


@dataclass
class _Walk:
    """What the walk carries from entry to entry besides the chain itself."""

    key: AuditKey
    expect: SignedHead | None
    keyed: bool = False  # a keyed entry was seen: no legacy one may follow


def _check_content(conn: Connection, row: Any, walk: _Walk) -> None:
    if row.hash_version == HASH_UNKEYED and walk.keyed:
        raise _fail(row.seq, "edited", "an unkeyed content hash after keyed entries")
    walk.keyed = walk.keyed or row.hash_version == HASH_KEYED
    recomputed = row_content_hash(row, walk.key)
    if recomputed == row.content_hash:
        return
    source = None if recomputed is None else _content_moved_from(conn, row.seq, recomputed)
    if source is not None:
        raise _fail(row.seq, "reordered", f"it holds the content of entry {source}")
    raise _fail(row.seq, "edited", "its content does not match its content hash")


def _check_checkpoint(signer: Signer, cp: Any, chain: str) -> None:
    seq = int(cp.upto_seq)
    try:
        message = checkpoint_message(seq, cp.chain_hash)
        valid = signer.verify(message, bytes(cp.signature))
    except ValueError:
        valid = False
    if not valid:
        raise _fail(seq, "bad_checkpoint", "the checkpoint signature does not verify")
    if cp.chain_hash != chain:
        raise _fail(seq, "rewritten", "the chain differs from its signed checkpoint")


def _check_unsealed(conn: Connection, row: Any, expected: int | None, walk: _Walk) -> None:
    """An entry not yet sealed; ``expected`` is its required seq where holes cannot occur."""
    if row.prev_hash is not None or row.sealed_at is not None:
        raise _fail(row.seq, "edited", "half of its seal is missing")
    if expected is not None and row.seq != expected:
        raise _fail(expected, "deleted", "missing from the unsealed entries")
    if not is_digest(row.content_hash):
        raise _fail(row.seq, "edited", "its content hash is not a SHA-256 digest")
    _check_content(conn, row, walk)


def _check_truncation(checkpoints: dict[int, Any], head_seq: int) -> None:
    """A checkpoint beyond the sealed head proves that sealed entries were removed."""
    beyond = [seq for seq in checkpoints if seq > head_seq]
    if beyond:
        raise _fail(head_seq + 1, "deleted", f"checkpoint {min(beyond)} covers entries now gone")


def _check_expected(expect: SignedHead | None, head_seq: int) -> None:
    """The sealed chain must reach the head kept outside the database (checked at it); run
    after the unsealed tail, so that an entry edited there is named as such first."""
    if expect is not None and head_seq < expect.seq:
        raise _fail(
            head_seq + 1,
            "truncated",
            f"the sealed chain ends at entry {head_seq}, before the expected head {expect.seq}",
        )


def _walk(
    conn: Connection, signer: Signer, checkpoint_every: int, walk: _Walk, stats: dict[str, Any]
) -> None:
    checkpoints = {int(cp.upto_seq): cp for cp in conn.execute(select(audit_checkpoints))}
    sealed_max = conn.execute(
        select(func.max(audit_log.c.seq)).where(audit_log.c.chain_hash.is_not(None))
    ).scalar()
    head_seq = 0
    expected, prev = 1, GENESIS_HASH
    in_tail, virtual = False, GENESIS_HASH
    sqlite = conn.dialect.name == "sqlite"
    result = conn.execution_options(yield_per=_STREAM_BATCH).execute(
        select(audit_log).order_by(audit_log.c.seq)
    )
    with closing(result):
        for row in result:
            if row.chain_hash is None:
                if not in_tail:
                    if head_seq == (sealed_max or 0):  # no sealed entry after this one
                        _check_truncation(checkpoints, head_seq)
                    in_tail, virtual, stats["tail_start"] = True, prev, row.seq
                _check_unsealed(conn, row, expected if sqlite else None, walk)
                # The chain this tail would have, to tell a stripped seal from a forged entry.
                virtual = chain_hash(virtual, row.seq, row.content_hash) or virtual
                stats["unsealed"] += 1
                expected = row.seq + 1
                continue
            if in_tail:
                if row.prev_hash == virtual:
                    raise _fail(stats["tail_start"], "edited", "its seal was removed")
                raise _fail(row.seq, "inserted", "a sealed entry after unsealed ones")
            if row.seq != expected:
                raise _fail(expected, "deleted", "missing from the sealed chain")
            if row.prev_hash != prev:
                raise _classify_link(conn, row, prev)
            _check_content(conn, row, walk)
            if chain_hash(prev, row.seq, row.content_hash) != row.chain_hash:
                source = _sealed_content_from(conn, row, prev)
                if source is not None:
                    raise _fail(row.seq, "reordered", f"it holds the content of entry {source}")
                raise _fail(row.seq, "edited", "its chain hash does not match its content")
            if row.seq in checkpoints:
                _check_checkpoint(signer, checkpoints[row.seq], row.chain_hash)
                stats["checkpoints"] += 1
            elif row.seq % checkpoint_every == 0:
                raise _fail(row.seq, "missing_checkpoint", "no signed checkpoint at this entry")
            expect = walk.expect
            if expect is not None and row.seq == expect.seq and row.chain_hash != expect.chain_hash:
                raise _fail(row.seq, "rewritten", "the chain differs from the expected head")
            stats["sealed"] += 1
            stats["gaps"] += row.action == GAP_ACTION
            prev, expected = row.chain_hash, row.seq + 1
            head_seq = stats["head_seq"] = row.seq
            stats["head_hash"] = row.chain_hash
    _check_truncation(checkpoints, head_seq)
    _check_expected(walk.expect, head_seq)


def verify(
    engine: Engine,
    kms: Signer,
    *,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    expect_head: SignedHead | None = None,
) -> VerifyReport:
    """Check the whole audit log; report the first problem found, if any.

    ``checkpoint_every`` must be the value the sealer uses: a checkpoint is required at
    every multiple of it within the sealed chain. ``expect_head`` is a head kept outside the
    database: the sealed chain must reach it and have its hash there. A signed one whose
    signature is not the KMS's raises AuditError (nothing can be concluded from it).
    """
    if checkpoint_every < 1:
        raise ValueError("checkpoint_every must be positive")
    if expect_head is not None:
        expect_head.check(kms)
    walk = _Walk(AuditKey.derive(kms), expect_head)
    stats: dict[str, Any] = {
        "sealed": 0,
        "gaps": 0,
        "unsealed": 0,
        "checkpoints": 0,
        "head_seq": 0,
        "head_hash": GENESIS_HASH,
        "tail_start": 0,
    }
    problem: Problem | None = None
    with engine.connect() as conn:
        conn = _snapshot(conn)
        try:
            _walk(conn, kms, checkpoint_every, walk, stats)
        except _Found as found:
            problem = found.problem
        finally:
            conn.rollback()
    return VerifyReport(
        problem=problem,
        sealed=stats["sealed"],
        gaps=stats["gaps"],
        unsealed=stats["unsealed"],
        checkpoints=stats["checkpoints"],
        head_seq=stats["head_seq"],
        head_hash=stats["head_hash"],
    )
