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
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest

from cardshield.config import Settings
from cardshield.crypto.kms import init_kms
from cardshield.runtime import open_runtime
from cardshield.security.apikeys import create_key, revoke
from cardshield.storage import make_engine, upgrade
from tests.integration.browser.shop_pages import ShopPages, serve_shop

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"cardshield serve exited early:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"cardshield serve did not become ready:\n{log.read_text()[-2000:]}")


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
        port = _free_port()
        cardshield = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "CARDSHIELD_DATA_DIR": str(data_dir),
            "CARDSHIELD_LOG_LEVEL": "DEBUG",
            "CARDSHIELD_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            # WebAuthn binds keys to a host name: the console's is localhost.
            "CARDSHIELD_CONSOLE_URL": f"http://localhost:{port}",
        }
        # uvicorn on the app factory `cardshield serve` runs, logging at trace level: every
        # request's method, path and query string is in the log the canary check reads.
        command = [
            *(sys.executable, "-m", "uvicorn", "cardshield.web.asgi:create", "--factory"),
            *("--host", "127.0.0.1", "--log-level", "trace", "--no-access-log"),
        ]
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [*command, "--port", str(port)], env=env, stdout=sink, stderr=sink
            )
        try:
            _wait_ready(cardshield, proc, log)
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
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with open_page(browser) as page:
        yield page


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Path:
    folder = pytestconfig.rootpath / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
