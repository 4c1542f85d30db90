"""A real stack for the browser tests: ``cardshield serve`` in its own process on one loopback
origin, a shop's pages on another, and Debian's Chromium driven by Playwright.

Never a downloaded browser: the ``chromium`` binary from the Debian package (see the
Makefile's DEBIAN_PACKAGES). Under CI (CI=true) a missing browser or Playwright fails the
tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pyotp
import pytest

from cardshield.config import Settings
from cardshield.crypto.kms import init_kms
from cardshield.runtime import open_runtime
from cardshield.security.apikeys import create_key, revoke
from cardshield.storage import make_engine, upgrade
from tests.integration.browser.shop_pages import ShopPages, serve_shop
from tests.servers import free_port, traced_app

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


def missing(what: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI", pytrace=False)
    pytest.skip(f"{what} is not available")


@dataclass(frozen=True)
class Stack:
    cardshield: str  # http://127.0.0.1:P1
    console: str  # http://localhost:P1: the same server under a host name (security keys)
    shop: str  # http://localhost:P2, on the key's allow-list
    other: str  # http://127.0.0.1:P2, a different origin, not on it
    publishable: str
    secret: str
    log: Path
    database: Path
    merchant: str
    spare_key: tuple[str, str]  # (id, key): a second publishable key a test may revoke

    def revoke_spare_key(self) -> None:
        engine = make_engine(f"sqlite:///{self.database}")
        try:
            with engine.begin() as conn:
                revoke(
                    conn, now=datetime.now(UTC), merchant_id=self.merchant, key_id=self.spare_key[0]
                )
        finally:
            engine.dispose()

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            self.cardshield + path, headers={"Authorization": f"Bearer {self.secret}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            return json.loads(resp.read())


@dataclass(frozen=True)
class Provisioned:
    merchant: str
    publishable: str
    secret: str
    spare_key: tuple[str, str]


def _provision(data_dir: Path, shop_origin: str) -> Provisioned:
    """Keys, schema and a merchant with publishable keys for the shop's origin."""
    settings = Settings(data_dir=data_dir)
    init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    runtime = open_runtime(settings)
    try:
        now = datetime.now(UTC)
        merchant = runtime.vault.create_merchant("browser test shop", now=now)
        with runtime.engine.begin() as conn:
            pk, spare = (
                create_key(
                    conn,
                    now=now,
                    merchant_id=merchant,
                    kind="publishable",
                    scopes=["tokens:create"],
                    allowed_origins=[shop_origin],
                )
                for _ in range(2)
            )
            sk = create_key(
                conn, now=now, merchant_id=merchant, kind="secret", scopes=["tokens:read"]
            )
    finally:
        runtime.close()
    return Provisioned(
        merchant, pk.key.reveal(), sk.key.reveal(), (spare.info.id, spare.key.reveal())
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("cardshield")
    log = data_dir / "server.log"
    with serve_shop() as (shop_server, shop_port):
        shop = f"http://localhost:{shop_port}"
        keys = _provision(data_dir, shop)
        port = free_port()
        env = {
            **os.environ,
            "CARDSHIELD_DATA_DIR": str(data_dir),
            "CARDSHIELD_LOG_LEVEL": "DEBUG",
            "CARDSHIELD_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            # WebAuthn binds keys to a host name: the console's is localhost.
            "CARDSHIELD_CONSOLE_URL": f"http://localhost:{port}",
        }
        with traced_app(env, log, port, "--no-access-log") as cardshield:
            with urllib.request.urlopen(cardshield + "/elements/v1/sri.json") as resp:
                integrity = json.loads(resp.read())["cardshield.js"]
            pages = ShopPages(cardshield, keys.publishable, integrity, shop)
            shop_server.pages = pages  # type: ignore[attr-defined]
            yield Stack(
                cardshield=cardshield,
                console=f"http://localhost:{port}",
                shop=shop,
                other=f"http://127.0.0.1:{shop_port}",
                publishable=keys.publishable,
                secret=keys.secret,
                log=log,
                database=data_dir / "vault.db",
                merchant=keys.merchant,
                spare_key=keys.spare_key,
            )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        missing("Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Any, width: int = 640, height: int = 480) -> Iterator[Any]:
    """A page in a fresh browser context, closed afterwards."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        # Generous: these waits check what happens, not how fast. A payment behind a click
        # is a dozen database commits and a processor call, and a 2-core CI machine runs
        # the chaos and multi-node tests beside it (a 10 s limit ran out there once).
        page.set_default_timeout(30_000)
        yield page
    finally:
        context.close()


def sign_in_and_enroll(page: Any, base: str, username: str, password: str) -> None:
    """Sign in for the first time at ``base``, enrolling TOTP from the key on the page."""
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/enroll**")
    key = page.locator("#totp-secret").inner_text().strip()
    page.fill("input[name=code]", pyotp.TOTP(key).now())
    page.click("button[type=submit]")
    page.click("text=Continue")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with open_page(browser) as page:
        yield page


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Path:
    folder = pytestconfig.rootpath / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
