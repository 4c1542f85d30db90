"""The sandbox processor's own ledger, written in its own transactions on its own engine.

It plays an outside system: nothing here shares a transaction with cardshield's payment
tables. Rows are keyed by the idempotency key the caller sends; inserting a key twice
(concurrently or later) keeps the first row, and the caller gets that first row back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from cardshield.gateways.sandbox.transformers import LedgerEntry
from cardshield.storage.schema import sandbox_ledger as L

# Decides the status and decline code of a follow-up once its parent is locked.
Check = Callable[[Connection, LedgerEntry], tuple[str, str | None]]


def find_by_key(engine: Engine, key: str) -> LedgerEntry | None:
    with engine.connect() as conn:
        row = conn.execute(select(L).where(L.c.idempotency_key == key)).mappings().first()
    return None if row is None else LedgerEntry.from_row(row)


def find(engine: Engine, entry_id: str) -> LedgerEntry | None:
    with engine.connect() as conn:
        row = conn.execute(select(L).where(L.c.id == entry_id)).mappings().first()
    return None if row is None else LedgerEntry.from_row(row)


def entries(engine: Engine) -> list[LedgerEntry]:
    """Every row, oldest first (the sandbox's settlement report)."""
    with engine.connect() as conn:
        rows = conn.execute(select(L).order_by(L.c.created_at, L.c.id)).mappings().all()
    return [LedgerEntry.from_row(r) for r in rows]


def insert(engine: Engine, values: dict[str, Any], check: Check | None = None) -> LedgerEntry:
    """Write one row; with ``check``, its parent is locked and ``check`` sets the outcome.

    Returns the stored row: the new one, or the first row with the same idempotency key.
    """
    try:
        with engine.begin() as conn:
            if check is not None:
                parent = _lock(conn, values["parent_id"])
                if parent is None:
                    values = values | {"status": "declined", "decline_code": "no_such_charge"}
                else:
                    status, code = check(conn, parent)
                    values = values | {"status": status, "decline_code": code}
            conn.execute(L.insert().values(**values))
    except IntegrityError:
        # The key was used before (or by a concurrent call that won): the first row stands.
        # PostgreSQL aborted the transaction, so the read happens on a fresh one.
        existing = find_by_key(engine, values["idempotency_key"])
        if existing is None:
            raise
        return existing
    return LedgerEntry.from_row(values)


def _lock(conn: Connection, parent_id: str) -> LedgerEntry | None:
    # A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite, so
    # concurrent follow-ups of one charge are checked one at a time.
    conn.execute(update(L).where(L.c.id == parent_id).values(status=L.c.status))
    row = conn.execute(select(L).where(L.c.id == parent_id)).mappings().first()
    return None if row is None else LedgerEntry.from_row(row)


def children(conn: Connection, parent_id: str) -> dict[str, tuple[int, int]]:
    """operation -> (count, amount) of the parent's succeeded follow-ups."""
    rows = conn.execute(
        select(L.c.operation, func.count(), func.coalesce(func.sum(L.c.amount), 0))
        .where(L.c.parent_id == parent_id, L.c.status == "succeeded")
        .group_by(L.c.operation)
    )
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def decide_challenge(engine: Engine, entry_id: str, approve: bool) -> LedgerEntry | None:
    """Settle a pending 3-D Secure challenge once; later calls see the first decision."""
    status, code = ("succeeded", None) if approve else ("declined", "authentication_failed")
    with engine.begin() as conn:
        conn.execute(
            update(L)
            .where(L.c.id == entry_id, L.c.status == "requires_action")
            .values(status=status, decline_code=code)
        )
    return find(engine, entry_id)
