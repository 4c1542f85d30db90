from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, select

from cardshield.client import verify_webhook
from cardshield.payments.webhooks import (
    check_url,
    create_endpoint,
    deliver_due,
    disable_endpoint,
    get_endpoint,
    list_endpoints,
    roll_secret,
)
from cardshield.payments.webhooks.endpoints import check_event_types
from cardshield.payments.webhooks.errors import (
    EndpointDisabled,
    EndpointNotFound,
    EventTypesInvalid,
    WebhookUrlInsecure,
    WebhookUrlInvalid,
)
from cardshield.storage.schema import audit_log, webhook_deliveries
from cardshield.vault.errors import MerchantNotFound
from tests.unit.payments.webhooks.conftest import MERCHANT, NOW, add_endpoint, emit
from tests.unit.payments.webhooks.receiver import Receiver


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/hooks/cardshield",
        "https://shop.example:8443/h?x=1",
        "https://93.184.216.34/hook",  # a public address is allowed for webhooks
    ],
)
def test_good_urls(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://shop.example/hook", WebhookUrlInsecure),
        ("http://127.0.0.1:8000/hook", WebhookUrlInsecure),  # needs allow_http_loopback
        ("https://10.0.0.5/hook", WebhookUrlInsecure),
        ("https://169.254.169.254/latest", WebhookUrlInsecure),
        ("https://[::1]/hook", WebhookUrlInsecure),
        ("https://2130706433/hook", WebhookUrlInsecure),
        ("https://0x7f.1/hook", WebhookUrlInsecure),
        ("ftp://shop.example/hook", WebhookUrlInvalid),
        ("shop.example/hook", WebhookUrlInvalid),
        ("https://user:pw@shop.example/hook", WebhookUrlInvalid),
        ("https://shop.example/hook#frag", WebhookUrlInvalid),
        ("https://shop.example:99999/hook", WebhookUrlInvalid),
        ("https://shop.example/a b", WebhookUrlInvalid),
        ("https://shop.example\\@evil.example/", WebhookUrlInvalid),
        ("", WebhookUrlInvalid),
    ],
)
def test_bad_urls(url: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_url(url)


def test_loopback_http_only_with_the_option() -> None:
    for url in ("http://127.0.0.1:8000/h", "http://localhost/h", "http://[::1]:9/h"):
        assert check_url(url, allow_http_loopback=True) == url
    with pytest.raises(WebhookUrlInsecure):
        check_url("http://shop.example/h", allow_http_loopback=True)
    with pytest.raises(WebhookUrlInsecure):
        check_url("http://10.1.2.3/h", allow_http_loopback=True)


def test_create_list_get_disable(engine: Engine) -> None:
    with engine.begin() as conn:
        created = create_endpoint(
            conn,
            merchant_id=MERCHANT,
            url="https://shop.example/hook",
            enabled_events=["payment.captured", "payment.captured", "payment.refunded"],
            now=NOW,
        )
    secret = created.secret.reveal()
    assert secret.startswith("whsec_") and secret not in repr(created)
    assert created.endpoint.enabled_events == ("payment.captured", "payment.refunded")
    with engine.begin() as conn:
        listed = list_endpoints(conn, merchant_id=MERCHANT)
        assert listed == [created.endpoint]
        assert list_endpoints(conn, merchant_id="mer_other") == []
        with pytest.raises(EndpointNotFound):
            get_endpoint(conn, created.endpoint.id, merchant_id="mer_other")
    emit(engine, "payment.captured", "pay_1")
    with engine.begin() as conn:
        assert disable_endpoint(conn, created.endpoint.id, now=NOW) == 1
        assert disable_endpoint(conn, created.endpoint.id, now=NOW) == 0
        assert not get_endpoint(conn, created.endpoint.id).enabled
        status = conn.execute(select(webhook_deliveries.c.status)).scalar_one()
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars()
        assert list(actions) == ["webhook.endpoint.create", "webhook.endpoint.disable"]
    assert status == "failed"
    emit(engine, "payment.captured", "pay_2")  # a disabled endpoint gets nothing new
    with engine.connect() as conn:
        assert conn.execute(select(webhook_deliveries)).all()[-1].object_id == "pay_1"


@pytest.mark.parametrize("events", [[], [""], ["payment"], ["Payment.Captured"], ["a.b c"]])
def test_bad_event_types(events: list[str]) -> None:
    with pytest.raises(EventTypesInvalid):
        check_event_types(events)
    assert check_event_types(["payment.captured", "*"]) == ["*"]


def test_unknown_merchant(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn, pytest.raises(MerchantNotFound):
        create_endpoint(
            conn, merchant_id="mer_none", url="https://s.example/h", enabled_events=["*"], now=NOW
        )


def test_rolled_secret_signs_with_both_until_the_old_one_expires(
    engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    endpoint_id, old = add_endpoint(engine, receiver.url)
    with engine.begin() as conn:
        new = roll_secret(conn, endpoint_id, now=NOW).reveal()
    assert new != old
    emit(engine, "payment.captured", "pay_1")
    deliver_due(engine, now=NOW, owner="w", http=http, allow_http_loopback=True)
    later = NOW.replace(day=28)  # past the 24 h overlap
    emit(engine, "payment.refunded", "pay_1")
    deliver_due(engine, now=later, owner="w", http=http, allow_http_loopback=True)
    first, second = receiver.all()
    assert first.signature is not None and first.signature.count("v1=") == 2
    for secret in (old, new):
        verify_webhook(first.body, first.signature, secret, now=NOW)
    assert second.signature is not None and second.signature.count("v1=") == 1
    verify_webhook(second.body, second.signature, new, now=later)
    with engine.begin() as conn:
        disable_endpoint(conn, endpoint_id, now=NOW)
        with pytest.raises(EndpointDisabled):
            roll_secret(conn, endpoint_id, now=NOW)
