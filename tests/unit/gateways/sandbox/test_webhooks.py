"""Sandbox webhook signatures: valid, tampered body, wrong secret, stale timestamp; delivery."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from cardshield.gateways.base import GatewayStatus, WebhookSignatureError
from cardshield.gateways.sandbox import SandboxConnector, build
from cardshield.gateways.sandbox import webhooks as wh
from cardshield.gateways.sandbox.transformers import LedgerEntry
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.gateways.sandbox.conftest import SECRET, auth

T0 = 1_790_000_000
ENTRY = LedgerEntry(
    id="sbx_ch_1",
    account="sbx_acct_shop",
    idempotency_key="k1",
    operation="sale",
    parent_id=None,
    status="succeeded",
    amount=1200,
    currency="EUR",
    card_brand="visa",
    card_last4="4242",
    decline_code=None,
    created_at=datetime(2026, 11, 26, tzinfo=UTC),
)


def test_valid_signature_verifies() -> None:
    headers, body = wh.signed(ENTRY, SECRET, now=T0)
    header = headers[wh.SIGNATURE_HEADER]
    assert header.startswith(f"t={T0},v1=")
    wh.verify(SECRET, header, body, now=T0 + 299)
    # A second v1 (the secret being rotated) is fine as long as one matches.
    wh.verify(SECRET, header.replace(",v1=", ",v1=00ff,v1="), body, now=T0)
    event = json.loads(body)
    assert event["type"] == "charge.succeeded"
    assert event["data"]["object"]["id"] == "sbx_ch_1"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h, b: (h, b.replace(b"1200", b"9200")), "does not match"),
        (lambda h, b: (wh.sign("whsec_wrong", b, T0), b), "does not match"),
        (lambda h, b: (wh.sign(SECRET, b, T0 - 301), b), "too old"),
        (lambda h, b: (wh.sign(SECRET, b, T0 + 301), b), "too old"),
        (lambda h, b: (None, b), "missing"),
        (lambda h, b: ("v1=abc", b), "malformed"),
        (lambda h, b: (f"t={T0}", b), "malformed"),
    ],
)
def test_bad_signatures_are_refused(mutate: object, message: str) -> None:
    headers, body = wh.signed(ENTRY, SECRET, now=T0)
    header, body = mutate(headers[wh.SIGNATURE_HEADER], body)  # type: ignore[operator]
    with pytest.raises(WebhookSignatureError, match=message) as info:
        wh.verify(SECRET, header, body, now=T0)
    assert info.value.code == "invalid_signature" and info.value.http_status == 400


def test_parse_webhook_checks_signature_then_maps_the_event(sandbox: SandboxConnector) -> None:
    now = int(time.time())
    headers, body = sandbox.signed_webhook(ENTRY, now=now)
    lowered = {k.lower(): v for k, v in headers.items()}
    (event,) = sandbox.parse_webhook(lowered, body, "https://cs.example/v1/hooks/sandbox")
    assert (event.connector, event.event_type) == ("sandbox", "charge.succeeded")
    assert (event.connector_reference, event.status) == ("sbx_ch_1", GatewayStatus.CAPTURED)
    with pytest.raises(WebhookSignatureError):
        sandbox.parse_webhook(headers, body + b" ", "u")
    stale_headers, stale = sandbox.signed_webhook(ENTRY, now=now - 3600)
    with pytest.raises(WebhookSignatureError, match="too old"):
        sandbox.parse_webhook(stale_headers, stale, "u")


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str | None, bytes]]] = []
    arrived: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers.get(wh.SIGNATURE_HEADER), body))
        self.send_response(200)
        self.end_headers()
        type(self).arrived.set()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    _Receiver.arrived = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


def test_the_sandbox_sends_signed_webhooks(
    sandbox: SandboxConnector, ledger_url: str, receiver: str
) -> None:
    # The fixture emptied the ledger; this sandbox also posts its webhooks to the receiver.
    sender = build({"database_url": ledger_url, "secret": SECRET, "webhook_url": receiver})
    try:
        sender.authorize(auth("hook", 4100, number=CANARY_PAN, capture=True))
        assert _Receiver.arrived.wait(10)
        header, body = _Receiver.received[0]
        wh.verify(SECRET, header, body, now=time.time())
        assert json.loads(body)["data"]["object"]["amount"] == 4100
        assert_no_card_data(body)
    finally:
        sender.close()
    assert wh.send("http://127.0.0.1:9/nothing", {}, b"{}", timeout=1) == 0


def test_only_http_urls_are_opened(tmp_path) -> None:
    # urllib would read (and, for some handlers, write) a file: URL; a webhook never goes there.
    target = tmp_path / "secret.txt"
    target.write_text("not for webhooks")
    assert wh.send(target.as_uri(), {}, b"{}", timeout=1) == 0
    assert wh.send("ftp://127.0.0.1:9/x", {}, b"{}", timeout=1) == 0
