"""What a failed webhook delivery tells the merchant: that it failed, not how the service's
own name resolution answered. A name that does not resolve, one that resolves to an
internal address and a closed port read the same in the delivery log and the console; the
detail is in the server's log only."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from cardshield.gateways.forward.ssrf import StaticResolver
from cardshield.payments.outbox import emit_event
from cardshield.payments.webhooks import create_endpoint
from cardshield.payments.webhooks.delivery import deliver_due
from cardshield.payments.webhooks.transport import PinnedTransport
from cardshield.security.permissions import Role
from cardshield.storage.schema import webhook_attempts, webhook_deliveries
from cardshield.web.console.pages.webhooks import LOG_SIZE
from tests.unit.web.console.support import Console, build_console

GENERIC = "delivery failed: destination refused or unreachable"  # UNREACHABLE, spelled out
HOSTS = {
    "inside.merchant.test": ["10.1.2.3"],  # an internal address
    "meta.merchant.test": ["169.254.169.254"],  # the metadata service
    "refused.merchant.test": ["127.0.0.1"],  # loopback allowed below: a closed port
}


@pytest.fixture
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    c = build_console(f"sqlite:///{tmp_path_factory.mktemp('hooks')}/c.db")
    with c.client():
        yield c
    c.engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_delivery_errors_do_not_reveal_name_resolution(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    c = console
    urls = [
        "https://inside.merchant.test/hook",
        "https://meta.merchant.test/hook",
        "https://nowhere.merchant.test/hook",  # does not resolve
        f"https://refused.merchant.test:{_closed_port()}/hook",
    ]
    with c.engine.begin() as conn:
        for url in urls:
            create_endpoint(
                conn, merchant_id=c.merchant, url=url, enabled_events=("*",), now=c.clock()
            )
    with c.engine.begin() as conn:
        emit_event(
            conn, now=c.clock(), merchant_id=c.merchant, type="payment.created",
            object_id="pay_1", data={"id": "pay_1"},
        )  # fmt: skip
    transport = PinnedTransport(
        resolver=StaticResolver(HOSTS), allow_loopback=True, trust_env=False
    )
    caplog.set_level(logging.INFO)
    with httpx.Client(transport=transport) as http:
        assert deliver_due(c.engine, now=c.clock(), owner="w1", http=http) == len(urls)
    with c.engine.connect() as conn:
        last = set(conn.execute(select(webhook_deliveries.c.last_error)).scalars())
        attempts = set(conn.execute(select(webhook_attempts.c.error)).scalars())
    assert last == {GENERIC} and attempts == {GENERIC}

    c.add_operator("hooks", Role.DEVELOPER)
    client = c.client()
    c.sign_in(client, "hooks")
    page = client.get(f"/console/webhooks?merchant={c.merchant}")
    assert page.status_code == 200 and len(urls) <= LOG_SIZE
    assert page.text.count(GENERIC) == len(urls)
    for telling in ("internal address", "resolve", "ConnectError", "Errno", "10.1.2.3", "169.254"):
        assert telling not in page.text
    # The operator's log keeps what happened, one line per attempt.
    details = [r.getMessage() for r in caplog.records if "webhook.attempt" in r.getMessage()]
    assert len(details) == len(urls)
    text = "\n".join(details)
    assert "internal address" in text and "does not resolve" in text
