"""A console to drive in tests: a migrated database, merchants, keys, operators of every role,
a settable clock, and helpers that sign in through the real pages."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cardshield.config import Settings
from cardshield.crypto import Secret
from cardshield.crypto.kms import open_kms
from cardshield.gateways import get_connector
from cardshield.payments.service import PaymentService
from cardshield.runtime import Runtime
from cardshield.security import totp
from cardshield.security.operators import Operator
from cardshield.security.permissions import Role
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from cardshield.web.app import create_app
from cardshield.web.console.services import ConsoleServices
from tests.databases import postgres_database
from tests.unit.security.operator_support import FAST_HASHER, PASSWORD

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BASE_URL = "https://testserver"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """The app's clock; tests move it."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> datetime:
        self.at += timedelta(**kwargs)
        return self.at


@dataclass
class Console:
    app: FastAPI
    runtime: Runtime
    services: ConsoleServices
    clock: Clock
    merchant: str
    other_merchant: str
    seeds: dict[str, Secret[bytes]] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE_URL, raise_server_exceptions=False)

    def add_operator(
        self, username: str, role: Role | str, *, merchant: str | None = None
    ) -> Operator:
        return self.services.accounts.create(
            now=self.clock(),
            username=username,
            password=Secret(PASSWORD),
            role=role,
            merchant_id=merchant,
            actor="test",
        )

    def code(self, username: str) -> str:
        """A TOTP code for the current clock; the clock moves on a step so none repeats."""
        self.clock.advance(seconds=totp.STEP_SECONDS)
        return totp.code_at(self.seeds[username], totp.step_at(self.clock()))

    def sign_in(self, client: TestClient, username: str, password: str = PASSWORD) -> str:
        """Sign in through the pages (enrolling TOTP the first time); returns the CSRF token."""
        page = client.get("/console/login")
        assert page.status_code == 200, page.text
        posted = client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert posted.status_code == 303, posted.text
        if posted.headers["location"].startswith("/console/enroll"):
            enroll = client.get("/console/enroll")
            secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', enroll.text)
            assert secret is not None, enroll.text
            self.seeds[username] = Secret(b32decode(secret.group(1)))
            done = client.post(
                "/console/enroll",
                data={"code": self.code(username), "csrf_token": csrf_of(enroll.text)},
                follow_redirects=False,
            )
            assert done.status_code == 200 and "Recovery codes" in done.text, done.text
        else:
            form = client.get("/console/mfa")
            done = client.post(
                "/console/mfa",
                data={"code": self.code(username), "csrf_token": csrf_of(form.text)},
                follow_redirects=False,
            )
            assert done.status_code == 303, done.text
        return csrf_of(client.get("/console/account").text)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def b32decode(text: str) -> bytes:
    """The seed behind the key an enrollment page shows for manual entry."""
    return base64.b32decode(text + "=" * (-len(text) % 8))


def build_console(database_url: str, clock: Clock | None = None) -> Console:
    engine = make_engine(database_url)
    upgrade(engine)
    kms = open_kms("memory:")
    store = MemoryCVVStore()
    vault = Vault(engine, kms, store)
    sandbox = get_connector("sandbox", {"database_url": database_url, "pool_size": 2})
    payments = PaymentService(engine, vault, lambda merchant_id: (sandbox, merchant_id))
    runtime = Runtime(Settings(), engine, kms, store, vault, payments)
    clock = clock or Clock()
    merchant = vault.create_merchant("shop", now=clock())
    other = vault.create_merchant("other shop", now=clock())
    app = create_app(runtime, clock=clock)
    services = ConsoleServices.build(runtime, hasher=FAST_HASHER)
    app.state.console = services
    return Console(app, runtime, services, clock, merchant, other)


def console_fixture(*databases: str) -> Any:
    """A module-scoped console fixture over the given databases ("sqlite", "postgresql").

    Building the schema is the slow part, so one console serves a whole module: tests use
    their own usernames, and the rate limiter is cleared before each test.
    """

    @pytest.fixture(scope="module", params=list(databases or ("sqlite",)))
    def console(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Console]:
        if request.param == "sqlite":
            urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('console')}/c.db"])
        else:
            urls = postgres_database()
        c = build_console(next(urls))
        with c.client():  # runs the app's lifespan once
            yield c
        c.runtime.engine.dispose()
        for _ in urls:  # drops the PostgreSQL database
            pass

    return console
