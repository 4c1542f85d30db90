"""The sealer: links committed audit entries into the hash chain, in sequence order.

:func:`append` leaves each entry with only its content hash, so that concurrent actions
never wait for each other. Shortly after, :func:`seal` (run by every node on a timer, or by
``cardshield audit seal``) walks the committed, unsealed entries in ``seq`` order and gives
each its ``prev_hash`` and ``chain_hash``. Only one sealer works at a time: it holds a
database lock for the duration of a batch (a transaction-scoped advisory lock on PostgreSQL,
the write lock taken up front with ``BEGIN IMMEDIATE`` on SQLite). Running it twice, or on
several nodes at once, is safe; a run that finds nothing to do changes nothing.

Gaps. A PostgreSQL sequence number is spent even when its transaction rolls back, so the
chain must be able to step over numbers no entry will ever use, and verification must still
tell such a gap from a deleted entry. The sealer records each gap as a sealed placeholder
entry (action ``audit.gap``) under the missing number, once the first committed entry after
it is older than ``grace``: by then the transaction that drew the number has been over or
stuck for that long. If it is in fact still open, the two inserts of the same primary key
meet: the later one waits for the earlier to finish and fails if it commits, so either the
real entry or the placeholder is kept, never both and never neither (a failed seal batch is
simply retried). SQLite reuses a rolled-back rowid instead, so a gap there can only mean a
deleted entry: the sealer stops before it and reports it rather than papering over it.

The sealer also refuses to seal an entry whose content no longer matches its content hash
(an HMAC under the audit key, which only a holder of the KMS can compute), and an entry with
an unkeyed legacy hash after keyed ones. Every ``checkpoint_every``-th sequence number gets a
checkpoint: the chain hash at that entry, signed by the KMS, so that rewriting the chain
before it needs the signing key. The newest head gets one too (replacing the previous head
checkpoint), so that truncating the chain is caught; a sealer that finds a checkpoint beyond
the sealed head stops there.

Checkpoints live in the database, so someone who can write it can delete them, strip the
seals and let the sealer sign again. Each newly signed head therefore also leaves the
database (:mod:`cardshield.security.audit_head`): it is logged, and written to ``head_file``.
A sealer given a head file never seals at or below the head in it: it stops when the sealed
chain ends before that head (entries removed or unsealed) or has another hash there
(rewritten), and only an operator who moves the file away lets it go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from cardshield.security.audit import (
    DEFAULT_CHECKPOINT_EVERY,
    GAP_ACTION,
    GENESIS_HASH,
    HASH_KEYED,
    HASH_UNKEYED,
    SEALER_ACTOR,
    AuditKey,
    Signer,
    chain_hash,
    checkpoint_message,
    entry_values,
    is_digest,
    row_content_hash,
)
from cardshield.security.audit_head import SignedHead, publish_head, read_head
from cardshield.security.errors import AuditError
from cardshield.storage.schema import audit_checkpoints, audit_log

# pg_advisory_xact_lock key: any constant that no other part of cardshield uses.
_PG_LOCK_KEY = 0x63617564_69740001  # "caudit" + 1
_RETRIES = 3
GAP_DETAILS = {"reason": "sequence number left unused by a rolled-back transaction"}


@dataclass(frozen=True)
class SealReport:
    """What one :func:`seal` call did.

    ``sealed`` counts real entries linked; ``gaps`` are the sequence numbers recorded as
    ``audit.gap`` placeholders; ``checkpoints`` the sequence numbers signed. ``head_seq`` and
    ``head_hash`` describe the end of the sealed chain afterwards (0 and the genesis hash
    when empty). ``pending`` entries were left unsealed: newer than a gap still inside its
    grace period, or behind ``stalled_at``, the sequence number where the sealer refused to
    go on (``stall_reason`` says why: ``deleted`` or ``edited`` entry, or the chain is
    ``truncated`` or ``rewritten`` below the signed head; ``stall_detail`` says more).
    """

    sealed: int
    gaps: tuple[int, ...]
    checkpoints: tuple[int, ...]
    head_seq: int
    head_hash: str
    pending: int
    stalled_at: int | None = None
    stall_reason: str | None = None
    stall_detail: str | None = None


@dataclass
class _Batch:
    sealed: int = 0
    gaps: list[int] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    more: bool = False
    stalled_at: int | None = None
    stall_reason: str | None = None
    stall_detail: str | None = None
    head_signature: bytes | None = None

    def stall(self, seq: int, reason: str, detail: str) -> None:
        self.stalled_at, self.stall_reason, self.stall_detail = seq, reason, detail


def _begin_locked(conn: Connection) -> None:
    """Start the batch's transaction holding the one-sealer-at-a-time lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # Take the write lock before reading, so the head we read cannot move under us and a
        # second sealer waits (busy_timeout) instead of failing half-way with a stale snapshot.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:  # pragma: no cover - make_engine accepts only these two
        raise AuditError(f"the audit sealer does not support {conn.dialect.name}")


