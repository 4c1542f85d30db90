"""Phone payment end to end on PostgreSQL: a caller pays through the secure IVR (signed
Twilio webhooks, recording paused through the stand-in Recordings API), the card becomes a
single-use token, the sandbox charges it, the merchant's webhook endpoint receives the
payment event; then the canary PAN and CVV are looked for everywhere outside the vault:
every row of every table, the logs, the TwiML, the Recordings API traffic and the merchant
webhook bodies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from cardshield.payments.webhooks import create_endpoint
from cardshield.payments.webhooks.delivery import deliver_due
from cardshield.phone.calls import phone_calls
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.databases import postgres_database
from tests.unit.phone.ivr.harness import NOW, Phone, phone_world
from tests.unit.phone.ivr.test_ivr_webhooks import pay, said

pytestmark = [pytest.mark.integration]


class Receiver:
    """The merchant's webhook endpoint on 127.0.0.1."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def phone(caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    for url in postgres_database():
        yield from phone_world(url, caplog, allow_http_loopback_webhooks=True)


def test_ivr_payment_reaches_the_merchant_and_card_data_stays_in_the_vault(
    phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    try:
        with phone.runtime.engine.begin() as conn:
            create_endpoint(
                conn,
                merchant_id=phone.merchant,
                url=receiver.url,
                enabled_events=["*"],
                now=NOW,
                allow_http_loopback=True,
            )
        call = "CA" + "1" * 32
        assert "approved" in said(pay(phone, call))
        with httpx.Client() as http:
            while deliver_due(
                phone.runtime.engine, now=NOW, owner="e2e", http=http, allow_http_loopback=True
            ):
                pass
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    with phone.runtime.engine.connect() as conn:
        row = conn.execute(select(phone_calls).where(phone_calls.c.call_sid == call)).one()
    delivered = b"".join(receiver.bodies).decode()
    assert row.payment_id and row.payment_id in delivered
    assert "4242" in delivered  # last four, as every payment event carries
    # Every row of every table, as text: no PAN anywhere outside the vault's ciphertext.
    metadata = MetaData()
    metadata.reflect(phone.runtime.engine)
    dump: list[str] = []
    with phone.runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            dump.extend(repr(tuple(r)) for r in conn.execute(table.select()))
    assert len(dump) > 10
    assert_no_card_data("\n".join(dump))
    outputs = [
        *phone.bodies,
        caplog.text,
        repr(phone.recordings.updates),
        delivered,
        repr(tuple(row)),
    ]
    for text in outputs:
        assert_no_card_data(text)
        assert_no_cvv(text.replace("\n", " ").replace(NOW.isoformat(), ""), CANARY_CVV)
    assert CANARY_PAN[-4:] == row.last4
