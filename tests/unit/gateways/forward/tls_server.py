"""A real HTTPS server on 127.0.0.1 with a certificate for a test host name.

A throwaway CA (made with ``cryptography``) signs a certificate for ``pay.test``; clients
trust it through an SSL context built from the CA's PEM, and reach the server by mapping
the name to 127.0.0.1 in an injected resolver. The server records what it received, the
SNI name included.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cardshield.gateways.forward import StaticResolver

HOST = "pay.test"


class CountingResolver(StaticResolver):
    """A fixed name table that records every name it is asked for."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        super().__init__(table)
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        return super().resolve(host, port)


@dataclass(frozen=True)
class Certs:
    ca_pem: str
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)


def make_certs(folder: Path, host: str = HOST) -> Certs:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cardshield test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certs(ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """What the server saw; the handler's behaviour is chosen by path."""

    requests: list[Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class HttpsServer:
    def __init__(self, certs: Certs) -> None:
        self.upstream = Upstream()
        upstream = self.upstream
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(certs.cert_file, certs.key_file)

        def on_sni(sock: Any, name: str | None, ctx: Any) -> None:
            with upstream.lock:
                upstream.sni.append(name)

        server_ctx.sni_callback = on_sni

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with upstream.lock:
                    upstream.requests.append(
                        Seen(self.command, self.path, dict(self.headers.items()), body)
                    )
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", f"https://{HOST}:{self.server.server_port}/echo")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.startswith("/slow"):
                    time.sleep(2)
                if self.path.startswith("/big"):
                    payload = b"x" * 200_000
                else:
                    # Echo what arrived, the way a careless processor might.
                    payload = json.dumps(
                        {
                            "received": body.decode("utf-8", "replace"),
                            "card_header": self.headers.get("X-Card-Number"),
                            "cvc": self.headers.get("X-Card-Cvc"),
                        }
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Echo-Card", self.headers.get("X-Card-Number") or "")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = server_ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"https://{HOST}:{self.port}{path}"

    def __enter__(self) -> HttpsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
