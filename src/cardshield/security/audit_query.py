"""Reading the audit log: filtered pages for the console, JSON lines for a SIEM.

Entries hold masked data only (the log redacts on the way in), so what comes out here can be
shown and shipped as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, select

from cardshield.storage.schema import audit_log

_EXPORT_BATCH = 1000


@dataclass(frozen=True)
class AuditFilter:
    """Every field optional; text fields match exactly, ``action`` also by prefix (``card.``)."""

    action: str | None = None
    actor: str | None = None
    merchant_id: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        c = audit_log.c
        if self.action:
            if self.action.endswith("."):
                query = query.where(c.action.startswith(self.action, autoescape=True))
            else:
                query = query.where(c.action == self.action)
        for column, value in (
            (c.actor, self.actor),
            (c.merchant_id, self.merchant_id),
            (c.target, self.target),
            (c.outcome, self.outcome),
        ):
            if value:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(c.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(c.occurred_at < self.until)
        return query


def entry_dict(row: Any) -> dict[str, Any]:
    try:
        details = json.loads(row.details)
    except ValueError:  # a damaged entry: show the text; `audit verify` names it
        details = row.details
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": row.actor,
        "merchant_id": row.merchant_id,
        "action": row.action,
        "target": row.target,
        "outcome": row.outcome,
        "details": details,
        "content_hash": row.content_hash,
        "chain_hash": row.chain_hash,
        "sealed": row.sealed_at is not None,
    }


def page(
    conn: Connection,
    filters: AuditFilter,
    *,
    limit: int = 50,
    before_seq: int | None = None,
    merchant_scope: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first; pass the last ``seq`` shown as ``before_seq`` for the next page.

    ``merchant_scope`` limits an operator who works for one merchant to its entries.
    """
    query = filters.apply(select(audit_log))
    if merchant_scope is not None:
        query = query.where(audit_log.c.merchant_id == merchant_scope)
    if before_seq is not None:
        query = query.where(audit_log.c.seq < before_seq)
    rows = conn.execute(query.order_by(audit_log.c.seq.desc()).limit(max(1, min(limit, 500))))
    return [entry_dict(r) for r in rows]


def export(engine: Engine, filters: AuditFilter) -> Iterator[dict[str, Any]]:
    """Every matching entry, oldest first, read in batches (constant memory)."""
    after = 0
    while True:
        with engine.connect() as conn:
            query = filters.apply(select(audit_log)).where(audit_log.c.seq > after)
            rows = conn.execute(query.order_by(audit_log.c.seq).limit(_EXPORT_BATCH)).all()
        if not rows:
            return
        for row in rows:
            yield entry_dict(row)
        after = rows[-1].seq
