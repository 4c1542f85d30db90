"""Refusing a signed Lambda request seen before, on every node.

A signature is valid for the whole tolerance window either side of its timestamp, so each
accepted one is remembered (a digest, in the database every node shares) for twice the
tolerance, then forgotten: older ones fail the timestamp check anyway. The primary key does
the work: a second insert of the same digest fails, even from two nodes at the same instant
(PostgreSQL makes the second wait for the first to commit, then refuses it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert
from sqlalchemy.exc import IntegrityError

from cardshield.phone.connect.errors import ConnectRequestReplayed
from cardshield.storage.schema import connect_replays


def digest(merchant_id: str, timestamp: int, signature: str) -> str:
    return hashlib.sha256(f"{merchant_id}|{timestamp}|{signature}".encode()).hexdigest()


def claim(
    conn: Connection,
    *,
    merchant_id: str,
    timestamp: int,
    signature: str,
    now: datetime,
    keep: timedelta,
) -> None:
    """Record the signature in the caller's transaction; ConnectRequestReplayed if known.

    The caller's transaction must end (roll back) when this raises: on PostgreSQL the failed
    insert has aborted it.
    """
    conn.execute(delete(connect_replays).where(connect_replays.c.seen_at < now - keep))
    try:
        conn.execute(
            insert(connect_replays).values(
                digest=digest(merchant_id, timestamp, signature),
                merchant_id=merchant_id,
                seen_at=now,
            )
        )
    except IntegrityError:
        raise ConnectRequestReplayed from None
