"""Webhook HTTP connects only to checked addresses: against a real HTTPS server on
127.0.0.1 with a certificate for a test name, and the delivery worker on top."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from cardshield.gateways.forward import StaticResolver
from cardshield.payments.webhooks import deliver_due
from cardshield.payments.webhooks.endpoints import create_endpoint
from cardshield.payments.webhooks.transport import PinnedTransport
from cardshield.storage.schema import webhook_attempts
from tests.unit.gateways.forward.tls_server import HOST, Certs, HttpsServer, make_certs
from tests.unit.payments.webhooks.conftest import MERCHANT, NOW, emit
from tests.unit.payments.webhooks.receiver import Receiver


class CountingResolver(StaticResolver):
    def __init__(self, table: dict[str, list[str]]) -> None:
        super().__init__(table)
        self.calls = 0

    def resolve(self, host: str, port: int) -> Sequence[str]:
        self.calls += 1
        return super().resolve(host, port)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"), HOST)


@pytest.fixture
def server(certs: Certs) -> Iterator[HttpsServer]:
    with HttpsServer(certs) as running:
        yield running


def _client(certs: Certs, table: dict[str, list[str]], loopback: bool) -> httpx.Client:
    transport = PinnedTransport(
        resolver=StaticResolver(table), allow_loopback=loopback, ssl_context=certs.client_context()
    )
    return httpx.Client(transport=transport)


def test_https_to_the_checked_address_with_the_name_kept(server: HttpsServer, certs: Certs) -> None:
    resolver = CountingResolver({HOST: ["127.0.0.1"]})
    transport = PinnedTransport(
        resolver=resolver, allow_loopback=True, ssl_context=certs.client_context()
    )
    with httpx.Client(transport=transport) as client:
        for _ in range(2):
            response = client.post(f"https://{HOST}:{server.port}/echo", content=b'{"a":1}')
            assert response.status_code == 200 and response.json()["received"] == '{"a":1}'
    assert resolver.calls == 2, "every request resolves and checks the name again"
    seen = server.upstream.requests[-1]
    assert (seen.method, seen.headers["Host"]) == ("POST", f"{HOST}:{server.port}")
    assert server.upstream.sni[-1] == HOST  # TLS verified the name, not the address


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["93.184.216.34", "127.0.0.1"],  # one public, one inside: a rebinding set-up
        ["::ffff:10.0.0.1"],
    ],
)
def test_names_resolving_inside_are_refused(
    server: HttpsServer, certs: Certs, addresses: list[str]
) -> None:
    with (
        _client(certs, {HOST: addresses}, loopback=False) as client,
        pytest.raises(httpx.ConnectError, match="internal address"),
    ):
        client.post(f"https://{HOST}:{server.port}/echo", content=b"{}")
    assert server.upstream.requests == []


def test_loopback_needs_the_demo_switch(server: HttpsServer, certs: Certs) -> None:
    with (
        _client(certs, {HOST: ["127.0.0.1"]}, loopback=False) as client,
        pytest.raises(httpx.ConnectError, match="internal address"),
    ):
        client.post(f"https://{HOST}:{server.port}/echo", content=b"{}")
    with (
        _client(certs, {}, loopback=False) as client,
        pytest.raises(httpx.ConnectError, match="does not resolve"),
    ):
        client.post(f"https://nowhere.test:{server.port}/echo", content=b"{}")
    assert server.upstream.requests == []


def test_transport_failures_are_httpx_errors(certs: Certs, tmp_path: Path) -> None:
    # A certificate for another name: the TLS check fails, as a connect error.
    other = make_certs(tmp_path, "other.test")
    with (
        HttpsServer(other) as wrong,
        _client(certs, {HOST: ["127.0.0.1"]}, loopback=True) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.post(f"https://{HOST}:{wrong.port}/echo", content=b"{}")
    with _client(certs, {}, loopback=True) as client, pytest.raises(httpx.ConnectError):
        client.post("http://127.0.0.1:9/closed", content=b"{}")  # nothing listens on port 9


def test_a_delivery_to_a_name_resolving_inside_fails_without_a_connection(
    engine: Engine, receiver: Receiver
) -> None:
    # The endpoint passed its check when added (a name is not an address); at send time it
    # resolves to the metadata service.
    with engine.begin() as conn:
        create_endpoint(
            conn,
            merchant_id=MERCHANT,
            url="https://hooks.merchant.test/cardshield",
            enabled_events=("*",),
            now=NOW,
        )
    emit(engine, "payment.created", "pay_1")
    resolver = StaticResolver({"hooks.merchant.test": ["169.254.169.254"]})
    with httpx.Client(transport=PinnedTransport(resolver=resolver)) as http:
        assert deliver_due(engine, now=NOW, owner="w1", http=http) == 1
    with engine.connect() as conn:
        attempt = conn.execute(select(webhook_attempts)).one()._mapping
    assert attempt["status_code"] is None
    assert "internal address" in attempt["error"]
    assert receiver.all() == []
