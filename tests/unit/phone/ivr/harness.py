"""A phone test world: the app over a migrated database, the sandbox processor, Twilio
settings, a local stand-in for Twilio's Recordings API, and signed webhook posts."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from cardshield.config import Settings
from cardshield.crypto.kms import open_kms
from cardshield.gateways import get_connector
from cardshield.payments.service import PaymentService
from cardshield.phone.twilio_signature import sign
from cardshield.runtime import Runtime
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from cardshield.web.app import create_app

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
ACCOUNT_SID = "AC" + "0" * 32
BASE = "http://testserver"


class FakeRecordings:
    """Twilio's Recordings API on 127.0.0.1: records every update it is sent, in order."""

    def __init__(self, timeline: list[tuple[str, str]]) -> None:
        self.timeline = timeline
        self.updates: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                outer.updates.append((self.path, form))
                outer.timeline.append(("recording", form.get("Status", "")))
                body = json.dumps({"sid": "RE" + "1" * 32, "status": form.get("Status")})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Phone:
    client: TestClient
    runtime: Runtime
    merchant: str
    recordings: FakeRecordings
    database_url: str
    timeline: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None) -> Response:
        url = BASE + path
        sig = sign(AUTH_TOKEN, url, params) if signature is None else signature
        self.timeline.append(("webhook", path))
        response = self.client.post(path, data=params, headers={"X-Twilio-Signature": sig})
        self.bodies.append(response.text)
        return response

    def key(self, call: str, step: str, digits: str) -> Response:
        return self.post(f"/phone/twilio/ivr/{step}", {"CallSid": call, "Digits": digits})


def phone_world(
    database_url: str, caplog: pytest.LogCaptureFixture, **settings: Any
) -> Iterator[Phone]:
    caplog.set_level(logging.DEBUG)
    timeline: list[tuple[str, str]] = []
    fake = FakeRecordings(timeline)
    engine = make_engine(database_url)
    upgrade(engine)
    kms = open_kms("memory:")
    store = MemoryCVVStore()
    vault = Vault(engine, kms, store)
    connector = get_connector("sandbox", {"database_url": database_url, "secret": "whsec_x"})
    payments = PaymentService(engine, vault, lambda merchant_id: (connector, merchant_id))
    merchant = vault.create_merchant("phone shop", now=NOW)
    config = Settings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=fake.url,
        phone_merchant_id=merchant,
        phone_amount=1050,
        phone_currency="EUR",
        **settings,
    )
    runtime = Runtime(config, engine, kms, store, vault, payments)
    app = create_app(runtime, clock=lambda: NOW)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Phone(client, runtime, merchant, fake, database_url, timeline)
    finally:
        fake.close()
        engine.dispose()
