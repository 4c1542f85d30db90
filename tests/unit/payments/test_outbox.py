from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from cardshield.crypto.kms import open_kms
from cardshield.payments.outbox import emit_event
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import events, webhook_deliveries, webhook_endpoints
from cardshield.vault import MemoryCVVStore, Vault
from tests.conftest import CANARY_PAN, assert_no_card_data

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_events_queue_deliveries_for_subscribed_endpoints_only(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    vault = Vault(engine, open_kms("memory:"), MemoryCVVStore())
    m = vault.create_merchant("shop", now=NOW)
    other = vault.create_merchant("other", now=NOW)
    with engine.begin() as conn:
        for eid, merchant, wanted, disabled in [
            ("we_all", m, ["*"], None),
            ("we_cap", m, ["payment.captured"], None),
            ("we_off", m, ["*"], NOW),
            ("we_other", other, ["*"], None),
        ]:
            conn.execute(
                webhook_endpoints.insert().values(
                    id=eid,
                    merchant_id=merchant,
                    url="https://shop.example/hook",
                    secret="whsec_x",
                    enabled_events=wanted,
                    created_at=NOW,
                    disabled_at=disabled,
                )
            )
        evt = emit_event(
            conn,
            now=NOW,
            merchant_id=m,
            type="payment.authorized",
            object_id="pay_1",
            data={"id": "pay_1", "note": f"card {CANARY_PAN}"},
        )
    with engine.connect() as conn:
        targets = (
            conn.execute(
                select(webhook_deliveries.c.endpoint_id).where(webhook_deliveries.c.event_id == evt)
            )
            .scalars()
            .all()
        )
        stored = conn.execute(select(events.c.data)).scalar_one()
    assert targets == ["we_all"]
    assert_no_card_data(repr(stored))
    # Rolled back with the change: no event, no delivery.
    try:
        with engine.begin() as conn:
            emit_event(
                conn, now=NOW, merchant_id=m, type="payment.failed", object_id="pay_2", data={}
            )
            raise RuntimeError("state change failed")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert len(conn.execute(select(events)).all()) == 1
    engine.dispose()