def sealed_head(conn: Connection) -> tuple[int, str]:
    """(seq, chain_hash) of the last sealed entry, or (0, genesis) when none is sealed."""
    row = conn.execute(
        select(audit_log.c.seq, audit_log.c.chain_hash)
        .where(audit_log.c.chain_hash.is_not(None))
        .order_by(audit_log.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return 0, GENESIS_HASH
    return int(row.seq), str(row.chain_hash)


def _head_keyed(conn: Connection, head_seq: int) -> bool:
    """Whether the newest sealed entry has a keyed hash (then no legacy one may follow)."""
    version = conn.execute(
        select(audit_log.c.hash_version).where(audit_log.c.seq == head_seq)
    ).scalar()
    return version == HASH_KEYED


def _check_anchor(conn: Connection, anchor: SignedHead, head_seq: int, out: _Batch) -> bool:
    """False (and ``out`` stalled) unless the sealed chain still reaches the signed head."""
    if head_seq < anchor.seq:
        out.stall(
            head_seq + 1,
            "truncated",
            f"the sealed chain ends at entry {head_seq}, before the signed head {anchor.seq} "
            "in the head file",
        )
        return False
    if anchor.seq == 0:
        return True
    at_anchor = conn.execute(
        select(audit_log.c.chain_hash).where(audit_log.c.seq == anchor.seq)
    ).scalar()
    if at_anchor != anchor.chain_hash:
        out.stall(
            anchor.seq, "rewritten", "the chain differs from the signed head in the head file"
        )
        return False
    return True


def _link(prev: str, seq: int, content: str) -> str:
    linked = chain_hash(prev, seq, content)
    if linked is None:  # only a tampered stored digest gets here, and we check those first
        raise AuditError(f"audit entry {seq}: stored hash is not a SHA-256 digest")
    return linked


def _seal_batch(
    conn: Connection,
    signer: Signer,
    key: AuditKey,
    anchor: SignedHead | None,
    *,
    now: datetime,
    grace: timedelta,
    checkpoint_every: int,
    batch_size: int,
) -> _Batch:
    out = _Batch()
    head_seq, prev = sealed_head(conn)
    rows = conn.execute(
        select(audit_log)
        .where(audit_log.c.seq > head_seq)
        .order_by(audit_log.c.seq)
        .limit(batch_size)
    ).all()
    records_gaps = conn.dialect.name != "sqlite"
    expected = head_seq + 1
    links: list[dict[str, Any]] = []
    signed: list[tuple[int, str]] = []

    def step(seq: int, chain: str) -> None:
        nonlocal prev, expected
        prev, expected = chain, seq + 1
        if seq % checkpoint_every == 0:
            signed.append((seq, chain))

    stopped = False
    last_signed = conn.execute(select(func.max(audit_checkpoints.c.upto_seq))).scalar()
    if not is_digest(prev):
        out.stall(head_seq, "edited", "its chain hash is not a SHA-256 digest")
        rows, stopped = [], True
    elif last_signed is not None and last_signed > head_seq:
        # A signed checkpoint covers entries that are gone: never seal over a deletion.
        out.stall(head_seq + 1, "deleted", f"checkpoint {last_signed} covers entries now gone")
        rows, stopped = [], True
    elif anchor is not None and not _check_anchor(conn, anchor, head_seq, out):
        rows, stopped = [], True  # never sign at or below a head that has left the database
    keyed = _head_keyed(conn, head_seq)
    for row in rows:
        if row.seq > expected:
            if not records_gaps:
                out.stall(expected, "deleted", "missing from the unsealed entries")
                stopped = True
                break
            if row.occurred_at > now - grace:
                stopped = True  # the missing numbers may still commit: wait for them
                break
            for missing in range(expected, row.seq):
                values = entry_values(
                    now=now,
                    actor=SEALER_ACTOR,
                    action=GAP_ACTION,
                    outcome="recorded",
                    merchant_id=None,
                    target=None,
                    details=GAP_DETAILS,
                    # keyed, unless it sits among legacy entries written before the upgrade
                    key=key if keyed or row.hash_version != HASH_UNKEYED else None,
                )
                chain = _link(prev, missing, values["content_hash"])
                conn.execute(
                    insert(audit_log).values(
                        seq=missing, prev_hash=prev, chain_hash=chain, sealed_at=now, **values
                    )
                )
                out.gaps.append(missing)
                keyed = keyed or values["hash_version"] == HASH_KEYED
                step(missing, chain)
        if row.hash_version == HASH_UNKEYED and keyed:
            out.stall(row.seq, "edited", "an unkeyed content hash after keyed entries")
            stopped = True
            break
        if row_content_hash(row, key) != row.content_hash:
            out.stall(row.seq, "edited", "its content does not match its content hash")
            stopped = True
            break
        keyed = keyed or row.hash_version == HASH_KEYED
        chain = _link(prev, row.seq, row.content_hash)
        links.append({"b_seq": row.seq, "b_prev": prev, "b_chain": chain})
        step(row.seq, chain)

    if links:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq == bindparam("b_seq"), audit_log.c.chain_hash.is_(None))
            .values(prev_hash=bindparam("b_prev"), chain_hash=bindparam("b_chain"), sealed_at=now),
            links,
        )
    if expected - 1 > head_seq:
        # Also sign the new head, so that deleting the newest sealed entries is detected too;
        # the head checkpoint it supersedes is dropped, so only one such is ever kept.
        conn.execute(
            delete(audit_checkpoints).where(
                audit_checkpoints.c.upto_seq < expected - 1,
                audit_checkpoints.c.upto_seq % checkpoint_every != 0,
            )
        )
        if not signed or signed[-1][0] != expected - 1:
            signed.append((expected - 1, prev))
    for seq, chain in signed:
        signature = signer.sign(checkpoint_message(seq, chain))
        conn.execute(
            insert(audit_checkpoints).values(
                upto_seq=seq, chain_hash=chain, signature=signature, created_at=now
            )
        )
        out.checkpoints.append(seq)
        if seq == expected - 1:
            out.head_signature = signature
    out.sealed = len(links)
    out.head_seq, out.head_hash = expected - 1, prev
    out.more = not stopped and len(rows) == batch_size
    return out


