"""Watching card-data access volume: who touched how many cards lately.

Every access to card data writes an audit entry (``card.*``), so the audit log is the one
source of truth for the volume. :func:`card_access_by_actor` counts recent entries per
actor; :func:`watch_card_access` emits a ``card_access_volume`` security event for each actor
above the threshold (a stolen API key draining the vault looks like this), and runs as a
background job on every node (duplicates across nodes are harmless: alerts, not actions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from cardshield.security import events
from cardshield.storage.schema import audit_log

CARD_ACTION_PREFIX = "card."
WINDOW = timedelta(minutes=5)
THRESHOLD = 500


@dataclass(frozen=True)
class Volume:
    actor: str
    count: int


def card_access_by_actor(
    engine: Engine, *, now: datetime, window: timedelta = WINDOW
) -> list[Volume]:
    """Card-data accesses per actor in ``(now - window, now]``, largest first."""
    query = (
        select(audit_log.c.actor, func.count().label("n"))
        .where(
            audit_log.c.action.like(CARD_ACTION_PREFIX + "%"),
            audit_log.c.occurred_at > now - window,
            audit_log.c.occurred_at <= now,
        )
        .group_by(audit_log.c.actor)
        .order_by(func.count().desc())
    )
    with engine.connect() as conn:
        return [Volume(row.actor, int(row.n)) for row in conn.execute(query)]


def watch_card_access(
    engine: Engine, *, now: datetime, window: timedelta = WINDOW, threshold: int = THRESHOLD
) -> list[Volume]:
    """Emit an event for every actor above ``threshold``; returns them."""
    loud = [v for v in card_access_by_actor(engine, now=now, window=window) if v.count > threshold]
    for volume in loud:
        events.emit(
            events.CARD_ACCESS_VOLUME,
            actor=volume.actor,
            count=volume.count,
            window_s=int(window.total_seconds()),
            threshold=threshold,
        )
    return loud
