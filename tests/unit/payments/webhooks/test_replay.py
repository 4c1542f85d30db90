from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select, update

from cardshield.payments.webhooks import deliver_due, disable_endpoint, replay
from cardshield.payments.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    EventNotFound,
)
from cardshield.storage.schema import audit_log, webhook_attempts, webhook_deliveries
from tests.unit.payments.webhooks.conftest import MERCHANT, NOW, add_endpoint, emit
from tests.unit.payments.webhooks.receiver import Receiver

LATER = NOW + timedelta(hours=1)


def _deliver(engine: Engine, http: httpx.Client, now: datetime = NOW) -> int:
    return deliver_due(engine, now=now, owner="w", http=http, allow_http_loopback=True)


def test_replay_an_event_sends_it_again(
    engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    add_endpoint(engine, receiver.url)
    add_endpoint(engine, receiver.url.replace("/hook", "/two"))
    evt = emit(engine, "payment.captured", "pay_1")
    assert _deliver(engine, http) == 2
    queued = replay(engine, event_id=evt, now=LATER)
    assert len(queued) == 2
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_deliveries)).all()
    assert all(
        r.status == "pending" and r.attempts == 0 and r.next_attempt_at == LATER for r in rows
    )
    assert _deliver(engine, http, NOW) == 0  # queued for LATER, not before
    assert _deliver(engine, http, LATER) == 2
    assert [r.event["id"] for r in receiver.delivered()] == [evt] * 4
    with engine.connect() as conn:
        assert len(conn.execute(select(webhook_attempts)).all()) == 4  # history kept
        actions = conn.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert ("webhook.replay", evt) in [tuple(a) for a in actions]


def test_replay_one_delivery_keeps_its_place_in_order(
    engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    add_endpoint(engine, receiver.url)
    first = emit(engine, "payment.authorized", "pay_1")
    assert _deliver(engine, http) == 1
    second = emit(engine, "payment.captured", "pay_1")
    with engine.connect() as conn:
        first_delivery = conn.execute(select(webhook_deliveries.c.id)).scalars().first()
    assert first_delivery is not None
    assert replay(engine, delivery_id=first_delivery, now=NOW) == [first_delivery]
    # The replayed, earlier delivery goes first; the capture waits for it.
    assert _deliver(engine, http) == 1
    assert _deliver(engine, http) == 1
    assert [r.event["id"] for r in receiver.delivered()] == [first, first, second]


def test_in_flight_and_disabled_deliveries_are_not_requeued(
    engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    endpoint_id, _ = add_endpoint(engine, receiver.url)
    evt = emit(engine, "payment.captured", "pay_1")
    with engine.begin() as conn:
        conn.execute(
            update(webhook_deliveries).values(
                lease_owner="other", leased_until=NOW + timedelta(seconds=30)
            )
        )
        delivery_id = conn.execute(select(webhook_deliveries.c.id)).scalar_one()
    assert replay(engine, event_id=evt, now=NOW) == []
    with engine.connect() as conn:
        assert conn.execute(select(webhook_deliveries.c.lease_owner)).scalar_one() == "other"
    with engine.begin() as conn:
        disable_endpoint(conn, endpoint_id, now=NOW)
    assert replay(engine, event_id=evt, now=LATER) == []
    with pytest.raises(EndpointDisabled):
        replay(engine, delivery_id=delivery_id, now=LATER)


def test_unknown_ids_and_other_merchants(sqlite_engine: Engine, receiver: Receiver) -> None:
    add_endpoint(sqlite_engine, receiver.url)
    evt = emit(sqlite_engine, "payment.captured", "pay_1")
    with pytest.raises(EventNotFound):
        replay(sqlite_engine, event_id="evt_nope", now=NOW)
    with pytest.raises(DeliveryNotFound):
        replay(sqlite_engine, delivery_id=999_999, now=NOW)
    with pytest.raises(EventNotFound):
        replay(sqlite_engine, event_id=evt, now=NOW, merchant_id="mer_other")
    assert replay(sqlite_engine, event_id=evt, now=NOW, merchant_id=MERCHANT) != []
    with pytest.raises(ValueError, match="exactly one"):
        replay(sqlite_engine, now=NOW)
    with pytest.raises(ValueError, match="exactly one"):
        replay(sqlite_engine, event_id=evt, delivery_id=1, now=NOW)
