"""Webhook HTTP connects only to checked addresses: against a real HTTPS server on
127.0.0.1 with a certificate for a test name, and the delivery worker on top."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from cardshield.gateways.forward import StaticResolver
from cardshield.payments.webhooks import deliver_due
from cardshield.payments.webhooks.delivery import UNREACHABLE
from cardshield.payments.webhooks.endpoints import create_endpoint
from cardshield.payments.webhooks.transport import PinnedTransport
from cardshield.storage.schema import webhook_attempts
from tests.unit.gateways.forward.tls_server import (
    HOST,
    Certs,
    CountingResolver,
    HttpsServer,
    make_certs,
)
from tests.unit.payments.webhooks.conftest import MERCHANT, NOW, emit
from tests.unit.payments.webhooks.receiver import Receiver


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"), HOST)


@pytest.fixture
def server(certs: Certs) -> Iterator[HttpsServer]:
    with HttpsServer(certs) as running:
        yield running


def _client(
    certs: Certs, table: dict[str, list[str]], loopback: bool, trust_env: bool = False
) -> httpx.Client:
    # The environment's proxy settings are ignored except where a test sets them.
    transport = PinnedTransport(
        resolver=StaticResolver(table),
        allow_loopback=loopback,
        ssl_context=certs.client_context(),
        trust_env=trust_env,
    )
    return httpx.Client(transport=transport)


def test_https_to_the_checked_address_with_the_name_kept(server: HttpsServer, certs: Certs) -> None:
    resolver = CountingResolver({HOST: ["127.0.0.1"]})
    transport = PinnedTransport(
        resolver=resolver, allow_loopback=True, ssl_context=certs.client_context(), trust_env=False
    )
    with httpx.Client(transport=transport) as client:
        for _ in range(2):
            response = client.post(f"https://{HOST}:{server.port}/echo", content=b'{"a":1}')
            assert response.status_code == 200 and response.json()["received"] == '{"a":1}'
    assert resolver.calls == [HOST, HOST], "every request resolves and checks the name again"
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
    with httpx.Client(transport=PinnedTransport(resolver=resolver, trust_env=False)) as http:
        assert deliver_due(engine, now=NOW, owner="w1", http=http) == 1
    with engine.connect() as conn:
        attempt = conn.execute(select(webhook_attempts)).one()._mapping
    assert attempt["status_code"] is None
    assert attempt["error"] == UNREACHABLE  # not "internal address": that is for the log
    assert receiver.all() == []


class _RefusingProxy:
    """A stand-in egress proxy on 127.0.0.1: records each request line, answers 403."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.lines.append(head.split(b"\r\n", 1)[0].decode())
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


def test_behind_an_environment_proxy_the_proxy_connects_after_the_check(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = _RefusingProxy()
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        public = {"hooks.merchant.test": ["93.184.216.34"]}
        client = _client(certs, public, loopback=False, trust_env=True)
        with client, pytest.raises(httpx.ProxyError):
            client.post("https://hooks.merchant.test/cardshield", content=b"{}")
        assert proxy.lines == ["CONNECT hooks.merchant.test:443 HTTP/1.1"]
        inside = {"hooks.merchant.test": ["10.0.0.7"]}
        with (
            _client(certs, inside, loopback=False, trust_env=True) as client,
            pytest.raises(httpx.ConnectError, match="internal address"),
        ):
            client.post("https://hooks.merchant.test/cardshield", content=b"{}")
        assert len(proxy.lines) == 1, "a refused name never reaches the proxy"
    finally:
        proxy.close()


def test_the_checked_addresses_are_tried_in_turn(server: HttpsServer, certs: Certs) -> None:
    # Like "localhost" (::1 and 127.0.0.1) with a server on one of them: 127.0.0.2 refuses.
    with _client(certs, {HOST: ["127.0.0.2", "127.0.0.1"]}, loopback=True) as client:
        response = client.post(f"https://{HOST}:{server.port}/echo", content=b"{}")
    assert response.status_code == 200


def test_by_default_certificates_are_checked_against_httpx_s_trust_store(
    server: HttpsServer,
) -> None:
    # No context given: the test CA is unknown, so the handshake is refused.
    transport = PinnedTransport(
        resolver=StaticResolver({HOST: ["127.0.0.1"]}), allow_loopback=True, trust_env=False
    )
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.post(f"https://{HOST}:{server.port}/echo", content=b"{}")
    assert server.upstream.requests == []