def _pending(conn: Connection, head_seq: int) -> int:
    count = conn.execute(
        select(func.count()).select_from(audit_log).where(audit_log.c.seq > head_seq)
    ).scalar_one()
    return int(count)


def seal(
    engine: Engine,
    kms: Signer,
    *,
    now: datetime,
    grace: timedelta = timedelta(seconds=5),
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    batch_size: int = 1000,
    head_file: Path | None = None,
) -> SealReport:
    """Link every committed, unsealed entry into the chain; sign checkpoints on the way.

    Each batch of up to ``batch_size`` entries commits on its own under the sealer lock, so
    a crash loses at most the batch in progress, and the next run carries on from the head.
    Each new head is logged and, with ``head_file``, written there after its batch commits;
    the head already in ``head_file`` is the floor below which nothing is sealed again.
    """
    if checkpoint_every < 1 or batch_size < 1:
        raise ValueError("checkpoint_every and batch_size must be positive")
    anchor = None if head_file is None else read_head(head_file)
    if anchor is not None:
        anchor.check(kms)
    key = AuditKey.derive(kms)
    total = _Batch()
    while True:
        for attempt in range(_RETRIES):
            try:
                with engine.connect() as conn:
                    _begin_locked(conn)
                    batch = _seal_batch(
                        conn,
                        kms,
                        key,
                        anchor,
                        now=now,
                        grace=grace,
                        checkpoint_every=checkpoint_every,
                        batch_size=batch_size,
                    )
                    conn.commit()
                break
            except IntegrityError as exc:
                # An entry we took for a gap committed after all (its transaction was slow):
                # the batch rolled back; read again and seal it normally.
                if attempt == _RETRIES - 1:
                    raise AuditError("the audit sealer kept colliding with new entries") from exc
            except OperationalError as exc:
                raise AuditError(f"the audit sealer could not lock the log: {exc.orig}") from exc
        total.sealed += batch.sealed
        total.gaps += batch.gaps
        total.checkpoints += batch.checkpoints
        total.head_seq, total.head_hash = batch.head_seq, batch.head_hash
        total.stalled_at, total.stall_reason = batch.stalled_at, batch.stall_reason
        total.stall_detail = batch.stall_detail
        if batch.head_signature is not None:
            signed = SignedHead(batch.head_seq, batch.head_hash, batch.head_signature)
            anchor = publish_head(signed, head_file, now=now)
        if not batch.more:
            break
    with engine.connect() as conn:
        pending = _pending(conn, total.head_seq)
    return SealReport(
        sealed=total.sealed,
        gaps=tuple(total.gaps),
        checkpoints=tuple(total.checkpoints),
        head_seq=total.head_seq,
        head_hash=total.head_hash,
        pending=pending,
        stalled_at=total.stalled_at,
        stall_reason=total.stall_reason,
        stall_detail=total.stall_detail,
    )
