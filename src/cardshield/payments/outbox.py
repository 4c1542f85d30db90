"""The event outbox: events are written in the same transaction as the change they report.

:func:`emit_event` inserts the event and one pending delivery per enabled webhook endpoint
of the merchant that subscribes to its type. The delivery worker sends them later, with
retries; because both rows commit or roll back with the state change, no event is lost and
none is sent for a change that did not happen.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from cardshield.redaction.scrub import scrub
from cardshield.storage.schema import events, webhook_deliveries, webhook_endpoints


def emit_event(
    conn: Connection,
    *,
    now: datetime,
    merchant_id: str,
    type: str,
    object_id: str | None,
    data: Mapping[str, Any],
) -> str:
    """Record an event and queue its deliveries in the caller's transaction; returns its id."""
    event_id = "evt_" + secrets.token_hex(12)
    # Event payloads carry tokens and masked card data only; redaction is the safety net.
    conn.execute(
        events.insert().values(
            id=event_id,
            merchant_id=merchant_id,
            type=type,
            object_id=object_id,
            data=scrub(dict(data)),
            created_at=now,
        )
    )
    endpoints = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.enabled_events).where(
            webhook_endpoints.c.merchant_id == merchant_id,
            webhook_endpoints.c.disabled_at.is_(None),
        )
    ).all()
    for endpoint in endpoints:
        wanted = endpoint.enabled_events or []
        if "*" in wanted or type in wanted:
            conn.execute(
                webhook_deliveries.insert().values(
                    event_id=event_id,
                    endpoint_id=endpoint.id,
                    merchant_id=merchant_id,
                    object_id=object_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return event_id


def event_dict(row: Any) -> dict[str, Any]:
    """The public shape of an event (what webhooks deliver and ``/v1/events`` lists)."""
    return {
        "id": row.id,
        "object": "event",
        "type": row.type,
        "created": int(row.created_at.timestamp()),
        "data": row.data,
    }


def get_event(conn: Connection, merchant_id: str, event_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(events).where(events.c.id == event_id, events.c.merchant_id == merchant_id)
    ).first()
    return None if row is None else event_dict(row)


def list_events(
    conn: Connection,
    merchant_id: str,
    *,
    limit: int,
    starting_after: str | None = None,
    type: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Newest first; ``starting_after`` is the last id of the previous page."""
    query = select(events).where(events.c.merchant_id == merchant_id)
    if type is not None:
        query = query.where(events.c.type == type)
    if starting_after is not None:
        cursor = conn.execute(
            select(events.c.created_at, events.c.id).where(
                events.c.id == starting_after, events.c.merchant_id == merchant_id
            )
        ).first()
        if cursor is not None:
            query = query.where(
                (events.c.created_at < cursor.created_at)
                | ((events.c.created_at == cursor.created_at) & (events.c.id < cursor.id))
            )
    rows = conn.execute(
        query.order_by(events.c.created_at.desc(), events.c.id.desc()).limit(limit + 1)
    ).all()
    return [event_dict(r) for r in rows[:limit]], len(rows) > limit
