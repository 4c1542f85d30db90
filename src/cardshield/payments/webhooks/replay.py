"""Replay: queue an event's deliveries (or one delivery) to be sent again now.

A replayed delivery is reset to ``pending`` with a fresh attempt budget and keeps its
place in its object's order (its id does not change), so later events for the same payment
wait for it again. Its earlier attempts stay in ``webhook_attempts``. A delivery that a
worker is sending right now is left alone (it is already on its way), and deliveries to a
disabled endpoint are never re-queued.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, or_, select, update

from cardshield.payments.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    EventNotFound,
)
from cardshield.security.audit import append as audit
from cardshield.storage.schema import events, webhook_deliveries, webhook_endpoints

_D = webhook_deliveries


def replay(
    engine: Engine,
    *,
    now: datetime,
    event_id: str | None = None,
    delivery_id: int | None = None,
    merchant_id: str | None = None,
    actor: str = "api",
) -> list[int]:
    """Re-queue by ``event_id`` or ``delivery_id`` (exactly one); returns the ids queued.

    With ``merchant_id``, only that merchant's event or delivery is found (others are
    ``resource_missing``, as if they did not exist).
    """
    if (event_id is None) == (delivery_id is None):
        raise ValueError("give exactly one of event_id and delivery_id")
    with engine.begin() as conn:
        query = (
            select(_D.c.id, _D.c.merchant_id, _D.c.event_id, webhook_endpoints.c.disabled_at)
            .join(webhook_endpoints, webhook_endpoints.c.id == _D.c.endpoint_id)
            .order_by(_D.c.id)
        )
        if merchant_id is not None:
            query = query.where(_D.c.merchant_id == merchant_id)
        if delivery_id is not None:
            rows = conn.execute(query.where(_D.c.id == delivery_id)).all()
            if not rows:
                raise DeliveryNotFound(param="delivery")
            if rows[0].disabled_at is not None:
                raise EndpointDisabled(param="delivery")
            owner = rows[0].merchant_id
        else:
            event = select(events.c.merchant_id).where(events.c.id == event_id)
            if merchant_id is not None:
                event = event.where(events.c.merchant_id == merchant_id)
            owner = conn.execute(event).scalar_one_or_none()
            if owner is None:
                raise EventNotFound(param="event")
            rows = conn.execute(query.where(_D.c.event_id == event_id)).all()
        wanted = [r.id for r in rows if r.disabled_at is None]
        queued: list[int] = []
        if wanted:
            queued = sorted(
                conn.execute(
                    update(_D)
                    .where(
                        _D.c.id.in_(wanted),
                        or_(_D.c.leased_until.is_(None), _D.c.leased_until <= now),
                    )
                    .values(
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        leased_until=None,
                        lease_owner=None,
                        delivered_at=None,
                    )
                    .returning(_D.c.id)
                )
                .scalars()
                .all()
            )
        audit(
            conn,
            now=now,
            actor=actor,
            action="webhook.replay",
            merchant_id=owner,
            target=event_id or str(delivery_id),
            details={"queued": queued},
        )
    return queued
